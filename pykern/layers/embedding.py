"""Embedding: integer ids to rows of a trainable table (keras_behaviour.md §2.12)."""
import warnings

from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.layers.layer import Layer
from pykern.ops.rnn import embedding as _embedding
from pykern.utils.serialization import serialize_keras_object

__all__ = ["Embedding"]


def _positive_int(who, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive integer, got {name}={value!r} (of "
                         f"type {type(value).__name__})")
    return value


class Embedding(Layer):
    """Rows of `embeddings` (input_dim, output_dim) at the input ids: output
    ids.shape + (output_dim,). Non-integer ids are cast to int32; an id outside
    [0, input_dim) is a ValueError. mask_zero=True makes id 0 padding: the output
    carries the mask ids != 0 for the layers after it (recurrent layers skip those
    steps). Keras 2's input_length is accepted and ignored."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 input_length=None, **kwargs):
        super().__init__(**kwargs)
        who = f"Embedding {self.name!r}"
        for key, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise ValueError(f"{who}: {key} is not supported, got {value!r}")
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.", stacklevel=2)
        self.input_dim = _positive_int(who, "input_dim", input_dim)
        self.output_dim = _positive_int(who, "output_dim", output_dim)
        self.embeddings_initializer = kinitializers.get(embeddings_initializer)
        self.embeddings_regularizer = kregularizers.get(embeddings_regularizer)
        self.embeddings_constraint = kconstraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None
        if weights is not None:  # as Keras: built at once and set
            self._build_once(None)
            self.set_weights(weights if isinstance(weights, list) and len(weights) == 1
                             else [weights])

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def call(self, inputs):
        try:
            return _embedding(self.embeddings, inputs)
        except ValueError as e:
            raise ValueError(f"Embedding {self.name!r} (input_dim={self.input_dim}) on ids of "
                             f"shape {tuple(inputs.shape)}: {e}") from None

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize_keras_object(self.embeddings_initializer),
                "embeddings_regularizer": serialize_keras_object(self.embeddings_regularizer),
                "activity_regularizer": serialize_keras_object(self.activity_regularizer),
                "embeddings_constraint": serialize_keras_object(self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}
