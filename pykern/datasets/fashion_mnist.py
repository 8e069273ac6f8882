"""Fashion-MNIST: 70,000 28x28 grayscale images of 10 kinds of clothing
(keras.datasets.fashion_mnist)."""
import gzip

import numpy as np

from pykern.datasets import cache

__all__ = ["load_data"]

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SUBDIR = "datasets/fashion-mnist"
FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def _idx(path, header_bytes):
    """The uint8 payload of a gzipped IDX file (labels: 8-byte header, images: 16)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < header_bytes:
        raise ValueError(f"{len(raw)} bytes is shorter than the IDX header")
    return np.frombuffer(raw, np.uint8, offset=header_bytes)


def _labels(path):
    return _idx(path, 8)


def _images(path):
    pixels = _idx(path, 16)
    if pixels.size % (28 * 28):
        raise ValueError(f"{pixels.size} pixels is not a whole number of 28x28 images")
    return pixels


def _pair(labels_name, images_name):
    y = cache.load(labels_name, BASE + labels_name, _labels, subdir=SUBDIR)
    x = cache.load(images_name, BASE + images_name, _images, subdir=SUBDIR)
    if x.size != len(y) * 28 * 28:
        raise ValueError(f"fashion_mnist: {images_name} holds {x.size // 784} images but "
                         f"{labels_name} {len(y)} labels")
    return x.reshape(len(y), 28, 28), y


def load_data():
    """((x_train, y_train), (x_test, y_test)): uint8 images (60000, 28, 28) and
    (10000, 28, 28), uint8 labels 0..9; files in datasets/fashion-mnist of the cache."""
    return _pair(FILES[0], FILES[1]), _pair(FILES[2], FILES[3])
