"""California housing prices: 20,640 districts, 8 features, the median house value
in $ (keras.datasets.california_housing)."""
import numpy as np

from pykern.datasets import cache
from pykern.datasets.shuffle_split import check_test_split, shuffle_split

__all__ = ["load_data"]

ORIGIN = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
          "california_housing.npz")
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"
SMALL_ROWS = 600


def _parse(path):
    with np.load(path, allow_pickle=False) as f:
        return f["x"], f["y"]


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)): features (n, 8) and targets (n,) as stored;
    version 'large' uses all 20,640 rows, 'small' the first 600; then shuffled with
    np.random.RandomState(seed) and split, the last test_split for testing."""
    check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: "
                         f"version={version}")
    x, y = cache.load(path, ORIGIN, _parse, SHA256)
    if version == "small":
        x, y = x[:SMALL_ROWS], y[:SMALL_ROWS]
    return shuffle_split(x, y, test_split, seed)
