"""Activation layers: ReLU, LeakyReLU, Softmax, ELU, PReLU (Keras 3 defaults:
LeakyReLU's negative_slope is 0.3, unlike the leaky_relu function's 0.2)."""

from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.layers.layer import Layer
from pykern.utils.serialization import serialize_keras_object

__all__ = ["ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU"]


class _Elementwise(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_Elementwise):
    """max(x, 0), or Keras' general form: slope below threshold, capped at max_value."""
    _built_at_init = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU {self.name!r}: max_value must be >= 0, got {max_value}")
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"ReLU {self.name!r}: negative_slope must be >= 0, got "
                             f"{negative_slope}")
        if threshold is None or threshold < 0:
            raise ValueError(f"ReLU {self.name!r}: threshold must be >= 0, got {threshold}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        return ops.relu(inputs, negative_slope=self.negative_slope, max_value=self.max_value,
                        threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_Elementwise):
    _built_at_init = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 name
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU {self.name!r}: negative_slope must be >= 0, got "
                             f"{negative_slope}")
        self.negative_slope = negative_slope

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(_Elementwise):
    """Softmax over `axis` (an int or a tuple of axes); masked positions get zero
    probability."""
    _built_at_init = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs, mask=None):
        x = inputs
        if mask is not None:
            mask = ops.convert_to_numpy(mask)
            if mask.ndim > x.ndim or any(m not in (1, d) for m, d in zip(
                    mask.shape[::-1], tuple(x.shape)[::-1])):
                raise ValueError(f"Softmax {self.name!r}: the mask of shape {mask.shape} must "
                                 f"broadcast to the inputs of shape {tuple(x.shape)}")
            keep = mask if mask.dtype == bool else mask > 0.5
            x = ops.where(keep, x, -1e9)  # masked logits get Keras' large negative number
        if isinstance(self.axis, (tuple, list)):
            shifted = ops.subtract(x, ops.stop_gradient(ops.max(x, self.axis, keepdims=True)))
            e = ops.exp(shifted)
            return ops.divide(e, ops.sum(e, self.axis, keepdims=True))
        return ops.softmax(x, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class ELU(_Elementwise):
    _built_at_init = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(_Elementwise):
    """relu(x) - alpha * relu(-x) with a learned alpha of shape input_shape[1:]
    (size 1 along `shared_axes`, 1-indexed)."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = kinitializers.get(alpha_initializer)
        self.alpha_regularizer = kregularizers.get(alpha_regularizer)
        self.alpha_constraint = kconstraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = list(shared_axes)
        else:
            self.shared_axes = [shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(f"PReLU {self.name!r}: shared axis {axis} is out of range for "
                                 f"input shape {tuple(input_shape)}")
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(f"PReLU {self.name!r}: non-shared dims must be known, got input "
                             f"shape {tuple(input_shape)}")
        self.alpha = self.add_weight(shape=tuple(shape), initializer=self.alpha_initializer,
                                     name="alpha", regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)
        self.built = True

    def call(self, inputs):
        shape, alpha = tuple(inputs.shape), tuple(self.alpha.shape)
        if len(shape) != len(alpha) + 1 or any(a not in (1, d) for a, d in zip(alpha, shape[1:])):
            raise ValueError(f"PReLU {self.name!r} was built for inputs of shape "
                             f"(None, *{alpha}) (1 = shared axis), got {shape}")
        pos = ops.relu(inputs)
        neg = ops.multiply(ops.negative(self.alpha), ops.relu(ops.negative(inputs)))
        return ops.add(pos, neg)

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": serialize_keras_object(self.alpha_initializer),
                "alpha_regularizer": serialize_keras_object(self.alpha_regularizer),
                "alpha_constraint": serialize_keras_object(self.alpha_constraint),
                "shared_axes": self.shared_axes}
