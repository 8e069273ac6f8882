"""MNIST: 70,000 28x28 grayscale handwritten digits (keras.datasets.mnist)."""
import numpy as np

from pykern.datasets import cache

__all__ = ["load_data"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def _parse(path):
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def load_data(path="mnist.npz"):
    """((x_train, y_train), (x_test, y_test)): uint8 images (60000, 28, 28) and
    (10000, 28, 28) with values 0..255, uint8 labels 0..9 of shapes (60000,), (10000,).
    `path` is the file name in the cache (pykern's, then ~/.keras/datasets)."""
    return cache.load(path, ORIGIN, _parse, SHA256)
