"""Normalization ops: keras.ops' moments, batch_normalization and
layer_normalization, and the fused training-mode ops the layers use (one
native pass for the statistics and the output, one for the backward through
the statistics; two-pass statistics in double, see csrc/include/pykern/norm.h).
"""
import numpy as np

from pykern.backend import devices
from pykern.ops import elementwise as E
from pykern.ops import reductions as R
from pykern.ops.core import _out, _t, _wrap
from pykern.ops.shape import reshape, transpose

__all__ = ["moments", "batch_normalization", "layer_normalization", "batch_norm_train",
           "group_norm_train"]


def _axis(axis, ndim, op):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for inputs of rank {ndim}")
    return axis % ndim


def _prod(dims):
    out = 1
    for d in dims:
        if d is None:
            return None
        out *= d
    return out


def batch_norm_train(x, gamma, beta, axis=-1, epsilon=1e-3, op="batch_normalization"):
    """Training-mode batch normalization over every axis but `axis`: returns
    (y, mean, variance), y differentiable in x, gamma, beta (through the batch
    statistics); mean and the biased variance (C,) carry no gradient."""
    x = _t(x)
    ax = _axis(axis, x.ndim, op)
    c = x.shape[ax]
    parents = [x] + [_t(v) for v in (gamma, beta) if v is not None]
    d = devices.of(parents, op)
    k = d.k
    shape = x.shape
    before, after = _prod(shape[:ax]), _prod(shape[ax + 1:])
    view = (1, -1 if before is None else before, c, -1 if after is None else after)
    x4 = k.reshape(x._data, view)
    g = None if gamma is None else parents[1]._data
    b = None if beta is None else parents[-1]._data
    y, mean, var, inv_std = k.batch_norm_train(x4, g, b, epsilon)

    def backward(grad, needs):
        dx, dg, db = k.batch_norm_backward(k.reshape(grad, view), x4, mean, inv_std, g)
        out = [k.reshape(dx, shape) if needs[0] else None]
        if gamma is not None:
            out.append(dg)
        if beta is not None:
            out.append(db)
        return tuple(out)
    stats = (_wrap(k.reshape(mean, (c,)), d), _wrap(k.reshape(var, (c,)), d))
    return (_out(k.reshape(y, shape), tuple(parents), backward, d),) + stats


def group_norm_train(x, groups, gamma, beta, epsilon=1e-3, op="group_normalization"):
    """Keras' GroupNormalization on channels-last x (N, *spatial, C): statistics per
    sample and group of C/groups channels, then the per-channel affine."""
    x = _t(x)
    shape = x.shape
    c = shape[-1]
    d = x.device
    k = d.k
    view = (-1 if shape[0] is None else shape[0], -1 if None in shape[1:-1] else
            _prod(shape[1:-1]), groups, c // groups)
    x4 = k.reshape(x._data, view)
    y, mean, _, inv_std = k.batch_norm_train(x4, None, None, epsilon)

    def backward(grad, needs):
        dx, _, _ = k.batch_norm_backward(k.reshape(grad, view), x4, mean, inv_std, None)
        return (k.reshape(dx, shape),)
    out = _out(k.reshape(y, shape), (x,), backward, d)
    if gamma is not None:
        out = E.multiply(out, gamma)
    if beta is not None:
        out = E.add(out, beta)
    return out


def moments(x, axes, keepdims=False, synchronized=False):
    """keras.ops.moments: (mean, biased variance) over `axes`."""
    mean = R.mean(x, axis=axes, keepdims=True)
    var = R.mean(E.square(E.subtract(x, mean)), axis=axes, keepdims=keepdims)
    return (mean if keepdims else R.mean(x, axis=axes)), var


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """keras.ops.batch_normalization with given statistics (C,) on `axis`:
    (x - mean) * scale / sqrt(variance + epsilon) + offset."""
    x = _t(x)
    ax = _axis(axis, x.ndim, "batch_normalization")
    shape = [1] * x.ndim
    shape[ax] = x.shape[ax]

    def along(v):
        return None if v is None else reshape(v, tuple(shape))
    inv = E.reciprocal(E.sqrt(E.add(along(variance), float(epsilon))))
    if scale is not None:
        inv = E.multiply(inv, along(scale))
    out = E.multiply(E.subtract(x, along(mean)), inv)
    return out if offset is None else E.add(out, along(offset))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, rms_scaling=False):
    """keras.ops.layer_normalization: normalise over `axis` (an int or a list),
    then scale by gamma and shift by beta (shaped like those axes). Trailing axes
    run as one native pass; others are moved last first."""
    x = _t(x)
    eps = 1e-7 if epsilon is None else float(epsilon)
    axes = sorted(_axis(a, x.ndim, "layer_normalization")
                  for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if rms_scaling:
        inv = E.reciprocal(E.sqrt(E.add(R.var(x, axis=axes, keepdims=True), eps)))
        out = E.multiply(x, inv)
        return out if gamma is None else E.multiply(out, _param(gamma, x.shape, axes))
    rest = [i for i in range(x.ndim) if i not in axes]
    order = rest + axes
    moved = transpose(x, order) if order != list(range(x.ndim)) else x
    y = _layer_norm_last(moved, len(axes), gamma, beta, eps)
    if moved is x:
        return y
    return transpose(y, tuple(int(i) for i in np.argsort(order)))


def _param(v, shape, axes):
    full = [1] * len(shape)
    for a in axes:
        full[a] = shape[a]
    return reshape(v, tuple(full))


def _layer_norm_last(x, n_axes, gamma, beta, eps):
    parents = [x] + [_t(v) for v in (gamma, beta) if v is not None]
    d = devices.of(parents, "layer_normalization")
    k = d.k
    shape = x.shape
    f = _prod(shape[-n_axes:])
    x2 = k.reshape(x._data, (-1, f))
    g = None if gamma is None else k.reshape(parents[1]._data, (f,))
    b = None if beta is None else k.reshape(parents[-1]._data, (f,))
    y, mean, inv_std = k.layer_norm(x2, g, b, eps)
    shapes = [p.shape for p in parents[1:]]

    def backward(grad, needs):
        dx, dg, db = k.layer_norm_backward(k.reshape(grad, (-1, f)), x2, mean, inv_std, g)
        out = [k.reshape(dx, shape) if needs[0] else None]
        if gamma is not None:
            out.append(k.reshape(dg, shapes[0]))
        if beta is not None:
            out.append(k.reshape(db, shapes[-1]))
        return tuple(out)
    return _out(k.reshape(y, shape), tuple(parents), backward, d)
