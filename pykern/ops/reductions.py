"""Reductions over axes, on the device's kernel table. max/min split the
gradient evenly between tied maxima, as TensorFlow's reduce_max does."""
import builtins

import numpy as np

from pykern.ops.core import _out, _t, _wrap

__all__ = ["sum", "mean", "max", "min", "var", "std", "argmax", "argmin", "prod", "any", "all"]


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


def _kept(shape, axes):
    return tuple(1 if i in axes else d for i, d in enumerate(shape))


def _spread(k, g, shape, axes, keepdims):
    """g (the reduced gradient) broadcast back over the reduced axes of `shape`."""
    if not keepdims and axes:
        g = k.reshape(g, _kept(shape, axes))
    return k.copy(k.broadcast_to(g, shape))


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    x = _t(x)
    k = x.device.k
    shape = x.shape
    axes = _axes(axis, len(shape))

    def backward(g, needs):
        return (_spread(k, g, shape, axes, keepdims),)
    return _out(k.reduce("sum", x._data, axes, keepdims), (x,), backward, x.device)


def mean(x, axis=None, keepdims=False):
    x = _t(x)
    k = x.device.k
    shape = x.shape
    axes = _axes(axis, len(shape))
    count = 1
    for a in axes:
        count = None if count is None or shape[a] is None else count * shape[a]

    def backward(g, needs):
        return (_spread(k, k.binary("divide", g, np.float32(count)), shape, axes, keepdims),)
    return _out(k.reduce("mean", x._data, axes, keepdims), (x,), backward, x.device)


def _extreme(x, axis, keepdims, op):
    x = _t(x)
    k = x.device.k
    xv = x._data
    axes = _axes(axis, xv.ndim)
    y = k.reduce(op, xv, axes, True)

    def backward(g, needs):
        g = g if keepdims or not axes else k.reshape(g, y.shape)
        return (k.binary("multiply", g, k.extreme_share(xv, y, axes)),)
    out = y if keepdims else k.reshape(y, tuple(d for i, d in enumerate(y.shape)
                                                if i not in axes))
    return _out(out, (x,), backward, x.device)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    return _extreme(x, axis, keepdims, "min")


def prod(x, axis=None, keepdims=False):
    """Product over axes; the gradient is y/x (inputs must be nonzero)."""
    x = _t(x)
    k = x.device.k
    xv = x._data
    axes = _axes(axis, xv.ndim)
    y = k.reduce("prod", xv, axes, True)

    def backward(g, needs):
        g = g if keepdims or not axes else k.reshape(g, y.shape)
        return (k.binary("divide", k.binary("multiply", g, y), xv),)
    out = y if keepdims else k.reshape(y, tuple(d for i, d in enumerate(y.shape)
                                                if i not in axes))
    return _out(out, (x,), backward, x.device)


def var(x, axis=None, keepdims=False):
    """Biased (population) variance, as Keras' ops.var."""
    from pykern.ops.elementwise import square, subtract
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    from pykern.ops.elementwise import sqrt
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _arg(op, x, axis, keepdims):
    x = _t(x)
    if axis is not None:
        if not -x.ndim <= axis < builtins.max(x.ndim, 1):
            raise ValueError(f"{op}: axis {axis} is out of bounds for a tensor of rank {x.ndim}")
    return _wrap(x.device.k.arg_reduce(op, x._data, axis, keepdims), x.device)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along `axis` (of the flattened tensor when None, as
    keras.ops.argmax), int32."""
    return _arg("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along `axis` (of the flattened tensor when None), int32."""
    return _arg("argmin", x, axis, keepdims)


def _logical(op, x, axis, keepdims):
    from pykern.ops.core import convert_to_tensor
    x = convert_to_tensor(x)
    k = x.device.k
    data = x._data if x.dtype == np.dtype(bool) else k.cast(x._data, bool)
    return _wrap(k.reduce(op, data, _axes(axis, x.ndim), keepdims), x.device)


def any(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    """True where any element along `axis` is nonzero (boolean, no gradient)."""
    return _logical("any", x, axis, keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    """True where every element along `axis` is nonzero (boolean, no gradient)."""
    return _logical("all", x, axis, keepdims)
