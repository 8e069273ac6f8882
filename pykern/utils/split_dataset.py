"""split_dataset: arrays (or a tuple/list of arrays) cut into a left and a right part."""
import random

import numpy as np

__all__ = ["split_dataset"]


def _columns(dataset):
    """The arrays whose rows are the samples, and whether to return a tuple of them."""
    if isinstance(dataset, np.ndarray):
        return [dataset], False
    if not isinstance(dataset, (list, tuple)):
        raise TypeError(f"The `dataset` argument must be a NumPy array or a list/tuple of "
                        f"arrays. Received: dataset={dataset!r} of type {type(dataset)}")
    kind = type(dataset).__name__
    if not dataset:
        raise ValueError(f"Received an empty {kind} dataset. Please provide a non-empty "
                         f"{kind} of arrays.")
    for i, a in enumerate(dataset):
        if not isinstance(a, np.ndarray):
            raise ValueError(f"Expected a {kind} of `numpy.ndarray` objects, Received: "
                             f"{type(a)} at index {i}.")
        if len(a) != len(dataset[0]):
            raise ValueError(f"Received a {kind} of NumPy arrays with different lengths. "
                             f"Mismatch found at index {i}, Expected shape={dataset[0].shape} "
                             f"Received shape={a.shape}. Please provide a {kind} of NumPy "
                             f"arrays of the same length.")
    return list(dataset), True


def _sizes(left_size, right_size, total):
    """(left, right) sample counts, with Keras' rules: an int counts samples, a float in
    (0, 1) is a fraction (rounded), None takes the rest."""
    for name, size in (("left_size", left_size), ("right_size", right_size)):
        if size is not None and (isinstance(size, bool) or
                                 not isinstance(size, (int, float, np.integer, np.floating))):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, "
                            f"Received: type({name})={type(size)}.")
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the "
                         "split sizes must be non-zero.")

    def count(name, size):
        if size is None:
            return None
        if isinstance(size, (int, np.integer)):
            if not 0 < size < total:
                raise ValueError(f"`{name}` should be either a positive integer smaller than "
                                 f"{total}, or a float within the range `[0, 1]`. Received: "
                                 f"{name}={size}")
            return int(size)
        if not 0 < size < 1:
            raise ValueError(f"`{name}` should be either a positive integer smaller than "
                             f"{total}, or a float within the range `[0, 1]`. Received: "
                             f"{name}={size}")
        return round(size * total)

    if isinstance(left_size, float) and isinstance(right_size, float) and \
            left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must "
                         "be less than or equal to 1.")
    left, right = count("left_size", left_size), count("right_size", right_size)
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left_size} and "
                             f"`right_size`={right_size}. Resulting {side} side dataset split "
                             f"will be empty. Adjust any of the aforementioned parameters")
    return left, right


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """(left, right): the first left_size samples and the last right_size ones (samples
    in between are dropped), as arrays for an array and as tuples of arrays for a
    tuple/list of arrays (keras.utils.split_dataset returns tf.data Datasets of the same
    samples). shuffle permutes the samples first exactly as Keras does (Python's
    random.shuffle after random.seed(seed)), without touching the global generator."""
    columns, as_tuple = _columns(dataset)
    total = len(columns[0])
    if total == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty "
                         "list/tuple of `numpy.ndarray` objects.")
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, 1_000_000) if seed is None else seed).shuffle(order)
    left, right = _sizes(left_size, right_size, total)
    picks = (np.asarray(order[:left]), np.asarray(order[-right:]))
    parts = [tuple(a[p] for a in columns) for p in picks]
    return tuple(parts) if as_tuple else (parts[0][0], parts[1][0])
