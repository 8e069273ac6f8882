"""Padding, cropping and upsampling over 1, 2 or 3 spatial dims: ZeroPadding*,
Cropping*, UpSampling*, as Keras 3's reshaping layers. No weights; each is a
pad, a slice or repeats/gathers of pykern.ops, whose gradients they inherit.

Inputs are (B, *spatial, C) with data_format 'channels_last' (the default) and
(B, C, *spatial) with 'channels_first' (Cropping1D and UpSampling1D have no
data_format: channels last). Paddings and croppings take Keras' forms: an int
(the same before and after, on every spatial dim), one int per spatial dim, or
one (before, after) pair per spatial dim; the 1-D layers take an int or a pair.
"""
import numbers

from pykern import ops
from pykern.layers.layer import Layer
from pykern.ops.image import resize_axis
from pykern.utils.argument_validation import (check_rank, standardize_data_format,
                                              standardize_tuple)

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D",
           "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D"]

_SPATIAL_NAMES = {1: "steps", 2: "height, width", 3: "dim1, dim2, dim3"}
_ORDINALS = ("1st", "2nd", "3rd")
# tf.image.resize's methods (what Keras' UpSampling2D accepts at call time)
_RESIZE_METHODS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


def _pairs(value, dims, name, where):
    """One (before, after) pair per spatial dim from Keras' forms of `value`."""
    if dims == 1:
        return (standardize_tuple(value, 2, name, where, allow_zero=True),)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (standardize_tuple(value, 2, name, where, allow_zero=True),) * dims
    entries = tuple(value) if isinstance(value, (tuple, list)) else None
    if entries is None or len(entries) != dims:
        raise ValueError(f"{where}: `{name}` must be an int, a tuple of {dims} ints or a tuple "
                         f"of {dims} tuples of 2 ints, got {name}={value!r}")
    return tuple(standardize_tuple(e, 2, f"{_ORDINALS[i]} entry of {name}", where,
                                   allow_zero=True) for i, e in enumerate(entries))


class _Spatial(Layer):
    """What the layers here share: `_dims` spatial dims, their axes under
    data_format, and the rank check."""

    _dims = 1

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, self._where)

    @property
    def _where(self):
        return f"{type(self).__name__} {self.name!r}"

    def _spatial_axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self._dims))

    def _check(self, shape):
        names = _SPATIAL_NAMES[self._dims]
        layout = f"batch, channels, {names}" if self.data_format == "channels_first" else \
            f"batch, {names}, channels"
        check_rank(shape, self._dims + 2, self._where, f" ({layout})")

    def _per_axis(self, pairs, fill):
        """pairs (one per spatial dim) spread over all axes, `fill` elsewhere."""
        out = [fill] * (self._dims + 2)
        for axis, p in zip(self._spatial_axes(), pairs):
            out[axis] = p
        return out


class _ZeroPadding(_Spatial):
    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self._pads = _pairs(padding, self._dims, "padding", self._where)
        self.padding = self._pads[0] if self._dims == 1 else self._pads

    def call(self, inputs):
        self._check(inputs.shape)
        return ops.pad(inputs, self._per_axis(self._pads, (0, 0)))

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(None if d is None else d + a + b
                     for d, (a, b) in zip(input_shape, self._per_axis(self._pads, (0, 0))))

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """Zeros before and after the steps axis: padding is an int or (before, after)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    """Zero rows and columns: padding is an int, (rows, cols) or
    ((top, bottom), (left, right))."""

    _dims = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Zeros around a volume: padding is an int, 3 ints or 3 (before, after) pairs."""

    _dims = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _Cropping(_Spatial):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self._crops = _pairs(cropping, self._dims, "cropping", self._where)
        self.cropping = self._crops[0] if self._dims == 1 else self._crops

    def _check(self, shape):
        super()._check(shape)
        for axis, (a, b) in zip(self._spatial_axes(), self._crops):
            if shape[axis] is not None and a + b >= shape[axis]:
                raise ValueError(f"{self._where}: cropping {self.cropping} must be smaller than "
                                 f"the spatial dimensions of the input, got input shape "
                                 f"{tuple(shape)}")

    def call(self, inputs):
        self._check(inputs.shape)
        index = self._per_axis([slice(a, -b if b else None) for a, b in self._crops],
                               slice(None))
        return ops.getitem(inputs, tuple(index))

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(None if d is None else d - a - b
                     for d, (a, b) in zip(input_shape, self._per_axis(self._crops, (0, 0))))

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class Cropping1D(_Cropping):
    """Drops steps at the start and end: cropping is an int or (start, end)."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras' Cropping1D has none
        return config


class Cropping2D(_Cropping):
    """Drops rows and columns: cropping is an int, (rows, cols) or
    ((top, bottom), (left, right))."""

    _dims = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops a volume: cropping is an int, 3 ints or 3 (before, after) pairs."""

    _dims = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class _UpSampling(_Spatial):
    def __init__(self, size, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self._factors = standardize_tuple(size, self._dims, "size", self._where)
        self.size = self._factors

    def call(self, inputs):
        self._check(inputs.shape)
        x = inputs
        for axis, factor in zip(self._spatial_axes(), self._factors):
            if factor > 1:
                x = ops.repeat(x, factor, axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(None if d is None else d * f
                     for d, f in zip(input_shape, self._per_axis(self._factors, 1)))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class UpSampling1D(_UpSampling):
    """Repeats each step `size` times."""

    def __init__(self, size=2, **kwargs):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"UpSampling1D: expected an integer value for `size`, got "
                            f"{size!r} ({type(size).__name__})")
        super().__init__(size, None, **kwargs)
        self.size = self._factors[0]

    def get_config(self):
        config = super().get_config()
        del config["data_format"]  # Keras' UpSampling1D has none
        return config


class UpSampling2D(_UpSampling):
    """Repeats rows and columns size = (rows, cols) times ('nearest'), or resizes
    by TF's half-pixel bilinear interpolation ('bilinear')."""

    _dims = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, **kwargs)
        method = str(interpolation).lower()
        if method not in _RESIZE_METHODS:
            raise ValueError(f"{self._where}: interpolation must be one of {_RESIZE_METHODS}, "
                             f"got interpolation={interpolation!r}")
        if method not in ("nearest", "bilinear"):
            raise NotImplementedError(f"{self._where}: interpolation {method!r} is not "
                                      f"implemented; 'nearest' and 'bilinear' are")
        self.interpolation = method

    def call(self, inputs):
        if self.interpolation == "nearest":
            return super().call(inputs)
        self._check(inputs.shape)
        x = inputs
        for axis, factor in reversed(tuple(zip(self._spatial_axes(), self._factors))):
            if factor > 1:  # width first, then height: TF's order of operations
                x = resize_axis(x, axis, x.shape[axis] * factor, "bilinear")
        return x

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    """Repeats the three spatial dims size = (d1, d2, d3) times."""

    _dims = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)
