"""Shape manipulation: reshape, transpose, concatenate, stack, slicing, ..."""
import numpy as np

from pykern.backend.tensor import Tensor
from pykern.ops.core import _t, _out, _unbroadcast

__all__ = ["reshape", "transpose", "concatenate", "stack", "expand_dims", "squeeze",
           "broadcast_to", "repeat", "tile", "slice", "getitem", "flatten", "split", "unstack"]


def reshape(x, new_shape):
    x = _t(x)
    xv = x._value
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    new_shape = tuple(-1 if d is None else int(d) for d in new_shape)
    try:
        y = xv.reshape(new_shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {xv.shape} "
                         f"({xv.size} values) into {new_shape}") from None

    def backward(g, needs):
        return (g.reshape(xv.shape),)
    return _out(y, (x,), backward)


def flatten(x):
    """(B, ...) -> (B, prod(...)), row-major."""
    x = _t(x)
    return reshape(x, (x.shape[0], -1) if x.ndim else (1,))


def transpose(x, axes=None):
    x = _t(x)
    xv = x._value
    if axes is not None:
        if any(not -xv.ndim <= int(a) < xv.ndim for a in axes):
            raise ValueError(f"transpose: axes {tuple(axes)} are out of range for shape "
                             f"{xv.shape}")
        axes = tuple(int(a) % xv.ndim for a in axes)
    else:
        axes = tuple(range(xv.ndim))[::-1]
    if sorted(axes) != list(range(xv.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {xv.shape}")
    inverse = tuple(np.argsort(axes))

    def backward(g, needs):
        return (np.transpose(g, inverse),)
    return _out(np.transpose(xv, axes), (x,), backward)


def concatenate(xs, axis=0):
    ts = tuple(_t(x) for x in xs)
    if not ts:
        raise ValueError("concatenate: needs at least one tensor")
    vals = [t._value for t in ts]
    ndim = vals[0].ndim
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"concatenate: axis {axis} is out of range for shapes "
                         f"{[v.shape for v in vals]}")
    try:
        y = np.concatenate(vals, axis=axis)
    except ValueError:
        raise ValueError(f"concatenate: shapes {[v.shape for v in vals]} differ outside "
                         f"axis {axis}") from None
    ax = axis % y.ndim
    bounds = np.cumsum([v.shape[ax] for v in vals])[:-1]

    def backward(g, needs):
        return tuple(np.split(g, bounds, axis=ax))
    return _out(y, ts, backward)


def stack(xs, axis=0):
    ts = tuple(_t(x) for x in xs)
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    vals = [t._value for t in ts]
    if len({v.shape for v in vals}) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {[v.shape for v in vals]}")
    y = np.stack(vals, axis=axis)
    ax = axis % y.ndim

    def backward(g, needs):
        return tuple(np.take(g, i, axis=ax) for i in range(len(vals)))
    return _out(y, ts, backward)


def split(x, indices_or_sections, axis=0):
    """A list of pieces of x along axis (each differentiable)."""
    x = _t(x)
    n = x._value.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        if n % indices_or_sections:
            raise ValueError(f"split: axis {axis} of shape {x.shape} does not divide into "
                             f"{indices_or_sections} equal parts")
        size = n // indices_or_sections
        bounds = list(range(0, n + 1, size))
    else:
        bounds = [0, *indices_or_sections, n]
    index = [builtins_slice(None)] * x.ndim
    pieces = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        index[axis] = builtins_slice(lo, hi)
        pieces.append(getitem(x, tuple(index)))
    return pieces


def unstack(x, axis=0):
    x = _t(x)
    return [squeeze(p, axis) for p in split(x, x.shape[axis], axis)]


def expand_dims(x, axis):
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g.reshape(xv.shape),)
    return _out(np.expand_dims(xv, axis), (x,), backward)


def squeeze(x, axis=None):
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g.reshape(xv.shape),)
    return _out(np.squeeze(xv, axis=axis), (x,), backward)


def broadcast_to(x, shape):
    x = _t(x)
    xv = x._value
    y = np.broadcast_to(xv, tuple(shape))

    def backward(g, needs):
        return (_unbroadcast(g, xv.shape),)
    return _out(y, (x,), backward)


def repeat(x, repeats, axis=None):
    """np.repeat with an integer count; the gradient sums each group of copies."""
    x = _t(x)
    xv = x._value
    if axis is None:
        return repeat(reshape(x, (-1,)), repeats, 0)
    ax = axis % xv.ndim

    def backward(g, needs):
        shape = xv.shape[:ax] + (xv.shape[ax], repeats) + xv.shape[ax + 1:]
        return (g.reshape(shape).sum(axis=ax + 1),)
    return _out(np.repeat(xv, repeats, axis=ax), (x,), backward)


def tile(x, repeats):
    x = _t(x)
    xv = x._value
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    reps = (1,) * (xv.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - xv.ndim) + xv.shape

    def backward(g, needs):
        split_shape = []
        for r, s in zip(reps, shape):
            split_shape += [r, s]
        gs = g.reshape(split_shape).sum(axis=tuple(range(0, 2 * len(reps), 2)))
        return (gs.reshape(xv.shape),)
    return _out(np.tile(xv, reps), (x,), backward)


builtins_slice = slice


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, builtins_slice))
               for i in items)


def getitem(x, index):
    """x[index] for basic and integer-array indices (the gradient scatters back)."""
    x = _t(x)
    xv = x._value
    if isinstance(index, Tensor):
        index = index._value
    elif isinstance(index, tuple):
        index = tuple(i._value if isinstance(i, Tensor) else i for i in index)
    basic = _is_basic(index)
    y = np.asarray(xv[index])

    def backward(g, needs):
        gx = np.zeros(xv.shape, dtype=g.dtype)
        if basic:
            gx[index] = g
        else:
            np.add.at(gx, index, g)
        return (gx,)
    return _out(y, (x,), backward)


def slice(x, start_indices, shape):  # noqa: A001 - Keras' name
    """The block of `shape` starting at `start_indices` (Keras' ops.slice)."""
    index = tuple(builtins_slice(s, s + n) for s, n in zip(start_indices, shape))
    return getitem(x, index)
