"""to_categorical (class indices to one-hot rows) and normalize (unit-norm rows)."""
import numpy as np

__all__ = ["to_categorical", "normalize"]


def to_categorical(x, num_classes=None):
    """One-hot encoding of integer labels along a new last axis (a trailing axis of 1 is
    replaced), float64 as Keras returns for NumPy input; num_classes defaults to
    max(x) + 1. Labels outside [0, num_classes) are a ValueError (Keras raises
    IndexError or wraps negative labels)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iub" and not (x.dtype.kind == "f" and
                                          np.array_equal(x, np.round(x))):
        raise ValueError(f"to_categorical expects integer class labels, got dtype {x.dtype}")
    labels = x.astype(np.int64)
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        num_classes = int(labels.max(initial=-1)) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out.reshape(shape + (num_classes,))


def _normalize_tensor(x, axis, order):
    from pykern import ops
    from pykern.backend import epsilon
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"Argument `order` must be an int >= 1. Received: order={order}")
    if order == 2:
        square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
        # 1 / sqrt(max(s, eps^2)) = Keras' min(rsqrt(s), 1 / eps), without dividing by 0
        return ops.multiply(x, ops.reciprocal(ops.sqrt(ops.maximum(square_sum,
                                                                   epsilon() ** 2))))
    norm = ops.power(ops.sum(ops.power(ops.abs(x), order), axis=axis, keepdims=True),
                     1.0 / order)
    return ops.divide(x, ops.maximum(norm, epsilon()))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (np.linalg.norm's; a zero norm divides
    by 1). NumPy arrays and lists give a NumPy array, as keras.utils.normalize; a
    pykern Tensor gives a Tensor (Keras' ops.nn.normalize, norms floored at epsilon).
    Unlike Keras, which expands the norms at the last axis whatever `axis` is,
    axis=0 normalizes columns."""
    from pykern.backend.tensor import Tensor
    if isinstance(x, Tensor):
        return _normalize_tensor(x, axis, order)
    x = np.asarray(x)
    norm = np.asarray(np.linalg.norm(x, order, axis, keepdims=True))
    norm[norm == 0] = 1
    return x / norm
