"""Random image augmentation layers (Keras 3's RandomFlip, RandomRotation,
RandomZoom, RandomTranslation, RandomCrop, RandomContrast, RandomBrightness).

Each owns a SeedGenerator and draws its parameters on the inputs' device from
pykern's Philox streams (pykern.ops.random), so a seed gives the same
augmentation run to run; the draws are not TensorFlow's (Keras' own random
numbers cannot be reproduced), while the transforms given the same parameters
are Keras' exactly. As in Keras 3, `training` defaults to True when the layer is
called directly (model.fit augments, model.predict/evaluate do not), and
training=False returns the inputs (as float32) unchanged.

The geometric layers build Keras' 8-parameter projective matrices from their
draws and share one transform, `_transform` (pykern.ops.image.affine_transform:
bilinear/nearest sampling with the reflect/wrap/constant/nearest fill modes).
"""
import math
import numbers

from pykern import ops
from pykern.backend import random as krandom
from pykern.backend.random import SeedGenerator
from pykern.layers.preprocessing.image import ImageLayer, _positive_int
from pykern.ops.image import AFFINE_INTERPOLATIONS, FILL_MODES
from pykern.ops.random import uniform

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop",
           "RandomContrast", "RandomBrightness"]

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class _Augmentation(ImageLayer):
    """Seed, generator, the training switch and batching of single images."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"{self._where}: `seed` must be an int or None, got seed={seed!r}")
        self.seed = seed
        self.generator = SeedGenerator(seed)

    def _draw(self, shape, minval, maxval, device):
        return uniform(shape, minval, maxval, seed=self.generator, device=device)

    def call(self, inputs, training=True):
        x = ops.cast(inputs, "float32")
        self._check_images(x.shape)
        if training is None:
            training = True  # Keras' default for these layers when called directly
        if not training:
            return x
        single = x.ndim == 3
        y = self._augment(ops.expand_dims(x, 0) if single else x)
        return ops.squeeze(y, 0) if single else y

    def compute_output_shape(self, input_shape):
        self._check_images(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _factor_pair(where, name, factor, bounds, closed_low=True):
    """Keras' factor forms: a number f gives (max(-|f|, low), |f|); a pair is sorted;
    every entry must lie in `bounds`."""
    low, high = bounds

    def bad(v):
        return not _is_number(v) or v > high or (v < low if closed_low else v <= low)
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or any(bad(v) for v in factor):
            raise ValueError(f"{where}: `{name}` must be a number or a pair of numbers in "
                             f"[{low}, {high}], got {name}={factor!r}")
        return tuple(sorted(factor))
    if bad(factor):
        raise ValueError(f"{where}: `{name}` must be a number or a pair of numbers in "
                         f"[{low}, {high}], got {name}={factor!r}")
    return (max(-abs(factor), low), abs(factor))


class _Geometric(_Augmentation):
    """fill_mode / interpolation / fill_value and the one shared transform."""

    def __init__(self, fill_mode, interpolation, seed, fill_value, data_format, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        if fill_mode not in FILL_MODES:
            raise NotImplementedError(f"{self._where}: unknown fill_mode={fill_mode!r}; "
                                      f"expected one of {FILL_MODES}")
        if interpolation not in AFFINE_INTERPOLATIONS:
            raise NotImplementedError(f"{self._where}: unknown interpolation="
                                      f"{interpolation!r}; expected one of "
                                      f"{AFFINE_INTERPOLATIONS}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _size(self, x):
        h, w = self._hw_axes(x.ndim)
        return x.shape[h], x.shape[w]

    def _transform(self, x, matrix):
        """x (B, ...) moved by the (B, 8) projective matrices."""
        return ops.image.affine_transform(x, matrix, self.interpolation, self.fill_mode,
                                          self.fill_value, self.data_format)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


def rotation_matrix(angle_deg, height, width):
    """Keras' _compute_affine_matrix for a rotation by angle_deg (B,) about the image
    centre ((width - 1) / 2, (height - 1) / 2): the (B, 8) matrices."""
    theta = ops.multiply(angle_deg, math.pi / 180.0)
    cos, sin = ops.cos(theta), ops.sin(theta)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    a2 = ops.subtract(ops.subtract(cx, ops.multiply(cos, cx)), ops.multiply(ops.negative(sin), cy))
    b2 = ops.subtract(ops.subtract(cy, ops.multiply(sin, cx)), ops.multiply(cos, cy))
    zero = ops.zeros_like(cos)
    return ops.stack([cos, ops.negative(sin), a2, sin, cos, b2, zero, zero], axis=1)


def zoom_matrix(zoom_x, zoom_y, height, width):
    """Keras' RandomZoom matrices for zooms (B,) about the image centre."""
    zero = ops.zeros_like(zoom_x)
    x_off = ops.multiply((width - 1.0) / 2.0, ops.subtract(1.0, zoom_x))
    y_off = ops.multiply((height - 1.0) / 2.0, ops.subtract(1.0, zoom_y))
    return ops.stack([zoom_x, zero, x_off, zero, zoom_y, y_off, zero, zero], axis=1)


def translation_matrix(dx, dy):
    """Keras' RandomTranslation matrices: the image moves by (dx, dy) pixels (B,)."""
    zero, one = ops.zeros_like(dx), ops.ones_like(dx)
    return ops.stack([one, zero, ops.negative(dx), zero, one, ops.negative(dy), zero, zero],
                     axis=1)


class RandomFlip(_Augmentation):
    """Flips each image with probability 1/2 ('horizontal': left-right, 'vertical':
    up-down, 'horizontal_and_vertical': both, on one draw per image as Keras)."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"{self._where}: `mode` must be one of {_FLIP_MODES}, got "
                             f"mode={mode!r}")
        self.mode = mode

    def _augment(self, x):
        flips = ops.less_equal(self._draw((x.shape[0], 1, 1, 1), 0.0, 1.0, x.device), 0.5)
        h_axis, w_axis = self._hw_axes(4)
        for axis, on in ((w_axis, self.mode != "vertical"), (h_axis, self.mode != "horizontal")):
            if on:
                index = [slice(None)] * 4
                index[axis] = slice(None, None, -1)
                x = ops.where(flips, ops.getitem(x, tuple(index)), x)
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomRotation(_Geometric):
    """Rotates each image by an angle drawn from factor * 360 degrees (factor: a
    fraction of a full turn, a number f for [-f, f] or a pair), about its centre."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_pair(self._where, "factor", factor, (-1, 1))

    def _augment(self, x):
        angle = self._draw((x.shape[0],), self.factor[0] * 360.0, self.factor[1] * 360.0,
                           x.device)
        return self._transform(x, rotation_matrix(angle, *self._size(x)))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class _ShiftLike(_Geometric):
    """height_factor / width_factor in (-1, 1] (zoom) or [-1, 1] (translation)."""

    _closed_low = True

    def _set_factors(self, height_factor, width_factor):
        self.height_factor = height_factor
        self.width_factor = width_factor
        self.height_lower, self.height_upper = _factor_pair(
            self._where, "height_factor", height_factor, (-1.0, 1.0), self._closed_low)
        if width_factor is not None:
            self.width_lower, self.width_upper = _factor_pair(
                self._where, "width_factor", width_factor, (-1.0, 1.0), self._closed_low)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomZoom(_ShiftLike):
    """Zooms each image by 1 + a draw from height_factor (vertically) and
    width_factor (horizontally; None keeps the aspect ratio): positive factors zoom
    out, negative ones in."""

    _closed_low = False

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._set_factors(height_factor, width_factor)

    def _augment(self, x):
        b = x.shape[0]
        zoom_y = self._draw((b,), 1.0 + self.height_lower, 1.0 + self.height_upper, x.device)
        zoom_x = zoom_y if self.width_factor is None else self._draw(
            (b,), 1.0 + self.width_lower, 1.0 + self.width_upper, x.device)
        return self._transform(x, zoom_matrix(zoom_x, zoom_y, *self._size(x)))


class RandomTranslation(_ShiftLike):
    """Shifts each image by a draw from height_factor * height rows and
    width_factor * width columns."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        if width_factor is None:
            raise ValueError(f"{self._where}: `width_factor` must be a number or a pair, got "
                             f"width_factor=None")
        self._set_factors(height_factor, width_factor)

    def _augment(self, x):
        b = x.shape[0]
        height, width = self._size(x)
        dy = ops.multiply(self._draw((b,), self.height_lower, self.height_upper, x.device),
                          float(height))
        dx = ops.multiply(self._draw((b,), self.width_lower, self.width_upper, x.device),
                          float(width))
        return self._transform(x, translation_matrix(dx, dy))


class RandomCrop(_Augmentation):
    """While training, a random (height, width) window (one offset per batch, as
    Keras); an image not larger than that on both sides is centre-cropped to the
    aspect ratio and resized. At inference the inputs pass unchanged, as in Keras 3."""

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        super().__init__(seed, data_format, name=name, **kwargs)
        self.height = _positive_int(self._where, "height", height)
        self.width = _positive_int(self._where, "width", width)
        if seed is None:  # Keras records a drawn default seed in the config
            self.seed = krandom.make_default_seed()

    def _augment(self, x):
        h_axis, w_axis = self._hw_axes(4)
        height, width = x.shape[h_axis], x.shape[w_axis]
        if height is None or width is None:
            raise ValueError(f"{self._where} needs inputs with a known height and width, got "
                             f"shape {tuple(x.shape)}")
        if height > self.height and width > self.width:
            # the window's offsets stay on the device: a shift by whole pixels (exact
            # copies with nearest sampling), then the top-left window
            top = ops.floor(self._draw((), 0.0, float(height - self.height + 1), x.device))
            left = ops.floor(self._draw((), 0.0, float(width - self.width + 1), x.device))
            moved = ops.image.affine_transform(
                x, translation_matrix(ops.reshape(ops.negative(left), (1,)),
                                      ops.reshape(ops.negative(top), (1,))),
                "nearest", "constant", 0.0, self.data_format)
            index = [slice(None)] * 4
            index[h_axis], index[w_axis] = slice(0, self.height), slice(0, self.width)
            return ops.getitem(moved, tuple(index))
        return ops.image.resize(x, (self.height, self.width), "bilinear",
                                crop_to_aspect_ratio=True, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        return self._with_hw(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class _ColorAugmentation(_Augmentation):
    """factor and value_range (outputs are clipped to it)."""

    def __init__(self, factor, value_range, seed, bounds, **kwargs):
        super().__init__(seed, kwargs.pop("data_format", None), **kwargs)
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or not all(
                _is_number(v) for v in value_range):
            raise ValueError(f"{self._where}: `value_range` must be a list of two numbers, got "
                             f"value_range={value_range!r}")
        self.factor = _factor_pair(self._where, "factor", factor, bounds)
        self.value_range = value_range

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomContrast(_ColorAugmentation):
    """(x - mean) * c + mean per image and channel (mean over height and width), c
    drawn from [1 - factor[0], 1 + factor[1]], clipped to value_range."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor, value_range, seed, (0, 1), **kwargs)

    def _augment(self, x):
        c = self._draw((x.shape[0], 1, 1, 1), 1.0 - self.factor[0], 1.0 + self.factor[1],
                       x.device)
        h_axis, w_axis = self._hw_axes(4)
        mean = ops.mean(ops.mean(x, axis=h_axis, keepdims=True), axis=w_axis, keepdims=True)
        y = ops.add(ops.multiply(ops.subtract(x, mean), c), mean)
        return ops.clip(y, self.value_range[0], self.value_range[1])


class RandomBrightness(_ColorAugmentation):
    """x + d per image, d drawn from factor * (value_range[1] - value_range[0]),
    clipped to value_range."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(factor, value_range, seed, (-1, 1), **kwargs)
        self.value_range = sorted(value_range)

    def _augment(self, x):
        span = self.value_range[1] - self.value_range[0]
        d = self._draw((x.shape[0], 1, 1, 1), self.factor[0] * span, self.factor[1] * span,
                       x.device)
        return ops.clip(ops.add(x, d), self.value_range[0], self.value_range[1])
