"""Image preprocessing layers that run inside the model and are saved with it:
Rescaling, Normalization (with adapt), Resizing and CenterCrop, with Keras 3's
arguments, configs and outputs. Each computes with pykern.ops (on the inputs'
device); Normalization keeps Keras' weights mean, variance and count.

Images are (B, H, W, C) batches or single (H, W, C) images (channels first under
data_format='channels_first'); integer inputs are cast to float32, as Keras'
layers do.
"""
import math
import numbers

import numpy as np

from pykern import ops
from pykern.backend.tensor import Tensor
from pykern.layers.layer import Layer
from pykern.layers.reshaping import _Spatial
from pykern.ops.image import RESIZE_INTERPOLATIONS

__all__ = ["Rescaling", "Normalization", "Resizing", "CenterCrop"]

_EPSILON = 1e-7  # keras.backend.epsilon(): the floor of Normalization's standard deviation


def _positive_int(where, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{where}: `{name}` must be a positive integer, got {name}={value!r}")
    return int(value)


class ImageLayer(_Spatial):
    """What the image preprocessing layers share: data_format (standardised by the
    spatial layers' base; in the config right after the base keys, as Keras'
    BaseImagePreprocessingLayer), the rank check and the height/width axes."""

    _dims = 2

    def _check_images(self, shape):
        if len(shape) not in (3, 4):
            raise ValueError(f"{self._where} expects images of rank 3 (one image) or 4 (a "
                             f"batch), got shape {tuple(shape)}")

    def _hw_axes(self, ndim):
        """The (height, width) axes of an input of rank ndim."""
        return (ndim - 2, ndim - 1) if self.data_format == "channels_first" else \
            (ndim - 3, ndim - 2)

    def _with_hw(self, input_shape, height, width):
        self._check_images(input_shape)
        shape = list(input_shape)
        h, w = self._hw_axes(len(shape))
        shape[h], shape[w] = height, width
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Rescaling(Layer):
    """inputs * scale + offset (scale and offset: numbers, or per-channel lists)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            try:
                np.asarray(value, dtype=np.float32)
            except (TypeError, ValueError):
                raise ValueError(f"Rescaling {self.name!r}: `{name}` must be a number or a list "
                                 f"of numbers, got {name}={value!r}") from None
        self.scale = scale
        self.offset = offset
        self.supports_masking = True

    def call(self, inputs):
        scale = np.asarray(self.scale, dtype=np.float32)
        offset = np.asarray(self.offset, dtype=np.float32)
        return ops.add(ops.multiply(ops.cast(inputs, "float32"), scale), offset)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _first_batch(batch):
    """Keras' _extract_batch: the inputs of an (x, y[, w]) tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """(inputs - mean) / max(sqrt(variance), 1e-7) per index of `axis` (the kept
    axes; None normalises with one scalar); invert=True maps back. mean/variance
    come from the arguments or from adapt(data), which stores them in Keras'
    non-trainable weights mean, variance and count (count stays 0, as in Keras)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise ValueError(f"{self._where}: `axis` must be None, an int or a tuple of "
                                 f"ints, got axis={axis!r}") from None
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self.supports_masking = True
        self.adapt_mean = self.adapt_variance = self.count = None
        self._consts = None
        if (mean is None) != (variance is None):
            raise ValueError(f"{self._where}: when setting values directly, both `mean` and "
                             f"`variance` must be set, got mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"{self._where}: `mean` and `variance` must have the same "
                                 f"shape, got {np.shape(mean)} and {np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"{self._where}: the rank of `mean` must be at most the "
                                 f"number of axes ({len(self.axis)}), got mean shape "
                                 f"{np.shape(mean)} for axis={self.axis}")

    @property
    def _where(self):
        return f"Normalization {self.name!r}"

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"{self._where}: every axis must be in [-{ndim}, {ndim}) for "
                             f"inputs of shape {tuple(input_shape)}, got axis={self.axis}")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for a in self._keep:
            if input_shape[a] is None:
                raise ValueError(f"{self._where}: the kept axes must have a known size, got "
                                 f"axis={self.axis} for inputs of shape {tuple(input_shape)}")
        self._reduce = tuple(a for a in range(ndim) if a not in self._keep)
        self._broadcast = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        self._stat_shape = tuple(input_shape[a] for a in self._keep)
        object.__setattr__(self, "_input_shape_built", tuple(input_shape))
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=self._stat_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=self._stat_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64",
                                         initializer="zeros", trainable=False)
        else:
            self._consts = tuple(self._broadcast_given(v) for v in
                                 (self.input_mean, self.input_variance))
        self.built = True

    def _broadcast_given(self, value):
        """A given mean/variance aligned right-to-left with the kept axes (Keras' rule)."""
        v = np.asarray(value, dtype=np.float32)
        if v.ndim:
            shape = [1] * len(self._broadcast)
            for i in range(1, v.ndim + 1):
                shape[self._keep[-i]] = v.shape[-i]
            v = v.reshape(shape)
        return np.broadcast_to(v, self._broadcast)

    def _statistics(self):
        if self._consts is not None:
            return self._consts
        return (ops.reshape(self.adapt_mean, self._broadcast),
                ops.reshape(self.adapt_variance, self._broadcast))

    def call(self, inputs):
        mean, variance = self._statistics()
        std = ops.maximum(ops.sqrt(variance), _EPSILON)
        x = ops.cast(inputs, "float32")
        if self.invert:
            return ops.add(mean, ops.multiply(x, std))
        return ops.divide(ops.subtract(x, mean), std)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def adapt(self, data):
        """Sets mean and variance to those of `data`: an array or tensor (one batch), or
        a Sequence / iterable of batches (tuples give their first element), merged as
        Keras does (running mean and lack-of-fit variance, weighted by batch sizes)."""
        if self.input_mean is not None:
            raise ValueError(f"{self._where}: cannot adapt a layer built with a fixed mean and "
                             f"variance")
        if isinstance(data, (np.ndarray, Tensor)):
            batches = None
            shape = tuple(data.shape)
        elif hasattr(data, "__iter__") or hasattr(data, "__getitem__"):
            batches = iter(data)
            first = next(batches, None)
            if first is None:
                raise ValueError(f"{self._where}: adapt() received an empty iterable (no "
                                 f"batches)")
            first = _first_batch(first)
            if not hasattr(first, "shape"):
                raise TypeError(f"{self._where}: adapt() expects batches with a `.shape` "
                                f"(arrays or tensors), got {type(first).__name__}")
            shape = tuple(first.shape)
        else:
            raise TypeError(f"{self._where}: adapt() takes an array, a tensor, a Sequence or "
                            f"an iterable of batches, got {type(data).__name__}")
        if not self.built:
            self._build_once(shape)
        self._check_adapt_shape(shape)
        if batches is None:
            mean = ops.mean(data, axis=self._reduce)
            var = ops.var(data, axis=self._reduce)
        else:
            mean, var = self._merge_batches(first, batches)
        self.adapt_mean.assign(ops.reshape(mean, self._stat_shape))
        self.adapt_variance.assign(ops.reshape(var, self._stat_shape))

    def _check_adapt_shape(self, shape):
        built = self._input_shape_built
        if len(shape) != len(built) or any(shape[a] != built[a] for a in self._keep):
            raise ValueError(f"{self._where} was built with input shape {built}, but adapt() "
                             f"got data of incompatible shape {shape}")

    def _merge_batches(self, first, rest):
        mean = var = None
        total = 0
        for batch in (first, *(_first_batch(b) for b in rest)):
            self._check_adapt_shape(tuple(batch.shape))
            b_mean = ops.mean(batch, axis=self._reduce)
            b_var = ops.var(batch, axis=self._reduce)
            count = math.prod(batch.shape[a] for a in self._reduce)
            total += count
            w_new = float(count) / total
            w_old = 1.0 - w_new
            if mean is None:
                mean, var = b_mean, b_var
                continue
            new_mean = ops.add(ops.multiply(mean, w_old), ops.multiply(b_mean, w_new))
            var = ops.add(ops.multiply(ops.add(var, ops.square(ops.subtract(mean, new_mean))),
                                       w_old),
                          ops.multiply(ops.add(b_var, ops.square(ops.subtract(b_mean,
                                                                              new_mean))),
                                       w_new))
            mean = new_mean
        return mean, var

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}


class Resizing(ImageLayer):
    """Resizes images to (height, width) as tf.image.resize ('bilinear' or
    'nearest'), optionally centre-cropping (crop_to_aspect_ratio) or padding with
    fill_value (pad_to_aspect_ratio) to the target aspect ratio first."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.height = _positive_int(self._where, "height", height)
        self.width = _positive_int(self._where, "width", width)
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise ValueError(f"{self._where}: `interpolation` must be one of "
                             f"{RESIZE_INTERPOLATIONS}, got interpolation={interpolation!r}")
        if fill_mode != "constant":
            raise ValueError(f"{self._where}: only fill_mode='constant' is supported, got "
                             f"fill_mode={fill_mode!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{self._where}: only one of crop_to_aspect_ratio and "
                             f"pad_to_aspect_ratio can be True")
        if antialias:
            raise NotImplementedError(f"{self._where}: antialias=True is not implemented")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = False

    def call(self, inputs):
        self._check_images(inputs.shape)
        return ops.image.resize(inputs, (self.height, self.width), self.interpolation,
                                crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                pad_to_aspect_ratio=self.pad_to_aspect_ratio,
                                fill_value=self.fill_value, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        return self._with_hw(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(ImageLayer):
    """The central (height, width) window; an image smaller than that on either side
    is centre-cropped to the target aspect ratio and resized (bilinear), as Keras'
    smart_resize."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.height = _positive_int(self._where, "height", height)
        self.width = _positive_int(self._where, "width", width)

    def call(self, inputs):
        self._check_images(inputs.shape)
        h_axis, w_axis = self._hw_axes(inputs.ndim)
        h_diff = inputs.shape[h_axis] - self.height
        w_diff = inputs.shape[w_axis] - self.width
        if h_diff >= 0 and w_diff >= 0:
            index = [slice(None)] * inputs.ndim
            index[h_axis] = slice(h_diff // 2, h_diff // 2 + self.height)
            index[w_axis] = slice(w_diff // 2, w_diff // 2 + self.width)
            return ops.getitem(ops.cast(inputs, "float32"), tuple(index))
        return ops.image.resize(inputs, (self.height, self.width), "bilinear",
                                crop_to_aspect_ratio=True, data_format=self.data_format)

    def compute_output_shape(self, input_shape):
        return self._with_hw(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
