"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Permute,
RepeatVector, Lambda, Identity, ActivityRegularization."""
import numbers

import numpy as np

from pykern import activations as kactivations
from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.backend.random import SeedGenerator
from pykern.ops.nn import dense as _dense  # the plain op: Dense is never called symbolically here
from pykern.layers.layer import Layer
from pykern.utils.argument_validation import standardize_data_format
from pykern.utils.serialization import dump_function, load_function, serialize_keras_object

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Permute", "RepeatVector",
           "Lambda", "Identity", "ActivityRegularization", "Masking"]

# activations the GEMM epilogue computes (the Dense op fuses them)
# activations the GEMM epilogue computes (the Dense op fuses them); sigmoid is applied
# after the GEMM, as its op attaches the logits a crossentropy uses
_FUSED = {kactivations.linear: None, kactivations.relu: "relu", kactivations.tanh: "tanh"}


def _positive_int(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Dense(Layer):
    """y = activation(x @ kernel + bias) on the last axis; kernel (F, U), bias (U,).

    relu/sigmoid/tanh/linear run fused in the one GEMM call; other activations
    are applied after it.
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        # Keras 3.15 configs carry these (null unless LoRA/quantization is on)
        for key, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise ValueError(f"Dense {self.name!r}: {key} is not supported, got {value!r}")
        self.units = _positive_int(f"Dense {self.name!r}", "units", units)
        self.activation = kactivations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kinitializers.get(kernel_initializer)
        self.bias_initializer = kinitializers.get(bias_initializer)
        self.kernel_regularizer = kregularizers.get(kernel_regularizer)
        self.bias_regularizer = kregularizers.get(bias_regularizer)
        self.kernel_constraint = kconstraints.get(kernel_constraint)
        self.bias_constraint = kconstraints.get(bias_constraint)
        self._fused = _FUSED.get(self.activation, False)
        self.kernel = self.bias = None
        self.supports_masking = True

    def _check_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"Dense {self.name!r} expects input of rank >= 2 (batch, ..., "
                             f"features), got shape {tuple(input_shape)}")
        if input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r}: the last dimension of the input must be "
                             f"known, got shape {tuple(input_shape)}")

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        name="bias", regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def call(self, inputs):
        shape = inputs.shape
        if len(shape) < 2 or shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r} expects input of shape (..., "
                             f"{self.kernel.shape[0]}), got {tuple(shape)}")
        if self._fused is not False:
            return _dense(inputs, self.kernel, self.bias, self._fused)
        return self.activation(_dense(inputs, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        self._check_shape(input_shape)
        if self.kernel is not None and input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Dense {self.name!r} expects input of shape (..., "
                             f"{self.kernel.shape[0]}), got {tuple(input_shape)}")
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": kactivations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": serialize_keras_object(self.kernel_initializer),
                "bias_initializer": serialize_keras_object(self.bias_initializer),
                "kernel_regularizer": serialize_keras_object(self.kernel_regularizer),
                "bias_regularizer": serialize_keras_object(self.bias_regularizer),
                "kernel_constraint": serialize_keras_object(self.kernel_constraint),
                "bias_constraint": serialize_keras_object(self.bias_constraint)}


class Activation(Layer):
    """Applies an activation given by name, function or config. No weights."""
    _built_at_init = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = kactivations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": kactivations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout while training (kept units scaled by 1/(1-rate)); identity
    otherwise. noise_shape broadcasts the mask (None entries take the input's
    size); `seed` makes the masks reproducible."""
    _built_at_init = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"{type(self).__name__} {self.name!r}: rate must be a number in "
                             f"[0, 1], got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            if self.noise_shape is not None:
                self._check_noise_shape(tuple(inputs.shape))
            return ops.dropout(inputs, self.rate, self.noise_shape, seed=self.seed_generator)
        return inputs

    def _check_noise_shape(self, shape):
        """Keras fills None entries from the leading input dims, then the mask
        broadcasts against the input (so a shorter noise_shape is right-aligned)."""
        mask = tuple(shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        if len(mask) > len(shape) or any(
                m not in (1, n) for m, n in zip(mask[::-1], shape[::-1])):
            raise ValueError(f"Dropout {self.name!r}: noise_shape {self.noise_shape} does not "
                             f"broadcast to the input shape {shape}")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class Flatten(Layer):
    """(B, d1, d2, ...) -> (B, d1*d2*...), row-major over channels_last; with
    channels_first the channel axis is first moved last (Keras' rule)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, f"Flatten {self.name!r}")

    def call(self, inputs):
        x = inputs
        if len(x.shape) < 1:
            self.compute_output_shape(tuple(x.shape))  # raises, naming the layer
        if self.data_format == "channels_first" and len(x.shape) > 2:
            x = ops.transpose(x, (0, *range(2, len(x.shape)), 1))
        rest = x.shape[1:]
        if x.shape[0] is None and None not in rest:  # symbolic batch (meta): size is known
            return ops.reshape(x, (-1, int(np.prod(rest))))
        return ops.reshape(x, (x.shape[0], -1))

    def compute_output_shape(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Flatten {self.name!r} needs a batch dimension, got shape "
                             f"{tuple(input_shape)}")
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest))
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes the non-batch dims to `target_shape` (one -1 allowed)."""
    _built_at_init = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        if sum(d == -1 for d in target_shape) > 1 or any(
                d is None or (d < 1 and d != -1) for d in target_shape):
            raise ValueError(f"Reshape {self.name!r}: target_shape may hold positive sizes and "
                             f"at most one -1, got {target_shape}")
        self.target_shape = target_shape

    def _resolve(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"Reshape {self.name!r} needs a batch dimension, got shape "
                             f"{tuple(input_shape)}")
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(rest))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"Reshape {self.name!r}: cannot reshape input of shape "
                                 f"{tuple(input_shape)} to target_shape {self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"Reshape {self.name!r}: total size of the input shape "
                             f"{tuple(input_shape)} ({size} per sample) differs from "
                             f"target_shape {self.target_shape} ({known})")
        return self.target_shape

    def call(self, inputs):
        target = self._resolve(tuple(inputs.shape))
        return ops.reshape(inputs, (inputs.shape[0],) + target)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes; `dims` is 1-indexed, e.g. (2, 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute {self.name!r}: dims must be a permutation of "
                             f"1..{len(dims)}, got {dims}")
        self.dims = dims

    def _check(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute {self.name!r} with dims {self.dims} expects input of "
                             f"rank {len(self.dims) + 1}, got shape {tuple(input_shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        return ops.transpose(inputs, (0,) + self.dims)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """(B, F) -> (B, n, F)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(f"RepeatVector {self.name!r}", "n", n)

    def _check(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector {self.name!r} expects input of rank 2 (batch, "
                             f"features), got shape {tuple(input_shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    """Wraps a function of tensors. Its config stores the function's bytecode, which
    loads only after pykern.utils.enable_unsafe_deserialization()."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda {self.name!r}: function must be callable, got "
                            f"{function!r}")
        self.function = function
        self._output_shape = output_shape
        self.mask = mask
        self.supports_masking = mask is not None
        self.arguments = dict(arguments or {})

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def compute_mask(self, inputs, previous_mask):
        """`mask` is a fixed mask or a function (inputs, previous_mask) -> mask."""
        return self.mask(inputs, previous_mask) if callable(self.mask) else self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        return (input_shape[0] if isinstance(input_shape, tuple) else input_shape[0][0],) + \
            tuple(self._output_shape)

    def get_config(self):
        config = {**super().get_config(), "function": dump_function(self.function),
                  "arguments": self.arguments}
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = tuple(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["function"] = load_function(config["function"])
        return cls(**config)


class Identity(Layer):
    """Returns its input unchanged."""
    _built_at_init = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


class ActivityRegularization(Layer):
    """Identity that adds l1*sum|x| + l2*sum(x^2) (divided by the batch size) to `losses`."""
    _built_at_init = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=kregularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}


class Masking(Layer):
    """Marks timesteps whose features all equal `mask_value` as masked: they are
    zeroed, and the output carries the mask (B, T) for the layers after it."""
    _built_at_init = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs):
        if len(inputs.shape) < 1:
            raise ValueError(f"Masking {self.name!r} needs inputs with a feature axis, got "
                             f"shape {tuple(inputs.shape)}")
        keep = ops.any(ops.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        outputs = ops.where(keep, inputs, 0.0)
        outputs._keras_mask = ops.squeeze(keep, -1)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
