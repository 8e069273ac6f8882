"""Normalization layers: UnitNormalization (weightless)."""
import numbers

from pykern import ops
from pykern.layers.layer import Layer

__all__ = ["UnitNormalization"]

_EPSILON = 1e-12  # Keras' UnitNormalization: ops.normalize(order=2, epsilon=1e-12)


class UnitNormalization(Layer):
    """x / ||x||_2 over `axis` (an int or a list of ints), per sample:
    x * min(rsqrt(sum(x^2)), 1/epsilon) as Keras, so an all-zero slice stays 0."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"UnitNormalization {self.name!r}: axis must be an int or a "
                            f"list/tuple of ints, got axis={axis!r}")
        self.supports_masking = True

    def _check(self, shape):
        rank = len(shape)
        for a in self.axis if isinstance(self.axis, list) else [self.axis]:
            if not -rank <= a < rank:
                raise ValueError(f"UnitNormalization {self.name!r}: axis {self.axis} is out of "
                                 f"bounds for input shape {tuple(shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        square_sum = ops.sum(ops.square(inputs), axis=self.axis, keepdims=True)
        # min(rsqrt(s), 1/eps) as 1/sqrt(max(s, eps^2)): the same value, and where s is
        # clamped the gradient through s is 0 rather than 0 * inf = NaN (TF's is also 0)
        inverse_norm = ops.reciprocal(ops.sqrt(ops.maximum(square_sum, _EPSILON ** 2)))
        return ops.multiply(inputs, inverse_norm)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
