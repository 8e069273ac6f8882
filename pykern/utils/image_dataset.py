"""image_dataset_from_directory: a folder of images (one subfolder per class) as a
Sequence of (float32 images, labels) batches. Images are decoded by Pillow
(`pip install "pykern[image]"`) and resized as tf.image.resize does."""
import numpy as np

from pykern.utils import directory_index as index
from pykern.utils import image_resize
from pykern.utils.file_sequence import FileSequence

__all__ = ["image_dataset_from_directory", "load_image", "ALLOWLIST_FORMATS"]

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('Reading images needs Pillow: pip install "pykern[image]" (or pip '
                          'install Pillow)') from None
    return Image


def load_image(path, num_channels=3):
    """(height, width, num_channels) pixels of the image file (a GIF's first frame) in
    its own dtype (uint8 for 8-bit images), converted as Keras converts: 1 channel
    keeps 'L', 'I;16' and 'I' images."""
    image_lib = _pil()
    try:
        with image_lib.open(path) as img:
            wanted = {1: "L", 3: "RGB", 4: "RGBA"}[num_channels]
            if img.mode != wanted and not (num_channels == 1 and img.mode in ("I;16", "I")):
                img = img.convert(wanted)
            pixels = np.asarray(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"Could not decode the image {path}: {e}") from e
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _image_size(path):
    try:
        with _pil().open(path) as img:
            return img.size[::-1]
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"Could not decode the image {path}: {e}") from e


def _check_same_size(paths, directory):
    sizes = {}
    for p in paths:
        sizes.setdefault(_image_size(p), p)
        if len(sizes) > 1:
            (a, pa), (b, pb) = list(sizes.items())[:2]
            raise ValueError(f"Images in {directory} have different sizes ({pa} is {a[0]}x{a[1]}, "
                             f"{pb} is {b[0]}x{b[1]}); pass image_size to resize them to one "
                             f"size")


def _loader(image_size, num_channels, interpolation, crop, pad, channels_first):
    def load(path):
        img = load_image(path, num_channels)
        if image_size is None:
            img = img.astype(np.float32)
        else:
            if crop:
                img = image_resize.crop_to_aspect_ratio(img, image_size)
            if pad:
                img = image_resize.resize_with_pad(img, image_size, interpolation)
            else:
                img = image_resize.resize(img, image_size, interpolation)
        return img.transpose(2, 0, 1) if channels_first else img
    return load


def _check_image_arguments(color_mode, image_size, interpolation, crop, pad, data_format):
    if color_mode not in _CHANNELS:
        raise ValueError(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif image_size is not None and (not isinstance(image_size, (list, tuple)) or
                                     len(image_size) != 2):
        raise ValueError(f"Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in image_resize.INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of "
                         f"{tuple(image_resize.INTERPOLATIONS)}. Received: "
                         f"interpolation={interpolation}")
    if crop and pad:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set "
                         "to `True`.")
    if (crop or pad) and image_size is None:
        raise ValueError("crop_to_aspect_ratio and pad_to_aspect_ratio need an image_size")
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return image_size and tuple(image_size), interpolation


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """A FileSequence of (images, labels) batches (images alone with labels or
    label_mode None) from .bmp/.gif/.jpeg/.jpg/.png files, as
    keras.utils.image_dataset_from_directory: float32 images (batch, height, width,
    channels) resized to image_size (with interpolation 'nearest' the file's dtype,
    uint8 for 8-bit images, as tf.image.resize keeps it); labels int32 (label_mode 'int'), float32 one-hot
    ('categorical') or float32 (batch, 1) ('binary'). Files are listed, shuffled and
    split into 'training' / 'validation' / 'both' exactly as Keras does; Keras then also
    mixes each epoch in a tf.data buffer (not reproduced: same images per subset, other
    order). image_size=None (a pykern extension) keeps the images' own size, which
    must then be the same for all. The Sequence has .class_names and .file_paths."""
    labels, label_mode = index.check_arguments(labels, label_mode, class_names,
                                               validation_split, subset, shuffle, seed, "image")
    image_size, interpolation = _check_image_arguments(
        color_mode, image_size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
        data_format)
    _pil()
    seed = np.random.randint(1_000_000) if seed is None else seed
    paths, labels, class_names = index.index_directory(
        directory, labels, ALLOWLIST_FORMATS, class_names, shuffle, seed, follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")
    num_classes = len(class_names) if class_names else 0
    load = _loader(image_size, _CHANNELS[color_mode], interpolation, crop_to_aspect_ratio,
                   pad_to_aspect_ratio, data_format == "channels_first")

    def subset_sequence(name, shuffled):
        files, subset_labels = index.split_subset(paths, labels, validation_split, name)
        if not files:
            kind = f"{name} images" if subset == "both" else "images"
            raise ValueError(f"No {kind} found in directory {directory}. Allowed formats: "
                             f"{ALLOWLIST_FORMATS}")
        if image_size is None:
            _check_same_size(files, directory)
        return FileSequence(files, index.encode_labels(subset_labels, label_mode, num_classes,
                                                       directory),
                            class_names, batch_size, load, np.stack, shuffled, seed)

    if subset == "both":
        return [subset_sequence("training", shuffle), subset_sequence("validation", False)]
    return subset_sequence(subset, shuffle)
