"""SpatialDropout1D/2D/3D: dropout of whole channels (Keras 3's
regularization/spatial_dropout). Each is a Dropout whose mask is drawn per
(sample, channel) and broadcast over the spatial dims; identity at inference."""
from pykern import ops
from pykern.layers.core import Dropout
from pykern.utils.argument_validation import check_rank, standardize_data_format

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


class _SpatialDropout(Dropout):
    """Keras' signature (rate, [data_format,] seed, name, dtype): no other
    keyword arguments, and a config of exactly those keys."""

    _dims = 1

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)
        self.data_format = standardize_data_format(data_format,
                                                   f"{type(self).__name__} {self.name!r}")

    def _mask_shape(self):
        """None takes the input's size: one draw per sample and channel."""
        if self.data_format == "channels_first":
            return (None, None) + (1,) * self._dims
        return (None,) + (1,) * self._dims + (None,)

    def call(self, inputs, training=False):
        check_rank(inputs.shape, self._dims + 2, f"{type(self).__name__} {self.name!r}")
        if training and self.rate > 0:
            return ops.dropout(inputs, self.rate, self._mask_shape(), seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        check_rank(input_shape, self._dims + 2, f"{type(self).__name__} {self.name!r}")
        return tuple(input_shape)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype,
                "data_format": self.data_format}


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of (B, T, C) inputs: the mask is (B, 1, C)."""

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, None, seed, name, dtype)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras' SpatialDropout1D has none
        return config


class SpatialDropout2D(_SpatialDropout):
    """Drops whole feature maps of (B, H, W, C) inputs: the mask is (B, 1, 1, C)."""

    _dims = 2

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, data_format, seed, name, dtype)


class SpatialDropout3D(_SpatialDropout):
    """Drops whole feature volumes of (B, D1, D2, D3, C): the mask is (B, 1, 1, 1, C)."""

    _dims = 3

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None):
        super().__init__(rate, data_format, seed, name, dtype)
