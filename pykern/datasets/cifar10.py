"""CIFAR-10: 60,000 32x32 colour images in 10 classes (keras.datasets.cifar10)."""
import numpy as np

from pykern.datasets import cache, cifar

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FOLDER = "cifar-10-batches-py"
# the archive as pykern saves it, as Keras 3 does, as Keras 2 did
ARCHIVES = ("cifar-10-python.tar.gz", f"{FOLDER}-target_archive", f"{FOLDER}.tar.gz")
TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))


def _parse(path):
    batches = cifar.load_batches(path, FOLDER, TRAIN + ("test_batch",), "labels")
    x_train = np.concatenate([x for x, _ in batches[:-1]])
    y_train = np.concatenate([np.asarray(y, np.uint8) for _, y in batches[:-1]])
    x_test, y_test = batches[-1]
    return ((cifar.to_channels_last(x_train), y_train.reshape(-1, 1)),
            (cifar.to_channels_last(x_test), np.asarray(y_test, np.uint8).reshape(-1, 1)))


def load_data():
    """((x_train, y_train), (x_test, y_test)): uint8 images (50000, 32, 32, 3) and
    (10000, 32, 32, 3), uint8 labels 0..9 of shapes (50000, 1) and (10000, 1)."""
    return cache.load(ARCHIVES[0], ORIGIN, _parse, SHA256,
                      cached=cifar.candidates(FOLDER, ARCHIVES))
