"""Shape manipulation: reshape, transpose, concatenate, stack, slicing, ...
on the device's kernel table."""
import numpy as np

from pykern.backend.tensor import Tensor
from pykern.ops.core import _out, _t, _ts, _unbroadcast

__all__ = ["reshape", "transpose", "concatenate", "stack", "expand_dims", "squeeze",
           "broadcast_to", "repeat", "tile", "slice", "getitem", "flatten", "split", "unstack",
           "pad"]


def _reshape_target(shape, new_shape):
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    new_shape = tuple(-1 if d is None else int(d) for d in new_shape)
    known = [d for d in new_shape if d != -1]
    size = None if any(d is None for d in shape) else int(np.prod(shape, dtype=np.int64))
    if new_shape.count(-1) > 1 or any(d < -1 for d in new_shape) or (size is not None and (
            (-1 not in new_shape and int(np.prod(known, dtype=np.int64)) != size) or
            (-1 in new_shape and (int(np.prod(known, dtype=np.int64)) == 0 or
                                  size % int(np.prod(known, dtype=np.int64)))))):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {tuple(shape)} "
                         f"({size} values) into {new_shape}")
    return new_shape


def reshape(x, new_shape):
    x = _t(x)
    k = x.device.k
    shape = x.shape
    y = k.reshape(x._data, _reshape_target(shape, new_shape))

    def backward(g, needs):
        return (k.reshape(g, shape),)
    return _out(y, (x,), backward, x.device)


def flatten(x):
    """(B, ...) -> (B, prod(...)), row-major."""
    x = _t(x)
    return reshape(x, (x.shape[0], -1) if x.ndim else (1,))


def transpose(x, axes=None):
    x = _t(x)
    k = x.device.k
    ndim = x.ndim
    if axes is not None:
        if any(not -ndim <= int(a) < ndim for a in axes):
            raise ValueError(f"transpose: axes {tuple(axes)} are out of range for shape "
                             f"{x.shape}")
        axes = tuple(int(a) % ndim for a in axes)
    else:
        axes = tuple(range(ndim))[::-1]
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation for shape {x.shape}")
    inverse = tuple(int(i) for i in np.argsort(axes))

    def backward(g, needs):
        return (k.transpose(g, inverse),)
    return _out(k.transpose(x._data, axes), (x,), backward, x.device)


def concatenate(xs, axis=0):
    if not len(xs):
        raise ValueError("concatenate: needs at least one tensor")
    ts, d = _ts(tuple(xs), "concatenate")
    k = d.k
    shapes = [t.shape for t in ts]
    ndim = len(shapes[0])
    if not -ndim <= axis < max(ndim, 1) or any(len(s) != ndim for s in shapes):
        raise ValueError(f"concatenate: axis {axis} is out of range for shapes {shapes}")
    ax = axis % ndim
    if any(a is not None and b is not None and a != b
           for s in shapes[1:] for i, (a, b) in enumerate(zip(shapes[0], s)) if i != ax):
        raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    y = k.concat([t._data for t in ts], ax)
    bounds = np.cumsum([0] + [s[ax] for s in shapes]) if all(
        s[ax] is not None for s in shapes) else None

    def backward(g, needs):
        index = [builtins_slice(None)] * ndim
        out = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            index[ax] = builtins_slice(int(lo), int(hi))
            out.append(k.getitem(g, tuple(index)))
        return tuple(out)
    return _out(y, ts, backward, d)


def stack(xs, axis=0):
    if not len(xs):
        raise ValueError("stack: needs at least one tensor")
    ts, d = _ts(tuple(xs), "stack")
    shapes = [t.shape for t in ts]
    if len(set(shapes)) != 1:
        raise ValueError(f"stack: all shapes must be equal, got {shapes}")
    ax = axis % (len(shapes[0]) + 1)
    return concatenate([expand_dims(t, ax) for t in ts], axis=ax)


def split(x, indices_or_sections, axis=0):
    """A list of pieces of x along axis (each differentiable)."""
    x = _t(x)
    n = x.shape[axis]
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
    shape = list(x.shape)
    ax = axis % (len(shape) + 1) if -len(shape) - 1 <= axis <= len(shape) else None
    if ax is None:
        raise ValueError(f"expand_dims: axis {axis} is out of range for shape {x.shape}")
    shape.insert(ax, 1)
    return _reshape_exact(x, tuple(shape))


def squeeze(x, axis=None):
    x = _t(x)
    shape = x.shape
    if axis is None:
        axes = {i for i, d in enumerate(shape) if d == 1}
    else:
        axes = {int(a) % len(shape) for a in ((axis,) if isinstance(axis, (int, np.integer))
                                              else axis)}
        if any(shape[a] != 1 for a in axes):
            raise ValueError(f"squeeze: cannot squeeze axis {axis} of shape {shape}: its size "
                             f"is not 1")
    return _reshape_exact(x, tuple(d for i, d in enumerate(shape) if i not in axes))


def _reshape_exact(x, shape):
    """reshape to a shape with the same dims plus or minus ones (None dims allowed)."""
    k = x.device.k
    old = x.shape

    def backward(g, needs):
        return (k.reshape(g, old),)
    return _out(k.reshape(x._data, shape) if None not in shape else
                k.reshape(x._data, tuple(-1 if d is None else d for d in shape)), (x,),
                backward, x.device)


def broadcast_to(x, shape):
    x = _t(x)
    k = x.device.k
    old = x.shape
    y = k.broadcast_to(x._data, tuple(shape))

    def backward(g, needs):
        return (_unbroadcast(k, g, old),)
    return _out(y, (x,), backward, x.device)


def repeat(x, repeats, axis=None):
    """np.repeat with an integer count: each element `repeats` times along axis."""
    x = _t(x)
    if axis is None:
        return repeat(reshape(x, (-1,)), repeats, 0)
    ax = axis % x.ndim
    shape = x.shape
    y = broadcast_to(expand_dims(x, ax + 1), shape[:ax + 1] + (repeats,) + shape[ax + 1:])
    return reshape(y, shape[:ax] + (-1 if shape[ax] is None else shape[ax] * repeats,) +
                   shape[ax + 1:])


def tile(x, repeats):
    """np.tile: the whole tensor `repeats` times along each axis."""
    x = _t(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    reps = (1,) * (x.ndim - len(reps)) + reps
    shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
    x = reshape(x, shape)
    # (r0, s0, r1, s1, ...) then fold each pair
    y = broadcast_to(reshape(x, tuple(v for s in shape for v in (1, s))),
                     tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(y, tuple(-1 if s is None else r * s for r, s in zip(reps, shape)))


builtins_slice = slice


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, builtins_slice))
               for i in items)


def _index_storage(index):
    """Tensor indices as their storage (they index on their own device)."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def getitem(x, index):
    """x[index] for basic and integer-array indices (the gradient scatters back)."""
    x = _t(x)
    k = x.device.k
    index = _index_storage(index)
    basic = _is_basic(index)
    shape = x.shape

    def backward(g, needs):
        return (k.scatter_add(shape, index, g, basic),)
    return _out(k.getitem(x._data, index), (x,), backward, x.device)


def slice(x, start_indices, shape):  # noqa: A001 - Keras' name
    """The block of `shape` starting at `start_indices` (Keras' ops.slice)."""
    index = tuple(builtins_slice(s, s + n) for s, n in zip(start_indices, shape))
    return getitem(x, index)


_PAD_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
              "reflect", "symmetric", "wrap", "empty", "circular")


def _pad_pairs(pad_width, ndim):
    """keras.ops.pad's pad_width forms as one (before, after) pair per axis: an int,
    (pad,) or (before, after) for every axis, or one (pad,) / (before, after) per axis."""
    def ints(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    def pair(p):
        p = tuple(p) if isinstance(p, (tuple, list)) else (p,)
        if len(p) not in (1, 2) or not all(ints(v) for v in p):
            raise ValueError(f"pad: pad_width entries must be an integer or 1 or 2 integers, "
                             f"got {pad_width!r}")
        return (int(p[0]), int(p[-1]))
    if ints(pad_width) or (isinstance(pad_width, (tuple, list)) and len(pad_width) and
                           all(ints(v) for v in pad_width)):
        pairs = (pair(pad_width),) * ndim
    else:
        pairs = tuple(pair(p) for p in pad_width)
        if len(pairs) == 1:
            pairs *= ndim
    if len(pairs) != ndim:
        raise ValueError(f"pad: pad_width must have one entry per axis of x; got pad_width="
                         f"{pad_width!r} for a tensor of rank {ndim}")
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(f"pad: pad widths must be >= 0, got pad_width={pad_width!r}")
    return pairs


def pad(x, pad_width, mode="constant", constant_values=None):
    """x with constant_values (default 0) added before and after each axis, as
    keras.ops.pad; the gradient is the output gradient's middle block. Only
    mode 'constant' is implemented."""
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got mode={mode!r}")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"pad: constant_values can only be given with mode 'constant', got "
                         f"mode={mode!r}")
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented; only 'constant' is")
    x = _t(x)
    k = x.device.k
    pairs = _pad_pairs(pad_width, x.ndim)
    value = 0.0 if constant_values is None else float(constant_values)
    middle = tuple(builtins_slice(a, -b if b else None) for a, b in pairs)

    def backward(g, needs):
        return (k.getitem(g, middle),)
    return _out(k.pad(x._data, pairs, value), (x,), backward, x.device)
