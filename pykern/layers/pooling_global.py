"""Global pooling: the mean or the max over every spatial dim, as Keras 3's
GlobalAveragePooling1D/2D/3D and GlobalMaxPooling1D/2D/3D. No weights.

Inputs are (B, *spatial, C) ('channels_last', the default) or (B, C, *spatial)
('channels_first'); the output is (B, C), or with keepdims (B, 1, ..., 1, C)
(channels first: (B, C, 1, ..., 1)). GlobalAveragePooling1D averages only the
steps its mask (B, T) keeps, as Keras; GlobalMaxPooling1D ignores masks, as
Keras does.
"""
from pykern import ops
from pykern.layers.layer import Layer
from pykern.utils.argument_validation import check_rank, standardize_data_format

__all__ = ["GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"]


class _GlobalPooling(Layer):
    """`_reduce` (ops.mean or ops.max) over the `_dims` spatial axes."""

    _built_at_init = True
    _dims = 1
    _reduce = staticmethod(ops.mean)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format,
                                                   f"{type(self).__name__} {self.name!r}")
        self.keepdims = keepdims

    def _spatial_axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self._dims))

    def _check(self, shape):
        layout = "batch, channels, *spatial" if self.data_format == "channels_first" else \
            "batch, *spatial, channels"
        check_rank(shape, self._dims + 2, f"{type(self).__name__} {self.name!r}",
                   f" ({layout} with {self._dims} spatial dims)")

    def call(self, inputs):
        self._check(inputs.shape)
        return self._reduce(inputs, axis=self._spatial_axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        axes = self._spatial_axes()
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over steps; with a mask (B, T), the mean over the kept steps
    (a fully masked sample gives 0/0 = NaN, as Keras). The output has no mask."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        self._check(inputs.shape)
        steps = self._spatial_axes()[0]
        if tuple(mask.shape) != (inputs.shape[0], inputs.shape[steps]):
            raise ValueError(f"GlobalAveragePooling1D {self.name!r}: the mask must have shape "
                             f"(batch, steps) = {(inputs.shape[0], inputs.shape[steps])}, got "
                             f"{tuple(mask.shape)}")
        keep = ops.cast(ops.expand_dims(mask, 2 if steps == 1 else 1), "bool")
        total = ops.sum(ops.where(keep, inputs, 0.0), axis=steps, keepdims=self.keepdims)
        count = ops.sum(ops.cast(keep, "float32"), axis=steps, keepdims=self.keepdims)
        return ops.divide(total, count)

    def compute_mask(self, inputs, previous_mask):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over height and width."""

    _dims = 2


class GlobalAveragePooling3D(_GlobalPooling):
    """The mean over the three spatial dims."""

    _dims = 3


class GlobalMaxPooling1D(_GlobalPooling):
    """The max over steps (tied maxima share the gradient, as TF's reduce_max)."""

    _reduce = staticmethod(ops.max)


class GlobalMaxPooling2D(_GlobalPooling):
    """The max over height and width."""

    _dims = 2
    _reduce = staticmethod(ops.max)


class GlobalMaxPooling3D(_GlobalPooling):
    """The max over the three spatial dims."""

    _dims = 3
    _reduce = staticmethod(ops.max)
