"""The 8x8 handwritten digits (1,797 images, values 0..16), offline.

The data ship with pykern (data/digits.csv.gz, scikit-learn's copy of the UCI
optdigits test set; licences in data/README.md), so this loader works without
a network or scikit-learn and gives the same arrays everywhere.
"""
import gzip
import hashlib
import os

import numpy as np

from pykern.datasets.shuffle_split import check_test_split, shuffle_split

__all__ = ["load_data"]

PATH = os.path.join(os.path.dirname(__file__), "data", "digits.csv.gz")
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
NUM_IMAGES = 1797


def _read():
    with open(PATH, "rb") as f:
        raw = f.read()
    if hashlib.sha256(raw).hexdigest() != SHA256:
        raise ValueError(f"{PATH} is damaged (its sha256 is not {SHA256}); reinstall pykern")
    rows = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",",
                      dtype=np.uint8)
    return rows[:, :64].reshape(NUM_IMAGES, 8, 8), rows[:, 64]


def load_data(test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)): uint8 images (n, 8, 8) with values 0..16
    and uint8 labels 0..9; the 1,797 images shuffled with np.random.RandomState(seed)
    (as Keras' tabular loaders do), the first int(1797 * (1 - test_split)) for
    training. Defaults: 1,437 training and 360 test images."""
    check_test_split(test_split)
    x, y = _read()
    return shuffle_split(x, y, test_split, seed)
