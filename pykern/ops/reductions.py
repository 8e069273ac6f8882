"""Reductions over axes. max/min split the gradient evenly between tied
maxima, as TensorFlow's reduce_max does."""
import builtins

import numpy as np

from pykern.backend.tensor import Tensor
from pykern.ops.core import _t, _out

__all__ = ["sum", "mean", "max", "min", "var", "std", "argmax", "argmin", "prod"]


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}")
        out.append(int(a) % builtins.max(ndim, 1))
    return tuple(sorted(set(out)))


def _expand(g, axes, keepdims):
    """g reshaped so that it broadcasts against the unreduced input."""
    if keepdims or not axes:
        return g
    return np.expand_dims(g, axes)


def _spread(g, shape, dtype):
    """A new array of `shape` filled by broadcasting g (faster than np.broadcast_to)."""
    out = np.empty(shape, dtype=dtype)
    out[...] = g
    return out


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    x = _t(x)
    xv = x._value
    axes = _axes(axis, xv.ndim)

    kept = tuple(1 if i in axes else d for i, d in enumerate(xv.shape))

    def backward(g, needs):
        return (_spread(g.reshape(kept), xv.shape, xv.dtype),)
    return _out(np.sum(xv, axis=axes, keepdims=keepdims), (x,), backward)


def mean(x, axis=None, keepdims=False):
    x = _t(x)
    xv = x._value
    axes = _axes(axis, xv.ndim)
    count = int(np.prod([xv.shape[a] for a in axes])) if axes else 1

    kept = tuple(1 if i in axes else d for i, d in enumerate(xv.shape))

    def backward(g, needs):
        return (_spread(g.reshape(kept) / np.float32(count), xv.shape, xv.dtype),)
    return _out(np.mean(xv, axis=axes, keepdims=keepdims), (x,), backward)


def _extreme(x, axis, keepdims, fn):
    x = _t(x)
    xv = x._value
    axes = _axes(axis, xv.ndim)
    y = fn(xv, axis=axes, keepdims=True)

    def backward(g, needs):
        hit = (xv == y)
        share = hit / hit.sum(axis=axes, keepdims=True).astype(np.float32)
        return ((_expand(g, axes, keepdims) * share).astype(np.float32),)
    return _out(y if keepdims else np.squeeze(y, axis=axes), (x,), backward)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, np.max)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, np.min)


def prod(x, axis=None, keepdims=False):
    """Product over axes; the gradient is y/x (inputs must be nonzero)."""
    x = _t(x)
    xv = x._value
    axes = _axes(axis, xv.ndim)
    y = np.prod(xv, axis=axes, keepdims=True)

    def backward(g, needs):
        return (_expand(g, axes, keepdims) * y / xv,)
    return _out(y if keepdims else np.squeeze(y, axis=axes), (x,), backward)


def var(x, axis=None, keepdims=False):
    """Biased (population) variance, as Keras' ops.var."""
    from pykern.ops.elementwise import square, subtract
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    from pykern.ops.elementwise import sqrt
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along `axis` (of the flattened tensor when None, as
    keras.ops.argmax), int32."""
    v = np.argmax(_t(x)._value, axis=axis, keepdims=keepdims)
    return Tensor(v.astype(np.int32))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along `axis` (of the flattened tensor when None), int32."""
    v = np.argmin(_t(x)._value, axis=axis, keepdims=keepdims)
    return Tensor(v.astype(np.int32))
