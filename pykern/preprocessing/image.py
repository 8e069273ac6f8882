"""Keras' image utilities and the legacy ImageDataGenerator
(keras.preprocessing.image), as host-side data preparation in NumPy.

ImageDataGenerator follows Keras 3's legacy implementation draw for draw: the
same NumPy random calls in the same order (np.random seeded with seed + the
batch count, per-sample get_random_transform), Keras' transform matrices and
scipy.ndimage.affine_transform for the geometric part, so flow(..., seed=s)
yields the batches Keras yields. Its iterators are pykern.utils.Sequence
objects that fit/evaluate/predict accept. Decoding images needs Pillow and the
geometric transforms need SciPy (both in the `pykern[image]` extra), as in Keras.
"""
import io
import math
import os
import pathlib
import warnings

import numpy as np

from pykern.utils.argument_validation import standardize_data_format
from pykern.utils.sequence import Sequence

__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator",
           "load_img", "img_to_array", "array_to_img", "save_img", "apply_affine_transform"]

_WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
_EXTRA = 'pip install "pykern[image]"'


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"Reading and writing images needs Pillow: {_EXTRA} (or pip install "
                          f"Pillow)") from None
    return Image


def _ndimage():
    try:
        from scipy import ndimage
    except ImportError:
        raise ImportError(f"ImageDataGenerator's rotations, shifts, shears and zooms need "
                          f"SciPy: {_EXTRA} (or pip install scipy)") from None
    return ndimage


def _resample(interpolation):
    image = _pil()
    methods = {"nearest": image.NEAREST, "bilinear": image.BILINEAR,
               "bicubic": image.BICUBIC, "hamming": image.HAMMING, "box": image.BOX,
               "lanczos": image.LANCZOS}
    if interpolation not in methods:
        raise ValueError(f"load_img: interpolation must be one of {sorted(methods)}, got "
                         f"interpolation={interpolation!r}")
    return methods[interpolation]


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """A PIL image from a file (or BytesIO), converted to color_mode ('grayscale',
    'rgb', 'rgba') and resized by PIL to target_size = (height, width)."""
    image = _pil()
    if isinstance(path, io.BytesIO):
        img = image.open(path)
    elif isinstance(path, (str, bytes, pathlib.Path)):
        with open(path, "rb") as f:
            img = image.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"load_img: path should be path-like or io.BytesIO, got "
                        f"{type(path).__name__}")
    wanted = {"grayscale": "L", "rgba": "RGBA", "rgb": "RGB"}.get(color_mode)
    if wanted is None:
        raise ValueError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', got "
                         f"color_mode={color_mode!r}")
    if img.mode != wanted and not (wanted == "L" and img.mode in ("I;16", "I")):
        img = img.convert(wanted)
    if target_size is not None:
        size = (target_size[1], target_size[0])
        if img.size != size:
            resample = _resample(interpolation)
            if keep_aspect_ratio:  # Keras' centred crop box
                width, height = img.size
                crop_h = min(height, (width * size[1]) // size[0])
                crop_w = min(width, (height * size[0]) // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(size, resample, box=[left, top, left + crop_w, top + crop_h])
            else:
                img = img.resize(size, resample)
    return img


def img_to_array(img, data_format=None, dtype=None):
    """(H, W, C) float32 pixels of a PIL image (a channel axis added for grayscale)."""
    data_format = standardize_data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image from an (H, W, C) array (C of 1, 3 or 4); scale maps the values
    to [0, 255] first."""
    image = _pil()
    data_format = standardize_data_format(data_format, "array_to_img")
    x = np.asarray(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3, got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x /= top
        x *= 255
    channels = x.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f"array_to_img: unsupported channel number {channels}")
    if channels == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    return image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes an image array to a file (the format from the suffix unless given)."""
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def _offset_center(matrix, x, y):
    o_x, o_y = float(x) / 2 - 0.5, float(y) / 2 - 0.5
    offset = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return offset @ matrix @ reset


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=1, col_axis=2,
                           channel_axis=0, fill_mode="nearest", cval=0.0, order=1):
    """Keras' legacy apply_affine_transform of one image (rotation theta and shear in
    degrees, shifts tx/ty in pixels, zooms zx/zy) about the image centre."""
    if sorted((row_axis, col_axis, channel_axis)) != [0, 1, 2] or channel_axis not in (0, 2):
        raise ValueError(f"apply_affine_transform: row/col/channel axes must be a permutation "
                         f"of 0, 1, 2 with channels first or last, got {row_axis}, {col_axis}, "
                         f"{channel_axis}")
    if x.ndim != 3:
        raise ValueError(f"apply_affine_transform: expected a 3-D image, got shape {x.shape}")
    steps = []
    if theta != 0:
        t = np.deg2rad(theta)
        steps.append(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],
                               [0, 0, 1]]))
    if tx != 0 or ty != 0:
        steps.append(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]))
    if shear != 0:
        s = np.deg2rad(shear)
        steps.append(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        steps.append(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    if not steps:
        return x
    matrix = steps[0]
    for step in steps[1:]:
        matrix = matrix @ step
    matrix = _offset_center(matrix, x.shape[row_axis], x.shape[col_axis])
    x = np.rollaxis(x, channel_axis, 0)
    if col_axis > row_axis:
        matrix[:, [0, 1]] = matrix[:, [1, 0]]
        matrix[[0, 1]] = matrix[[1, 0]]
    ndimage = _ndimage()
    channels = [ndimage.affine_transform(c, matrix[:2, :2], matrix[:2, 2], order=order,
                                         mode=fill_mode, cval=cval) for c in x]
    return np.rollaxis(np.stack(channels, axis=0), 0, channel_axis + 1)


def _flip_axis(x, axis):
    return np.asarray(x).swapaxes(axis, 0)[::-1, ...].swapaxes(0, axis)


def _brightness_shift(x, brightness):
    from PIL import ImageEnhance
    x_min, x_max = np.min(x), np.max(x)
    local_scale = (x_min < 0) or (x_max > 255)
    img = ImageEnhance.Brightness(array_to_img(x, scale=local_scale)).enhance(brightness)
    x = img_to_array(img)
    return x / 255 * (x_max - x_min) + x_min if local_scale else x


class ImageDataGenerator:
    """Keras' legacy real-time image augmentation: random rotations, shifts,
    shears, zooms, channel/brightness shifts and flips, then rescaling and
    sample/feature-wise standardization; flow() over arrays and
    flow_from_directory() over a folder of class sub-folders."""

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0, width_shift_range=0.0,
                 height_shift_range=0.0, brightness_range=None, shear_range=0.0, zoom_range=0.0,
                 channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None,
                 data_format=None, validation_split=0.0, interpolation_order=1, dtype=None):
        self.data_format = standardize_data_format(data_format, "ImageDataGenerator")
        self.dtype = dtype or "float32"
        self.featurewise_center = featurewise_center or featurewise_std_normalization or \
            zca_whitening
        self.samplewise_center = samplewise_center or samplewise_std_normalization
        self.featurewise_std_normalization = featurewise_std_normalization and not zca_whitening
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening, self.zca_epsilon = zca_whitening, zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range, self.height_shift_range = width_shift_range, height_shift_range
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in ("constant", "nearest", "reflect", "wrap"):
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of 'constant', "
                             f"'nearest', 'reflect', 'wrap', got fill_mode={fill_mode!r}")
        self.fill_mode, self.cval = fill_mode, cval
        self.horizontal_flip, self.vertical_flip = horizontal_flip, vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.interpolation_order = interpolation_order
        self.channel_axis, self.row_axis, self.col_axis = (1, 2, 3) if \
            self.data_format == "channels_first" else (3, 1, 2)
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"ImageDataGenerator: validation_split must be strictly between 0 "
                             f"and 1, got validation_split={validation_split!r}")
        self._validation_split = validation_split
        self.mean = self.std = self.zca_whitening_matrix = None
        if isinstance(zoom_range, (float, int)) and not isinstance(zoom_range, bool):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif isinstance(zoom_range, (tuple, list)) and len(zoom_range) == 2 and all(
                isinstance(v, (float, int)) for v in zoom_range):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"ImageDataGenerator: zoom_range must be a float or a pair of "
                             f"floats, got zoom_range={zoom_range!r}")
        if brightness_range is not None and (not isinstance(brightness_range, (tuple, list)) or
                                             len(brightness_range) != 2):
            raise ValueError(f"ImageDataGenerator: brightness_range must be a pair of floats, "
                             f"got brightness_range={brightness_range!r}")
        self.brightness_range = brightness_range

    # --- iterators --------------------------------------------------------------------------
    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False,
             subset=None):
        """A Sequence of augmented (x, y[, sample_weight]) batches of the arrays."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed,
                                  ignore_class_split=ignore_class_split, subset=subset,
                                  save_to_dir=save_to_dir, save_prefix=save_prefix,
                                  save_format=save_format)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32, shuffle=True,
                            seed=None, save_to_dir=None, save_prefix="", save_format="png",
                            follow_links=False, subset=None, interpolation="nearest",
                            keep_aspect_ratio=False):
        """A Sequence of augmented batches of the images in directory/<class>/..."""
        return DirectoryIterator(directory, self, target_size=target_size,
                                 color_mode=color_mode, classes=classes, class_mode=class_mode,
                                 batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 follow_links=follow_links, subset=subset,
                                 interpolation=interpolation,
                                 keep_aspect_ratio=keep_aspect_ratio, save_to_dir=save_to_dir,
                                 save_prefix=save_prefix, save_format=save_format)

    # --- transforms ---------------------------------------------------------------------------
    def standardize(self, x):
        """preprocessing_function, rescale, then the sample-/feature-wise statistics
        (in place on float arrays, as Keras)."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        for on, value, what in ((self.featurewise_center, self.mean, "featurewise_center"),
                                (self.featurewise_std_normalization, self.std,
                                 "featurewise_std_normalization"),
                                (self.zca_whitening, self.zca_whitening_matrix,
                                 "zca_whitening")):
            if on and value is None:
                warnings.warn(f"This ImageDataGenerator specifies `{what}`, but it hasn't been "
                              f"fit on any training data. Fit it first by calling "
                              f"`.fit(numpy_data)`.")
        if self.featurewise_center and self.mean is not None:
            x -= self.mean
        if self.featurewise_std_normalization and self.std is not None:
            x /= self.std + 1e-6
        if self.zca_whitening and self.zca_whitening_matrix is not None:
            flat = x.reshape(-1, math.prod(x.shape[-3:]))
            x = np.reshape(flat @ self.zca_whitening_matrix, x.shape)
        return x

    def _shift(self, shift_range, size):
        try:  # a list (or int) of allowed shifts
            t = np.random.choice(shift_range)
            t *= np.random.choice([-1, 1])
        except ValueError:  # a float range
            t = np.random.uniform(-shift_range, shift_range)
        if np.max(shift_range) < 1:
            t *= size
        return t

    def get_random_transform(self, img_shape, seed=None):
        """The random parameters for one image, drawn with NumPy's global generator in
        Keras' order."""
        if seed is not None:
            np.random.seed(seed)
        theta = np.random.uniform(-self.rotation_range, self.rotation_range) if \
            self.rotation_range else 0
        tx = self._shift(self.height_shift_range, img_shape[self.row_axis - 1]) if \
            self.height_shift_range else 0
        ty = self._shift(self.width_shift_range, img_shape[self.col_axis - 1]) if \
            self.width_shift_range else 0
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range \
            else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_h = (np.random.random() < 0.5) * self.horizontal_flip
        flip_v = (np.random.random() < 0.5) * self.vertical_flip
        channel_shift = np.random.uniform(-self.channel_shift_range, self.channel_shift_range) \
            if self.channel_shift_range != 0 else None
        brightness = np.random.uniform(*self.brightness_range) if \
            self.brightness_range is not None else None
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_h, "flip_vertical": flip_v,
                "channel_shift_intensity": channel_shift, "brightness": brightness}

    def apply_transform(self, x, transform_parameters):
        """One image (H, W, C) transformed by the given parameters."""
        p = transform_parameters
        row, col, channel = self.row_axis - 1, self.col_axis - 1, self.channel_axis - 1
        x = apply_affine_transform(x, p.get("theta", 0), p.get("tx", 0), p.get("ty", 0),
                                   p.get("shear", 0), p.get("zx", 1), p.get("zy", 1),
                                   row_axis=row, col_axis=col, channel_axis=channel,
                                   fill_mode=self.fill_mode, cval=self.cval,
                                   order=self.interpolation_order)
        if p.get("channel_shift_intensity") is not None:
            x = np.rollaxis(x, channel, 0)
            lo, hi = np.min(x), np.max(x)
            x = np.stack([np.clip(c + p["channel_shift_intensity"], lo, hi) for c in x])
            x = np.rollaxis(x, 0, channel + 1)
        if p.get("flip_horizontal", False):
            x = _flip_axis(x, col)
        if p.get("flip_vertical", False):
            x = _flip_axis(x, row)
        if p.get("brightness") is not None:
            x = _brightness_shift(x, p["brightness"])
        return x

    def random_transform(self, x, seed=None):
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Computes the feature-wise mean/std (and ZCA matrix) of the images x (N, H, W, C)."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"ImageDataGenerator.fit: expected images of rank 4, got shape "
                             f"{x.shape}")
        if seed is not None:
            np.random.seed(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            ax = np.zeros((rounds * x.shape[0],) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                for i in range(x.shape[0]):
                    ax[i + r * x.shape[0]] = self.random_transform(x[i])
            x = ax
        broadcast = [1, 1, 1]
        broadcast[self.channel_axis - 1] = x.shape[self.channel_axis]
        axes = (0, self.row_axis, self.col_axis)
        if self.featurewise_center:
            self.mean = np.reshape(np.mean(x, axis=axes), broadcast)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.reshape(np.std(x, axis=axes), broadcast)
            x /= self.std + 1e-6
        if self.zca_whitening:
            flat = np.reshape(x, (len(x), -1))
            u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
            self.zca_whitening_matrix = (u * (np.sqrt(len(x)) / (s + self.zca_epsilon))) @ u.T


class Iterator(Sequence):
    """Batches of indices over n samples: Keras' legacy Iterator (a Sequence whose
    __getitem__ seeds NumPy with seed + the number of batches served, and shuffles
    the order on first use and after every epoch)."""

    white_list_formats = _WHITE_LIST_FORMATS

    def __init__(self, n, batch_size, shuffle, seed):
        super().__init__()
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.index_array = None

    def _set_index_array(self):
        self.index_array = np.random.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length "
                             f"{len(self)}")
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        return self._batch(self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)])

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_end(self):
        self._set_index_array()

    def _save(self, batch_x, index_array, save_to_dir, prefix, file_format):
        for i, j in enumerate(index_array):
            name = f"{prefix}_{j}_{np.random.randint(1e4)}.{file_format}"
            array_to_img(batch_x[i], self.data_format, scale=True).save(
                os.path.join(save_to_dir, name))


class NumpyArrayIterator(Iterator):
    """flow(): augmented batches of an (N, H, W, C) array and its labels."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False,
                 sample_weight=None, seed=None, ignore_class_split=False, subset=None,
                 save_to_dir=None, save_prefix="", save_format="png"):
        self.dtype = image_data_generator.dtype
        self.data_format = image_data_generator.data_format
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, \
            save_format
        x_misc = []
        if isinstance(x, (tuple, list)):
            x_misc = [np.asarray(v) for v in (x[1] if isinstance(x[1], list) else [x[1]])]
            x = x[0]
            for v in x_misc:
                if len(v) != len(x):
                    raise ValueError(f"flow: all arrays in `x` must have the same length, got "
                                     f"{len(x)} and {len(v)}")
        if y is not None and len(x) != len(y):
            raise ValueError(f"flow: `x` (images) and `y` (labels) must have the same length, "
                             f"got x.shape={np.shape(x)} and y.shape={np.shape(y)}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError(f"flow: `x` and `sample_weight` must have the same length, got "
                             f"{len(x)} and {len(sample_weight)}")
        if subset is not None:
            if subset not in ("training", "validation"):
                raise ValueError(f"flow: subset must be 'training' or 'validation', got "
                                 f"subset={subset!r}")
            split = int(len(x) * image_data_generator._validation_split)
            if y is not None and not ignore_class_split and not np.array_equal(
                    np.unique(y[:split]), np.unique(y[split:])):
                raise ValueError("flow: the training and validation subsets have different "
                                 "classes after the split; if the arrays are sorted by label, "
                                 "shuffle them first")
            part = slice(None, split) if subset == "validation" else slice(split, None)
            x, x_misc = x[part], [v[part] for v in x_misc]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x = np.asarray(x, dtype=self.dtype)
        if self.x.ndim != 4:
            raise ValueError(f"flow: the images must have rank 4, got shape {self.x.shape}")
        self.x_misc = x_misc
        self.y = None if y is None else np.asarray(y)
        self.sample_weight = None if sample_weight is None else np.asarray(sample_weight)
        self.image_data_generator = image_data_generator
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _batch(self, index_array):
        gen = self.image_data_generator
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        for i, j in enumerate(index_array):
            x = self.x[j]
            params = gen.get_random_transform(x.shape)
            batch_x[i] = gen.standardize(gen.apply_transform(x.astype(self.dtype), params))
        if self.save_to_dir:
            self._save(batch_x, index_array, self.save_to_dir, self.save_prefix,
                       self.save_format)
        misc = [v[index_array] for v in self.x_misc]
        inputs = [batch_x] + misc if misc else batch_x
        if self.y is None:
            return inputs
        if self.sample_weight is None:
            return inputs, self.y[index_array]
        return inputs, self.y[index_array], self.sample_weight[index_array]


def _valid_files(directory, follow_links):
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda w: w[0]):
        for name in sorted(files):
            if name.lower().endswith(_WHITE_LIST_FORMATS):
                yield root, name


class DirectoryIterator(Iterator):
    """flow_from_directory(): one class per sub-folder (sorted names, or `classes`),
    images listed in sorted walk order; validation_split takes the first fraction
    of each class for 'validation' and the rest for 'training'."""

    allowed_class_modes = ("categorical", "binary", "sparse", "input", None)

    def __init__(self, directory, image_data_generator, target_size=(256, 256),
                 color_mode="rgb", classes=None, class_mode="categorical", batch_size=32,
                 shuffle=True, seed=None, follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, save_to_dir=None,
                 save_prefix="", save_format="png"):
        gen = image_data_generator
        self.image_data_generator = gen
        self.dtype, self.data_format = gen.dtype, gen.data_format
        self.target_size = tuple(target_size)
        if color_mode not in ("rgb", "rgba", "grayscale"):
            raise ValueError(f"flow_from_directory: color_mode must be 'rgb', 'rgba' or "
                             f"'grayscale', got color_mode={color_mode!r}")
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"flow_from_directory: class_mode must be one of "
                             f"{self.allowed_class_modes}, got class_mode={class_mode!r}")
        if subset not in (None, "training", "validation"):
            raise ValueError(f"flow_from_directory: subset must be 'training' or 'validation', "
                             f"got subset={subset!r}")
        if not os.path.isdir(directory):
            raise ValueError(f"flow_from_directory: {directory!r} is not a directory")
        self.color_mode, self.class_mode = color_mode, class_mode
        self.interpolation, self.keep_aspect_ratio = interpolation, keep_aspect_ratio
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, \
            save_format
        channels = {"rgba": 4, "rgb": 3, "grayscale": 1}[color_mode]
        self.image_shape = (channels,) + self.target_size if \
            self.data_format == "channels_first" else self.target_size + (channels,)
        split = None
        if subset is not None:
            v = gen._validation_split
            split = (0, v) if subset == "validation" else (v, 1)
        self.directory = directory
        if not classes:
            classes = [d for d in sorted(os.listdir(directory))
                       if os.path.isdir(os.path.join(directory, d))]
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        self.filenames, labels = [], []
        for name in classes:
            path = os.path.join(directory, name)
            files = list(_valid_files(path, follow_links))
            if split:
                files = files[int(split[0] * len(files)):int(split[1] * len(files))]
            for root, fname in files:
                self.filenames.append(os.path.join(name, os.path.relpath(
                    os.path.join(root, fname), path)))
                labels.append(self.class_indices[name])
        self.classes = np.array(labels, dtype="int32")
        self.samples = len(self.filenames)
        self.filepaths = [os.path.join(directory, f) for f in self.filenames]
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def labels(self):
        return self.classes

    def _batch(self, index_array):
        gen = self.image_data_generator
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        for i, j in enumerate(index_array):
            img = load_img(self.filepaths[j], color_mode=self.color_mode,
                           target_size=self.target_size, interpolation=self.interpolation,
                           keep_aspect_ratio=self.keep_aspect_ratio)
            x = img_to_array(img, data_format=self.data_format)
            img.close()
            params = gen.get_random_transform(x.shape)
            batch_x[i] = gen.standardize(gen.apply_transform(x, params))
        if self.save_to_dir:
            self._save(batch_x, index_array, self.save_to_dir, self.save_prefix,
                       self.save_format)
        if self.class_mode == "input":
            return batch_x, batch_x.copy()
        if self.class_mode in ("binary", "sparse"):
            return batch_x, self.classes[index_array].astype(self.dtype)
        if self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            batch_y[np.arange(len(batch_x)), self.classes[index_array]] = 1.0
            return batch_x, batch_y
        return batch_x
