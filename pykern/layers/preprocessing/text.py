"""TextVectorization (Keras 3's arguments, config, vocabulary and outputs).

Text is host data: the layer standardizes, splits and forms n-grams of NumPy
string/object arrays or lists of strings on the host exactly as Keras' TensorFlow
ops do (ASCII lower-casing, Keras' punctuation class, whitespace split, n-grams
joined by a space), then looks the tokens up with a StringLookup (mask '' at 0,
'[UNK]' at 1) and returns tensors: int64 (B, T) index rows padded with 0, or
float32 (B, vocabulary) one_hot/multi_hot/count/tf_idf vectors.

Differences from Keras on TensorFlow: a callable `standardize` receives a NumPy
object array of str (Keras' non-TensorFlow backends do the same) and a callable
`split` gets that array and returns one list of tokens per string; split
'character' splits into Unicode characters; ragged and sparse outputs are not
available.
"""
import numpy as np

from pykern import ops
from pykern.layers.layer import Layer
from pykern.layers.preprocessing.categorical import StringLookup, _as_text_array, _listify
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["TextVectorization"]

# Keras' regex class [!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\'] (",-\." is the range , - .)
_PUNCTUATION = str.maketrans("", "", "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_SPLIT = ("whitespace", "character")


def _check_choice(where, name, value, allowed):
    if value is None or callable(value) or value in allowed:
        return
    raise ValueError(f"{where}: `{name}` must be one of {allowed}, None or a callable, got "
                     f"{name}={value!r}")


def _ngrams(tokens, widths):
    """tf.strings.ngrams(tokens, widths, separator=' '): all n-grams of each width in
    turn (none of a width longer than the sequence)."""
    return [" ".join(tokens[i:i + n]) for n in widths for i in range(len(tokens) - n + 1)]


class TextVectorization(Layer):
    """Strings to token indices (output_mode 'int') or to one_hot / multi_hot / count /
    tf_idf vectors over a vocabulary given or learnt by adapt()."""

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", name=None, **kwargs):
        has_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        super().__init__(name=name, **kwargs)
        where = self._where
        _check_choice(where, "standardize", standardize, _STANDARDIZE)
        _check_choice(where, "split", split, _SPLIT)
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool)) or
                (isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams))):
            raise ValueError(f"{where}: `ngrams` must be None, an integer or a tuple of "
                             f"integers, got ngrams={ngrams!r}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(
                output_sequence_length, int)):
            raise ValueError(f"{where}: `output_sequence_length` must be None or an integer, "
                             f"got output_sequence_length={output_sequence_length!r}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"{where}: output_sequence_length must not be set when "
                             f"output_mode is {output_mode!r}, got "
                             f"output_sequence_length={output_sequence_length!r}")
        if ragged or sparse:
            raise ValueError(f"{where}: ragged and sparse outputs are not supported (pykern "
                             f"tensors are dense), got ragged={ragged!r}, sparse={sparse!r}")
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=has_vocabulary, encoding=encoding,
            vocabulary_size=vocabulary_size)

    @property
    def _where(self):
        return f"TextVectorization {self.name!r}"

    # --- text on the host -------------------------------------------------------------------
    def _standardized(self, texts):
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            texts = np.array([t.translate(_ASCII_LOWER) for t in texts.ravel()],
                             dtype=object).reshape(texts.shape)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = np.array([t.translate(_PUNCTUATION) for t in texts.ravel()],
                             dtype=object).reshape(texts.shape)
        if callable(self._standardize):
            texts = np.asarray(self._standardize(texts), dtype=object)
        return texts

    def _rows(self, inputs):
        """The inputs as one list of tokens per string (rows of the batch)."""
        texts = _as_text_array(ops.convert_to_numpy(inputs) if not isinstance(
            inputs, (list, tuple, np.ndarray)) else inputs, self._encoding)
        texts = self._standardized(texts)
        if self._split is None:
            rows = [list(np.atleast_1d(r)) for r in (texts if texts.ndim > 1 else
                                                      texts.reshape(-1, 1))]
        else:
            if texts.ndim > 1:
                if texts.shape[-1] != 1:
                    raise ValueError(f"{self._where}: to split strings the input must have rank "
                                     f"1 or a last dimension of 1, got shape {texts.shape}")
                texts = texts[..., 0]
            texts = np.atleast_1d(texts)
            if self._split == "whitespace":
                rows = [t.split() for t in texts]
            elif self._split == "character":
                rows = [list(t) for t in texts]
            else:
                rows = [list(r) for r in self._split(texts)]
        if self._ngrams is not None:
            rows = [_ngrams(r, self._ngrams) for r in rows]
        return rows

    # --- vocabulary ---------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None):
        """Learns the vocabulary (and idf weights) from strings: an array or list (one
        batch) or an iterable of batches."""
        lookup = self._lookup_layer
        lookup._reset_counts()
        if isinstance(data, (np.ndarray, list, tuple)):
            lookup.update_state(self._rows(np.asarray(data, dtype=object)))
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                lookup.update_state(self._rows(batch))
        lookup.finalize_state()

    def get_vocabulary(self, include_special_tokens=True):
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # --- call ----------------------------------------------------------------------------------
    def call(self, inputs):
        rows = self._rows(inputs)
        lookup = self._lookup_layer
        if self._output_mode == "int":
            length = self._output_sequence_length
            if length is None:
                length = max((len(r) for r in rows), default=0)
            out = np.zeros((len(rows), length), dtype=np.int64)
            for i, r in enumerate(rows):
                r = r[:length]
                if r:
                    out[i, :len(r)] = lookup.lookup_strings(np.array(r, dtype=object))
            return ops.convert_to_tensor(out)
        width = max((len(r) for r in rows), default=0)
        tokens = np.full((len(rows), width), "", dtype=object)  # '' is the mask: not counted
        for i, r in enumerate(rows):
            tokens[i, :len(r)] = r
        return lookup._encode(ops.convert_to_tensor(lookup.lookup_strings(tokens)))

    def compute_output_shape(self, input_shape):
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        depth = self._lookup_layer._depth()
        return (input_shape[0], depth)

    def get_config(self):
        lookup = self._lookup_layer
        config = {"max_tokens": lookup.max_tokens,
                  "standardize": self._standardize if not callable(self._standardize) else
                  serialize_keras_object(self._standardize),
                  "split": self._split if not callable(self._split) else
                  serialize_keras_object(self._split),
                  "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                  "output_sequence_length": self._output_sequence_length,
                  "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False,
                  "ragged": False, "vocabulary": _listify(lookup.input_vocabulary),
                  "idf_weights": _listify(lookup.input_idf_weights),
                  "encoding": self._encoding, "vocabulary_size": self.vocabulary_size()}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("standardize", "split"):
            if config.get(key) is not None and not isinstance(config[key], str):
                config[key] = deserialize_keras_object(config[key])
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)
