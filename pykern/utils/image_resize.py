"""Image resizing on the host as tf.image.resize computes it (antialias=False), for
image_dataset_from_directory: each method is a separable (out, in) weight matrix
per axis, built with TensorFlow's sampling rules (half-pixel centres; edge taps
clamped for bilinear/nearest, dropped and renormalised for the others).
Also Keras' crop_to_aspect_ratio (smart_resize) and tf.image.resize_with_pad."""
import math

import numpy as np

__all__ = ["INTERPOLATIONS", "resize", "crop_to_aspect_ratio", "resize_with_pad"]


def _bilinear(in_size, out_size):
    scale = np.float32(in_size / out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    low = np.floor(src)
    frac = (src - low).astype(np.float64)
    lo = np.clip(low.astype(np.int64), 0, in_size - 1)
    hi = np.clip(np.ceil(src).astype(np.int64), 0, in_size - 1)
    w = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(w, (rows, lo), 1 - frac)
    np.add.at(w, (rows, hi), frac)
    return w


def _nearest(in_size, out_size):
    scale = np.float32(in_size / out_size)
    src = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale)
    w = np.zeros((out_size, in_size))
    w[np.arange(out_size), np.clip(src.astype(np.int64), 0, in_size - 1)] = 1.0
    return w


def _area(in_size, out_size):
    """Box filter: each output pixel averages the input interval it covers."""
    scale = in_size / out_size
    w = np.zeros((out_size, in_size))
    for o in range(out_size):
        start, end = o * scale, (o + 1) * scale
        for i in range(int(math.floor(start)), int(math.ceil(end))):
            w[o, min(i, in_size - 1)] += (min(i + 1, end) - max(i, start)) / scale
    return w


def _bicubic(in_size, out_size, a=-0.5, table_size=1024):
    """TensorFlow's resize_bicubic: Keys' cubic (a = -0.5) read from a table of
    table_size + 1 steps, the 4 taps around the sample, those outside the image
    dropped and the rest renormalised."""
    scale = np.float32(in_size / out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    base = np.floor(src)
    step = np.rint((src - base) * np.float32(table_size)).astype(np.int64)
    t = np.arange(table_size + 1, dtype=np.float64) / table_size
    near = (((a + 2) * t - (a + 3)) * t * t + 1).astype(np.float32)  # distance t
    far = (((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a).astype(np.float32)
    taps = base.astype(np.int64)[:, None] + np.arange(-1, 3)
    w = np.stack([far[step], near[step], near[table_size - step], far[table_size - step]],
                 axis=1).astype(np.float64)
    w[(taps < 0) | (taps >= in_size)] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    out = np.zeros((out_size, in_size))
    rows = np.repeat(np.arange(out_size), 4)
    np.add.at(out, (rows, np.clip(taps, 0, in_size - 1).ravel()), w.ravel())
    return out


def _mitchell(x):
    x = np.abs(x)
    return np.where(x < 1, ((7 / 6 * x - 2) * x) * x + 8 / 9,
                    np.where(x < 2, ((-7 / 18 * x + 2) * x - 10 / 3) * x + 16 / 9, 0.0))


def _lanczos(radius):
    def kernel(x):
        x = np.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius) / (np.pi * np.pi * x * x)
        return np.where(x > radius, 0.0, np.where(x <= 1e-3, 1.0, v))
    return kernel


def _gaussian(x, radius=1.5, sigma=0.5):
    x = np.abs(x)
    return np.where(x >= radius, 0.0, np.exp(-x * x / (2 * sigma * sigma)))


def _kernel_weights(kernel, radius):
    """Weights of tf.image.scale_and_translate (antialias=False): taps within `radius`
    of the sample point, those outside the image dropped, each row summing to 1."""
    def build(in_size, out_size):
        sample = (np.arange(out_size) + 0.5) * (in_size / out_size)
        taps = np.arange(in_size) + 0.5
        w = kernel(taps[None, :] - sample[:, None])
        w[np.abs(taps[None, :] - sample[:, None]) > radius + 0.5] = 0.0
        total = w.sum(axis=1, keepdims=True)
        return np.divide(w, total, out=np.zeros_like(w), where=np.abs(total) > 1e-30)
    return build


INTERPOLATIONS = {
    "bilinear": _bilinear,
    "nearest": _nearest,
    "bicubic": _bicubic,
    "area": _area,
    "lanczos3": _kernel_weights(_lanczos(3), 3),
    "lanczos5": _kernel_weights(_lanczos(5), 5),
    "gaussian": _kernel_weights(_gaussian, 1.5),
    "mitchellcubic": _kernel_weights(_mitchell, 2),
}


def resize(image, size, interpolation="bilinear"):
    """(height, width, channels) image resized to size = (height, width): float32, or
    the image's own dtype for 'nearest' (tf.image.resize's rule)."""
    h, w = image.shape[:2]
    if interpolation == "nearest":
        rows = np.argmax(_nearest(h, size[0]), axis=1)
        cols = np.argmax(_nearest(w, size[1]), axis=1)
        return image[rows[:, None], cols[None, :]]
    if (h, w) == tuple(size):
        return image.astype(np.float32)
    build = INTERPOLATIONS[interpolation]
    wy, wx = build(h, size[0]), build(w, size[1])
    out = np.einsum("yh,hwc,xw->yxc", wy, image.astype(np.float64), wx, optimize=True)
    return out.astype(np.float32)


def crop_to_aspect_ratio(image, size):
    """The centred crop of `image` with the aspect ratio of size, as Keras' smart_resize."""
    height, width = image.shape[:2]
    target_h, target_w = size
    crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
    crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
    top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
    return image[top:top + crop_h, left:left + crop_w]


def resize_with_pad(image, size, interpolation="bilinear"):
    """Resized to fit inside size keeping its aspect ratio, centred on zeros, as
    tf.image.resize_with_pad."""
    height, width = image.shape[:2]
    target_h, target_w = size
    ratio = max(width / target_w, height / target_h)
    new_h, new_w = int(height / ratio), int(width / ratio)
    # the offsets come from the unrounded size, as TensorFlow computes them
    top = max(0, int(math.floor((target_h - height / ratio) / 2)))
    left = max(0, int(math.floor((target_w - width / ratio) / 2)))
    inner = resize(image, (new_h, new_w), interpolation)
    out = np.zeros((target_h, target_w, image.shape[2]), inner.dtype)
    out[top:top + new_h, left:left + new_w] = inner
    return out
