"""Boston housing prices: 506 rows of 13 features and the median value in k$
(keras.datasets.boston_housing)."""
import numpy as np

from pykern.datasets import cache
from pykern.datasets.shuffle_split import check_test_split, shuffle_split

__all__ = ["load_data"]

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def _parse(path):
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["y"]


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)): features (n, 13) and targets (n,) as
    stored, shuffled with np.random.RandomState(seed), the last test_split for testing."""
    check_test_split(test_split)
    x, y = cache.load(path, ORIGIN, _parse, SHA256)
    return shuffle_split(x, y, test_split, seed)
