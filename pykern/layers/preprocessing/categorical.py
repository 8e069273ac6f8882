"""Categorical preprocessing layers (Keras 3's CategoryEncoding, Discretization,
Hashing, IntegerLookup and StringLookup) with Keras' arguments, configs,
vocabulary order and OOV/mask indices.

Strings are host data: StringLookup, Hashing and TextVectorization take NumPy
string/object arrays or lists of strings (as Keras accepts Python lists) and
map them on the host; their outputs are tensors (an inverted StringLookup gives
back a NumPy array of strings: pykern tensors hold numbers). Integer inputs
that are tensors are looked up on their device (pykern.ops.lookup); the
encodings (one_hot, multi_hot, count, tf_idf) are pykern.ops.

Hashing matches Keras on TensorFlow bit for bit: FarmHash Fingerprint64 (from
the pyfarmhash package, extra `pykern[hashing]`) without a salt, SipHash-2-4
keyed by the salt (TensorFlow's to_hash_bucket_strong) with one.
"""
import collections
import numbers

import numpy as np

from pykern import ops
from pykern.backend.tensor import Tensor
from pykern.layers.layer import _DTYPE_POLICY, Layer
from pykern.ops.lookup import lookup

__all__ = ["CategoryEncoding", "Discretization", "Hashing", "IntegerLookup", "StringLookup",
           "encode_categorical", "fingerprint64", "siphash24"]

_ENCODINGS = ("int", "one_hot", "multi_hot", "count")
_INT64_MAX = np.iinfo(np.int64).max
_M64 = (1 << 64) - 1


def _dtype_policy(name):
    return {**_DTYPE_POLICY, "config": {"name": name}}


def _output_mode(where, mode, allowed):
    mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(mode, mode)
    if mode not in allowed:
        raise ValueError(f"{where}: `output_mode` must be one of {allowed}, got "
                         f"output_mode={mode!r}")
    return mode


def _no_sparse(where, sparse):
    if sparse:
        raise ValueError(f"{where}: sparse=True is not supported (pykern has no sparse "
                         f"tensors)")


def encode_categorical(indices, output_mode, depth, count_weights=None):
    """Keras' encode_categorical_inputs on integer indices: one_hot adds a depth axis
    (replacing a trailing axis of size 1), multi_hot/count reduce the last axis (a
    rank-1 input is one sample) into depth bins; indices outside [0, depth) count
    nowhere. float32 results; 'int' returns the indices."""
    x = indices if isinstance(indices, Tensor) else ops.convert_to_tensor(indices)
    if output_mode == "int":
        return x
    if x.ndim == 0:
        x = ops.reshape(x, (1,))
    if output_mode == "one_hot" and x.ndim > 1 and x.shape[-1] == 1:
        x = ops.squeeze(x, -1)
    hot = ops.cast(ops.equal(ops.expand_dims(x, -1), np.arange(depth, dtype=x.dtype)),
                   "float32")
    if output_mode == "one_hot":
        return hot
    if output_mode == "multi_hot":
        return ops.max(hot, axis=-2)
    if count_weights is not None:
        hot = ops.multiply(hot, ops.expand_dims(ops.cast(count_weights, "float32"), -1))
    return ops.sum(hot, axis=-2)


def _encoded_shape(input_shape, output_mode, depth):
    """compute_output_shape of encode_categorical."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if not shape:
        return (depth,)
    if output_mode == "one_hot":
        return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
    return shape[:-1] + (depth,)


class CategoryEncoding(Layer):
    """Integer category indices in [0, num_tokens) as one_hot, multi_hot or count
    vectors (float32); call(inputs, count_weights=None) weighs counts."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        where = f"CategoryEncoding {self.name!r}"
        self.output_mode = _output_mode(where, output_mode, ("count", "one_hot", "multi_hot"))
        if num_tokens is None:
            raise ValueError(f"{where}: num_tokens must be set; if the number of tokens is not "
                             f"known beforehand, use IntegerLookup")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, numbers.Integral) or \
                num_tokens < 1:
            raise ValueError(f"{where}: `num_tokens` must be an integer >= 1, got "
                             f"num_tokens={num_tokens!r}")
        _no_sparse(where, sparse)
        self.num_tokens = int(num_tokens)
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"CategoryEncoding {self.name!r}: count_weights is only used when "
                             f"output_mode is 'count', got output_mode={self.output_mode!r}")
        x = ops.convert_to_tensor(inputs)
        if x.dtype.kind == "f":
            x = ops.cast(x, "int64")
        return encode_categorical(x, self.output_mode, self.num_tokens, count_weights)

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


# --- Discretization ----------------------------------------------------------------------------
def _summarize(values, epsilon):
    """Keras' approximate quantile summary of one batch: every step-th sorted value,
    each weighted by step."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    boundaries = values[int(step - 1)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def _compress_summary(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_percents, summary[0])
    cum_weights = np.interp(percents, cum_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def _merge_summaries(prev, new, epsilon):
    merged = np.concatenate((prev, new), axis=1)
    return _compress_summary(np.take(merged, np.argsort(merged[0]), axis=1), epsilon)


def _batches(data, steps=None):
    """The batches of adapt's `data`: one array/tensor/list, or an iterable of them."""
    if isinstance(data, (np.ndarray, Tensor, list, tuple)) or not hasattr(data, "__iter__"):
        yield data
        return
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            return
        yield batch


class Discretization(Layer):
    """Buckets numbers by bin_boundaries (index i for boundaries[i-1] <= x <
    boundaries[i]; int32), or encodes the bucket (one_hot/multi_hot/count);
    num_bins + adapt(data) finds boundaries at Keras' approximate quantiles."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None):
        super().__init__(name=name, dtype=dtype)
        where = f"Discretization {self.name!r}"
        _no_sparse(where, sparse)
        self.output_mode = _output_mode(where, output_mode, _ENCODINGS)
        if num_bins is not None and (isinstance(num_bins, bool) or num_bins < 0):
            raise ValueError(f"{where}: `num_bins` must be >= 0, got num_bins={num_bins!r}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"{where}: set only one of num_bins and bin_boundaries, got "
                             f"num_bins={num_bins!r} and bin_boundaries={bin_boundaries!r}")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{where}: set either num_bins or bin_boundaries")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.sparse = False
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")

    def adapt(self, data, steps=None):
        """Boundaries at the num_bins quantiles of `data` (arrays or an iterable of
        batches), as Keras' summary-merging approximation."""
        if self.num_bins is None:
            raise ValueError(f"Discretization {self.name!r}: cannot adapt a layer built with "
                             f"bin_boundaries; use num_bins")
        self.summary = np.array([[], []], dtype="float32")
        for batch in _batches(data, steps):
            values = np.array(ops.convert_to_numpy(batch)).astype("float32")
            self.summary = _merge_summaries(_summarize(values, self.epsilon), self.summary,
                                            self.epsilon)
        self.bin_boundaries = _compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1] \
            .tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(f"Discretization {self.name!r}: pass bin_boundaries or call "
                             f"adapt() before using the layer")
        x = ops.cast(inputs, "float32")
        bounds = np.asarray(self.bin_boundaries, dtype=np.float32)
        index = ops.cast(ops.sum(ops.greater_equal(ops.expand_dims(x, -1), bounds), axis=-1),
                         "int32")
        return encode_categorical(index, self.output_mode, len(bounds) + 1)

    def compute_output_shape(self, input_shape):
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else \
            self.num_bins
        return _encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": "float32"}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)


# --- hashing -----------------------------------------------------------------------------------
def fingerprint64(data):
    """FarmHash Fingerprint64 of bytes (TensorFlow's to_hash_bucket_fast)."""
    try:
        import farmhash
    except ImportError:
        raise ImportError('Hashing without a salt needs FarmHash: pip install "pykern[hashing]" '
                          '(or pip install pyfarmhash)') from None
    return farmhash.fingerprint64(data)


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(k0, k1, data):
    """SipHash-2-4 of bytes under the 128-bit key (k0, k1) (TensorFlow's
    to_hash_bucket_strong with key=[k0, k1])."""
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]
    n = len(data)
    end = n - n % 8
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, end, 8)]
    words.append(((n & 0xFF) << 56) | int.from_bytes(data[end:], "little"))
    for m in words:
        v[3] ^= m
        v = list(_sip_round(*_sip_round(*v)))
        v[0] ^= m
    v[2] ^= 0xFF
    for _ in range(4):
        v = _sip_round(*v)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def _as_text_array(values, encoding="utf-8"):
    """Host strings as an object array of str (bytes decoded), any shape."""
    a = np.array(values, dtype=object)
    flat = [v.decode(encoding) if isinstance(v, bytes) else v for v in a.ravel()]
    return np.array(flat, dtype=object).reshape(a.shape)


def _hash_strings(strings, bins, salt):
    """Each str (object array) hashed into [0, bins) as TensorFlow does."""
    if salt is None:
        fn = fingerprint64
    else:
        def fn(b):
            return siphash24(salt[0] & _M64, salt[1] & _M64, b)
    out = [fn(s.encode("utf-8")) % bins for s in strings.ravel()]
    return np.array(out, dtype=np.int64).reshape(strings.shape)


def _as_hash_strings(values):
    """Hashing's input as strings: numbers as TensorFlow's as_string of int64
    (floats truncated first)."""
    a = values.numpy() if isinstance(values, Tensor) else np.asarray(values)
    if a.dtype.kind in "fiub":
        return np.array([str(int(v)) for v in a.astype(np.int64).ravel()],
                        dtype=object).reshape(a.shape), a
    return _as_text_array(a), _as_text_array(a)


class Hashing(Layer):
    """Hashes strings (or integers, as their decimal strings) into num_bins bins;
    with mask_value, the mask gets bin 0 and the rest [1, num_bins). Output int64
    (or one_hot/multi_hot/count float32)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        dtype = kwargs.pop("dtype", None)
        if isinstance(dtype, dict):
            dtype = dtype.get("config", {}).get("name")
        super().__init__(**kwargs)
        where = f"Hashing {self.name!r}"
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(
                num_bins, numbers.Integral) or num_bins <= 0:
            raise ValueError(f"{where}: `num_bins` must be a positive integer, got "
                             f"num_bins={num_bins!r}")
        self.output_mode = _output_mode(where, output_mode, _ENCODINGS)
        self._dtype_name = dtype or ("int64" if self.output_mode == "int" else "float32")
        if self.output_mode == "int" and self._dtype_name not in ("int32", "int64"):
            raise ValueError(f"{where}: with output_mode='int' the dtype must be 'int32' or "
                             f"'int64', got dtype={dtype!r}")
        _no_sparse(where, sparse)
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.sparse = False
        self.salt = None
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                self.salt = list(salt)
            elif isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
                self.salt = [int(salt), int(salt)]
            else:
                raise ValueError(f"{where}: `salt` must be an integer or a pair of integers, "
                                 f"got salt={salt!r}")

    def _check_dtype(self, dtype):
        return None  # Hashing's dtype is its output dtype (int64 by default, as Keras)

    def call(self, inputs):
        strings, raw = _as_hash_strings(inputs)
        if self.output_mode == "one_hot" and strings.ndim and strings.shape[-1] == 1:
            strings, raw = strings[..., 0], raw[..., 0]
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = raw == self.mask_value
        out = _hash_strings(strings, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        x = ops.convert_to_tensor(out.astype(self._dtype_name if self.output_mode == "int"
                                             else np.int64))
        return encode_categorical(x, self.output_mode, self.num_bins)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        return (shape[:-1] if shape else ()) + (self.num_bins,)

    def get_config(self):
        return {**super().get_config(), "dtype": _dtype_policy(self._dtype_name),
                "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": self.sparse}


# --- lookups -----------------------------------------------------------------------------------
class IndexLookup(Layer):
    """Keras' IndexLookup: a vocabulary (given, or learnt by adapt: the most
    frequent tokens first, ties by the token, descending) mapped to indices after
    the mask index (0 in 'int' mode when mask_token is set) and num_oov_indices OOV
    indices; invert=True maps indices back to tokens."""

    _strings = True

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None,
                 **kwargs):
        frozen_size = kwargs.pop("vocabulary_size", None)
        has_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("vocabulary_dtype", None)
        dtype = kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        where = self._where
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{where}: if set, `max_tokens` must be greater than 1, got "
                             f"max_tokens={max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{where}: pad_to_max_tokens=True needs max_tokens, got "
                             f"max_tokens={max_tokens!r}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices,
                                                               numbers.Integral) or \
                num_oov_indices < 0:
            raise ValueError(f"{where}: `num_oov_indices` must be an integer >= 0, got "
                             f"num_oov_indices={num_oov_indices!r}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{where}: `oov_method` must be 'floormod' or 'farmhash', got "
                             f"oov_method={oov_method!r}")
        self.output_mode = _output_mode(where, output_mode, _ENCODINGS + ("tf_idf",))
        if invert and self.output_mode != "int":
            raise ValueError(f"{where}: output_mode must be 'int' when invert is True, got "
                             f"output_mode={output_mode!r}")
        _no_sparse(where, sparse)
        if idf_weights is not None and self.output_mode != "tf_idf":
            raise ValueError(f"{where}: idf_weights can only be set when output_mode is "
                             f"'tf_idf', got output_mode={self.output_mode!r}")
        if salt is not None:
            if not self._strings and oov_method != "farmhash":
                raise ValueError(f"{where}: `salt` can only be used with "
                                 f"oov_method='farmhash', got oov_method={oov_method!r}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            else:
                raise ValueError(f"{where}: `salt` must be an integer or a pair of integers, "
                                 f"got salt={salt!r}")
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = salt
        self._frozen_vocab_size = frozen_size
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = has_vocabulary
        self._tokens = []
        self.idf_weights = None
        if self.output_mode == "tf_idf" and has_vocabulary and idf_weights is None:
            raise ValueError(f"{where}: with a vocabulary in 'tf_idf' mode, idf_weights must "
                             f"be given too")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self._reset_counts()

    @property
    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _check_dtype(self, dtype):
        return None

    def _oov_start(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self):
        return self._oov_start() + self.num_oov_indices

    # --- vocabulary ---------------------------------------------------------------------------
    def vocabulary_size(self):
        return len(self._tokens) + self._token_start()

    def get_vocabulary(self, include_special_tokens=True):
        vocab = [self.mask_token] * self._oov_start() + [self.oov_token] * \
            self.num_oov_indices + list(self._tokens)
        return vocab if include_special_tokens else vocab[self._token_start():]

    def _normalize_tokens(self, values):
        return list(values)

    def set_vocabulary(self, vocabulary, idf_weights=None):
        where = self._where
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{where}: idf_weights must be set when output_mode is 'tf_idf'")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{where}: idf_weights should only be set when output_mode is "
                             f"'tf_idf', got output_mode={self.output_mode!r}")
        if isinstance(vocabulary, str):
            with open(vocabulary, encoding="utf-8") as f:
                lines = f.read().splitlines()
            vocabulary = lines if self._strings else [int(v) for v in lines]
        vocabulary = self._normalize_tokens(
            vocabulary.numpy() if isinstance(vocabulary, Tensor) else
            np.asarray(vocabulary).ravel().tolist())
        if not vocabulary:
            raise ValueError(f"{where}: cannot set an empty vocabulary")
        specials = [self.mask_token] * self._oov_start() + [self.oov_token] * \
            self.num_oov_indices
        found = vocabulary[:len(specials)] == specials
        tokens = vocabulary[len(specials):] if found else vocabulary
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{where}: the vocabulary has repeated terms {repeated}")
        for special, name in ((self.mask_token, "mask_token"), (self.oov_token, "oov_token")):
            if special is not None and special in tokens and (name == "mask_token" or
                                                               self.invert):
                raise ValueError(f"{where}: found the reserved {name} {special!r} inside the "
                                 f"vocabulary; include special tokens only at its start, in "
                                 f"the order {specials}")
        if self.max_tokens is not None and len(specials) + len(tokens) > self.max_tokens:
            raise ValueError(f"{where}: the vocabulary size {len(specials) + len(tokens)} is "
                             f"larger than max_tokens={self.max_tokens}")
        self._tokens = tokens
        self._frozen_vocab_size = self.vocabulary_size()
        if self.output_mode == "tf_idf":
            w = np.asarray(idf_weights, dtype=np.float32).ravel()
            if len(w) != len(vocabulary):
                raise ValueError(f"{where}: idf_weights must have the vocabulary's length "
                                 f"{len(vocabulary)}, got {len(w)}")
            front = 0 if found else self._token_start()
            back = self.max_tokens - front - len(w) if self.pad_to_max_tokens else 0
            self.idf_weights = np.pad(w, (front, back), constant_values=(
                0 if found else np.average(w), 0)).astype(np.float32)

    # --- adapt -------------------------------------------------------------------------------
    def _reset_counts(self):
        self._counts = collections.Counter()
        self._doc_counts = collections.Counter()
        self._num_documents = 0

    def _host_tokens(self, batch):
        """A batch as a list of rows (lists of tokens)."""
        a = np.asarray(batch.numpy() if isinstance(batch, Tensor) else batch, dtype=object)
        if a.ndim == 0:
            a = a.reshape(1, 1)
        elif a.ndim == 1:
            a = a.reshape(1, -1)
        return [self._normalize_tokens(row.ravel().tolist()) for row in a]

    def update_state(self, rows):
        """Counts the tokens of `rows` (each a list of tokens: one document)."""
        if self._has_input_vocabulary:
            raise ValueError(f"{self._where}: cannot adapt after setting a static vocabulary")
        for row in rows:
            self._counts.update(row)
            if self.output_mode == "tf_idf":
                self._doc_counts.update(set(row))
        self._num_documents += len(rows)

    def adapt(self, data, steps=None):
        """Learns the vocabulary from `data` (an array or list: one batch, a rank-1
        array being one token per row; or an iterable of batches)."""
        self._reset_counts()
        if isinstance(data, (np.ndarray, Tensor, list, tuple)):
            a = np.asarray(data.numpy() if isinstance(data, Tensor) else data, dtype=object)
            self.update_state(self._host_tokens(a.reshape(-1, 1) if a.ndim == 1 else a))
        else:
            for batch in _batches(data, steps):
                self.update_state(self._host_tokens(batch))
        self.finalize_state()

    def _sort_key(self, token):
        return token.encode("utf-8") if isinstance(token, str) else token

    def finalize_state(self):
        if self._has_input_vocabulary or not self._counts:
            return
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                self._counts.pop(special, None)
        ranked = sorted(self._counts.items(), key=lambda kv: (kv[1], self._sort_key(kv[0])),
                        reverse=True)
        if self.max_tokens:
            ranked = ranked[:self.max_tokens - self._token_start()]
        self._tokens = [t for t, _ in ranked]
        if self.output_mode == "tf_idf":
            df = np.array([self._doc_counts[t] for t in self._tokens], dtype=np.float64)
            idf = np.log(1 + self._num_documents / (1 + df)).astype(np.float32)
            idf = np.pad(idf, (self._token_start(), 0), constant_values=np.mean(idf))
            if self.pad_to_max_tokens and self.max_tokens is not None:
                idf = np.pad(idf, (0, self.max_tokens - idf.size))
            self.idf_weights = idf.astype(np.float32)
        self._reset_counts()
        self._frozen_vocab_size = self.vocabulary_size()

    # --- call ----------------------------------------------------------------------------------
    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size

    def _oov_indices(self, values, raw):
        """The OOV index of each token (num_oov_indices > 1): floormod for integers,
        FarmHash/SipHash buckets of the strings otherwise."""
        n = self.num_oov_indices
        if not self._strings and self.oov_method != "farmhash":
            return np.mod(np.asarray(raw, dtype=np.int64), n)
        strings = np.array([str(v) for v in np.asarray(values, dtype=object).ravel()],
                           dtype=object).reshape(np.shape(values))
        return _hash_strings(strings, n, self.salt)

    def _lookup_host(self, values):
        """Token -> index for host values (object array), Keras' rules."""
        table = {t: i for i, t in enumerate(self._tokens, self._token_start())}
        default = self._oov_start() if self.num_oov_indices == 1 else -1
        flat = values.ravel()
        out = np.array([table.get(v, default) for v in flat], dtype=np.int64).reshape(
            values.shape)
        if self.mask_token is not None:
            out = np.where(values == self.mask_token, 0 if self.output_mode == "int"
                           else _INT64_MAX, out)
        if self.num_oov_indices == 0 and (out == -1).any():
            raise ValueError(f"{self._where}: with num_oov_indices=0 all inputs must be in the "
                             f"vocabulary; found OOV values {values[out == -1][:5].tolist()}; "
                             f"consider setting num_oov_indices=1")
        if self.num_oov_indices > 1:
            out = np.where(out == -1, self._oov_indices(values, values) + self._oov_start(),
                           out)
        return out

    def _invert_host(self, indices):
        """Indices to tokens (0 to the mask token when set; unknown ones to oov_token)."""
        table = dict(enumerate(self._tokens, self._token_start()))
        if self.mask_token is not None:
            table[0] = self.mask_token
        flat = [table.get(i, self.oov_token) for i in
                np.asarray(indices, dtype=np.int64).ravel().tolist()]
        return np.array(flat, dtype=object).reshape(np.shape(indices))

    def _encode(self, indices):
        if self.output_mode == "int":
            return indices
        depth = self._depth()
        if depth is None:
            raise RuntimeError(f"{self._where}: with output_mode={self.output_mode!r} and "
                               f"pad_to_max_tokens=False, set the vocabulary (argument or "
                               f"adapt) before calling the layer")
        if self.output_mode == "tf_idf":
            counts = encode_categorical(indices, "count", depth)
            return ops.multiply(counts, self.idf_weights)
        # Keras' lookups encode in their index dtype, int64 (only tf_idf is float)
        return ops.cast(encode_categorical(indices, self.output_mode, depth), "int64")

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return _encoded_shape(input_shape, "one_hot" if self.output_mode == "one_hot" else
                              "count", self._depth())

    def get_config(self):
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": _listify(self.input_idf_weights),
                "vocabulary": _listify(self.input_vocabulary),
                "vocabulary_size": self._frozen_vocab_size, "oov_method": self.oov_method,
                "salt": self.salt}


def _listify(x):
    if isinstance(x, Tensor):
        x = x.numpy()
    return x.tolist() if isinstance(x, np.ndarray) else x


class StringLookup(IndexLookup):
    """Strings (a NumPy str/bytes/object array or a list) to int64 indices, or
    encoded vectors; invert=True gives a NumPy object array of strings."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):
        self.encoding = encoding
        oov_method = kwargs.pop("oov_method", "floormod")  # in Keras' config, not its signature
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         oov_method, salt, name, **kwargs)

    def _normalize_tokens(self, values):
        return [v.decode(self.encoding) if isinstance(v, bytes) else v for v in values]

    def lookup_strings(self, values):
        """Host strings (object array of str) to an int64 array of indices."""
        return self._lookup_host(values)

    def call(self, inputs):
        if self.invert:
            return self._invert_host(ops.convert_to_numpy(inputs))
        values = _as_text_array(inputs, self.encoding)
        return self._encode(ops.convert_to_tensor(self._lookup_host(values)))

    def get_config(self):
        config = super().get_config()
        config["encoding"] = self.encoding
        return config


class IntegerLookup(IndexLookup):
    """Integer tokens (arrays, lists or tensors) to int64 indices (looked up on the
    inputs' device), or encoded vectors; invert=True maps indices to tokens."""

    _strings = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: only vocabulary_dtype='int64' is supported, got "
                             f"vocabulary_dtype={vocabulary_dtype!r}")
        self.vocabulary_dtype = "int64"
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, sparse, pad_to_max_tokens,
                         oov_method, salt, name, **kwargs)

    def _normalize_tokens(self, values):
        return [int(v) for v in values]

    def _table(self):
        """(keys, values, default) of the device lookup (the mask is one more key)."""
        indices = list(range(self._token_start(), self.vocabulary_size()))
        if self.invert:
            keys, values, default = indices, list(self._tokens), self.oov_token
            if self.mask_token is not None:
                keys, values = keys + [0], values + [self.mask_token]
        else:
            keys, values, default = list(self._tokens), indices, self._oov_start()
            if self.mask_token is not None:
                keys = keys + [self.mask_token]
                values = values + [0 if self.output_mode == "int" else _INT64_MAX]
        return np.asarray(keys, np.int64), np.asarray(values, np.int64), default

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs, dtype="int64")
        if not self.invert and self.num_oov_indices != 1:
            # OOV buckets and the OOV check read the values: the host path
            return self._encode(ops.convert_to_tensor(self._lookup_host(
                np.asarray(ops.convert_to_numpy(x), dtype=object))))
        return self._encode(lookup(x, *self._table()))

    def get_config(self):
        config = super().get_config()
        config["vocabulary_dtype"] = "int64"
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
