"""The seeded shuffle-and-split of Keras' tabular loaders (boston_housing,
california_housing), also used by digits."""
import numpy as np

__all__ = ["check_test_split", "shuffle_split"]


def check_test_split(test_split):
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         f"and 1 (exclusive of 1).")


def shuffle_split(x, y, test_split, seed):
    """((x_train, y_train), (x_test, y_test)): rows in the order
    np.random.RandomState(seed).shuffle gives, the first int(n * (1 - test_split))
    for training."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
