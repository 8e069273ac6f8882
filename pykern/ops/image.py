"""keras.ops.image on the device seam: resize (TensorFlow's half-pixel bilinear
and nearest sampling, with Keras' crop_to_aspect_ratio / pad_to_aspect_ratio)
and affine_transform (TensorFlow's ImageProjectiveTransformV3 with Keras' fill
modes, one kernel pair). Images are (B, H, W, C) or one (H, W, C) image, or
channels first under data_format='channels_first'.

Resizing is gathers of pykern.ops whose index arrays depend on the static
shapes only (never on values), so gradients come for free; the affine
transform's coordinates depend on the transform's values, so it is a kernel.
"""
import numpy as np

from pykern.ops.core import _out, _t, _ts
from pykern.ops import elementwise as _ew
from pykern.ops import shape as _shape
from pykern.utils.argument_validation import standardize_data_format

__all__ = ["resize", "affine_transform", "RESIZE_INTERPOLATIONS", "AFFINE_INTERPOLATIONS",
           "FILL_MODES"]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
AFFINE_INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("constant", "nearest", "wrap", "reflect")
_F32 = np.float32


def _source(n, out):
    """TensorFlow's half-pixel source coordinates (float32) of `out` samples of `n`."""
    scale = _F32(n) / _F32(out)
    return (np.arange(out, dtype=_F32) + _F32(0.5)) * scale


def resize_axis(x, axis, out, interpolation):
    """x resized to `out` along `axis` as tf.image.resize (antialias=False): bilinear
    samples c = (o + 0.5) * n / out - 0.5 between floor(c) and ceil(c) clamped to
    [0, n - 1], as lo + (hi - lo) * (c - floor(c)); nearest takes
    min(floor((o + 0.5) * n / out), n - 1)."""
    n = x.shape[axis]
    lead = (slice(None),) * axis
    if interpolation == "nearest":
        index = np.minimum(np.floor(_source(n, out)), n - 1).astype(np.int64)
        return _shape.getitem(x, lead + (index,))
    source = _source(n, out) - _F32(0.5)
    floor = np.floor(source)
    lo = np.maximum(floor, 0).astype(np.int64)
    hi = np.minimum(np.ceil(source), n - 1).astype(np.int64)
    lerp = (source - floor).reshape((-1,) + (1,) * (x.ndim - axis - 1))
    low = _shape.getitem(x, lead + (lo,))
    return _ew.add(low, _ew.multiply(_ew.subtract(_shape.getitem(x, lead + (hi,)), low), lerp))


def _to_nhwc(x, data_format):
    """x as a (B, H, W, C) tensor and a function that undoes the change."""
    single = x.ndim == 3
    if single:
        x = _shape.expand_dims(x, 0)
    if data_format == "channels_first":
        x = _shape.transpose(x, (0, 2, 3, 1))

    def back(y):
        if data_format == "channels_first":
            y = _shape.transpose(y, (0, 3, 1, 2))
        return _shape.squeeze(y, 0) if single else y
    return x, back


def _check_rank(x, op):
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: expected images of rank 3 (one image) or 4 (a batch), got "
                         f"shape {tuple(x.shape)}")


def _crop_box(height, width, target_h, target_w):
    """Keras' centred crop to the target aspect ratio (int32/float32 arithmetic of its
    TensorFlow backend): (top, left, crop_h, crop_w)."""
    crop_h = max(min(height, int(_F32(width * target_h) / _F32(target_w))), 1)
    crop_w = max(min(width, int(_F32(height * target_w) / _F32(target_h))), 1)
    return int(_F32(height - crop_h) / 2), int(_F32(width - crop_w) / 2), crop_h, crop_w


def _pad_to_aspect(x, target_h, target_w, fill_value):
    """Keras' pad_to_aspect_ratio: fill_value bands above/below or left/right (the same
    width on both sides) so the image takes the target aspect ratio."""
    height, width = x.shape[1], x.shape[2]
    pad_h = max(height, int(_F32(width * target_h) / _F32(target_w)))
    pad_w = max(width, int(_F32(height * target_w) / _F32(target_h)))
    top = int(_F32(pad_h - height) / 2)
    left = int(_F32(pad_w - width) / 2)
    if top > 0:
        x = _shape.pad(x, ((0, 0), (top, top), (0, 0), (0, 0)), constant_values=fill_value)
    if left > 0:
        x = _shape.pad(x, ((0, 0), (0, 0), (left, left), (0, 0)), constant_values=fill_value)
    return x


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """keras.ops.image.resize: images resized to size = (height, width)."""
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError(f"resize: interpolation must be one of {RESIZE_INTERPOLATIONS}, got "
                         f"interpolation={interpolation!r}")
    if antialias:
        raise NotImplementedError("resize: antialias=True is not implemented")
    if fill_mode != "constant":
        raise ValueError(f"resize: only fill_mode='constant' is supported, got "
                         f"fill_mode={fill_mode!r}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("resize: only one of pad_to_aspect_ratio and crop_to_aspect_ratio "
                         "can be True")
    if len(tuple(size)) != 2:
        raise ValueError(f"resize: size must be (height, width), got size={size!r}")
    target_h, target_w = (int(s) for s in size)
    x = _t(images)
    _check_rank(x, "resize")
    x, back = _to_nhwc(x, standardize_data_format(data_format, "resize"))
    if None in x.shape[1:3]:
        raise ValueError(f"resize: the height and width must be known, got shape {x.shape}")
    if crop_to_aspect_ratio:
        top, left, ch, cw = _crop_box(x.shape[1], x.shape[2], target_h, target_w)
        x = _shape.getitem(x, (slice(None), slice(top, top + ch), slice(left, left + cw)))
    elif pad_to_aspect_ratio:
        x = _pad_to_aspect(x, target_h, target_w, float(fill_value))
    if x.shape[2] != target_w:  # width first, then height: TensorFlow's order
        x = resize_axis(x, 2, target_w, interpolation)
    if x.shape[1] != target_h:
        x = resize_axis(x, 1, target_h, interpolation)
    return back(x)


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant",
                     fill_value=0, data_format=None):
    """keras.ops.image.affine_transform: transform is (8,) or (B, 8) =
    [a0, a1, a2, b0, b1, b2, c0, c1], mapping each output point (x, y) to the input
    point ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1.
    The gradient flows to the images (not to the transform)."""
    if interpolation not in AFFINE_INTERPOLATIONS:
        raise ValueError(f"affine_transform: interpolation must be one of "
                         f"{AFFINE_INTERPOLATIONS}, got interpolation={interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"affine_transform: fill_mode must be one of {FILL_MODES}, got "
                         f"fill_mode={fill_mode!r}")
    (x, t), d = _ts((images, transform), "affine_transform")
    _check_rank(x, "affine_transform")
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError(f"affine_transform: transform must have shape (8,) or (batch, 8), "
                         f"got {tuple(t.shape)}")
    x, back = _to_nhwc(x, standardize_data_format(data_format, "affine_transform"))
    if t.ndim == 2 and t.shape[0] not in (1, x.shape[0]) and None not in (t.shape[0],
                                                                          x.shape[0]):
        raise ValueError(f"affine_transform: {t.shape[0]} transforms for a batch of "
                         f"{x.shape[0]} images")
    k = d.k
    tv, shape = t._data, x.shape

    def backward(g, needs):
        return (k.affine_transform_backward(g, tv, interpolation, fill_mode, shape),)
    y = k.affine_transform(x._data, tv, interpolation, fill_mode, float(fill_value))
    return back(_out(y, (x,), backward, d))
