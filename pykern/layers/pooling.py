"""Pooling layers: MaxPooling1D/2D/3D and AveragePooling1D/2D/3D, with Keras 3's
arguments (strides=None means pool_size; 'same' pads as TensorFlow, the extra
cell at the end; the average counts real cells only) and configs. One base
class; the N-D classes fix the rank and Keras' default pool sizes."""
from pykern.layers.layer import Layer
from pykern.ops.conv import conv_padding
from pykern.ops.pooling import pool_fused
from pykern.utils.argument_validation import standardize_data_format, standardize_tuple

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
           "AveragePooling2D", "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "AvgPool1D", "AvgPool2D", "AvgPool3D"]


class _Pooling(Layer):
    _built_at_init = True
    rank = None
    kind = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        who = f"{type(self).__name__} {self.name!r}"
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size", who)
        self.strides = self.pool_size if strides is None else standardize_tuple(
            strides, self.rank, "strides", who)
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")
        self.data_format = standardize_data_format(data_format, who)
        self.supports_masking = False

    @property
    def _who(self):
        return f"{type(self).__name__} {self.name!r}"

    def _check(self, shape):
        shape = tuple(shape)
        if len(shape) != self.rank + 2:
            raise ValueError(f"{self._who} expects inputs of rank {self.rank + 2} (batch, "
                             f"{self.rank} spatial dims, channels), got shape {shape}")
        return shape

    def call(self, inputs):
        self._check(inputs.shape)
        x = inputs if self.data_format == "channels_last" else _move(inputs, False, self.rank)
        y = pool_fused(x, self.kind, self.pool_size, self.strides, self.padding, op=self._who)
        return y if self.data_format == "channels_last" else _move(y, first=True,
                                                                   rank=self.rank)

    def compute_output_shape(self, input_shape):
        shape = self._check(input_shape)
        last = self.data_format == "channels_last"
        spatial = shape[1:-1] if last else shape[2:]
        pb, pe = conv_padding(self.padding, spatial, self.pool_size, self.strides,
                              (1,) * self.rank, self._who)
        out = []
        for n, p, s, b, e in zip(spatial, self.pool_size, self.strides, pb, pe):
            if n is not None and n + b + e < p:
                raise ValueError(f"{self._who}: the pool window {self.pool_size} is larger "
                                 f"than the inputs of shape {shape} with "
                                 f"padding={self.padding!r}")
            out.append(None if n is None else (n + b + e - p) // s + 1)
        out = tuple(out)
        return (shape[0],) + out + (shape[-1],) if last else (shape[0], shape[1]) + out

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


def _move(x, first, rank):
    from pykern import ops
    if first:  # channels_last -> channels_first
        return ops.transpose(x, (0, rank + 1) + tuple(range(1, rank + 1)))
    return ops.transpose(x, (0,) + tuple(range(2, rank + 2)) + (1,))


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps (default 2)."""
    rank, kind = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over windows of `pool_size` (default (2, 2))."""
    rank, kind = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling3D(_Pooling):
    rank, kind = 3, "max"

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows (pool_size is required, as in Keras 3)."""
    rank, kind = 1, "avg"


class AveragePooling2D(_Pooling):
    rank, kind = 2, "avg"


class AveragePooling3D(_Pooling):
    rank, kind = 3, "avg"


MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
