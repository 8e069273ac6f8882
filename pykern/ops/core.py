"""Conversions and the plumbing every op shares: wrapping inputs, recording
outputs and reducing broadcast gradients."""
import numpy as np

from pykern.backend.tensor import Tensor, Variable, _Recording

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "stop_gradient", "shape",
           "ones_like", "zeros_like"]

_F32 = np.dtype(np.float32)


def _t(x):
    """Any input as a float32 Tensor (constants become leaves with no history)."""
    if isinstance(x, Tensor):
        if x._value.dtype == _F32:
            return x
        return Tensor(x._value.astype(_F32))
    if isinstance(x, np.ndarray):
        return Tensor(x if x.dtype == _F32 else x.astype(_F32))
    try:
        return Tensor(np.asarray(x, dtype=_F32))
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot convert {type(x).__name__} {x!r:.80} to a float32 tensor") from e


def _out(value, parents, backward):
    """The op's result; it remembers its parents only while recording."""
    if _Recording.on:
        return Tensor(value, parents, backward)
    return Tensor(value)


def _unbroadcast(g, shape):
    """Sums g over the axes along which an operand of `shape` was broadcast."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def convert_to_tensor(x, dtype=None):
    """A Tensor from a Tensor, array, list or scalar; floats become float32.

    Integer and boolean data keep their dtype unless `dtype` is given.
    """
    if isinstance(x, Tensor) and dtype is None:
        return x
    v = x._value if isinstance(x, Tensor) else np.asarray(x)
    if dtype is not None:
        v = v.astype(np.dtype(dtype), copy=False)
    elif v.dtype.kind == "f" and v.dtype != _F32:
        v = v.astype(_F32)
    return Tensor(v)


def convert_to_numpy(x):
    """An ndarray from a Tensor, Variable (a copy), array, list or scalar."""
    if isinstance(x, Variable):
        return x.numpy()
    if isinstance(x, Tensor):
        return x._value
    return np.asarray(x)


def cast(x, dtype):
    """x converted to `dtype`; float-to-float casts pass gradients through."""
    dtype = np.dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dtype:
        return x
    v = x._value.astype(dtype)
    if dtype.kind != "f" or x.dtype.kind != "f":
        return Tensor(v)
    src = x.dtype

    def backward(g, needs):
        return (g.astype(src),)
    return _out(v, (x,), backward)


def stop_gradient(x):
    """The same value, cut off from the graph."""
    return Tensor(convert_to_tensor(x)._value)


def shape(x):
    """The static shape as a tuple of ints."""
    return tuple(np.shape(x._value if isinstance(x, Tensor) else x))


def ones_like(x, dtype=None):
    v = x._value if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.ones(v.shape, dtype=dtype or (v.dtype if v.dtype.kind == "f" else _F32)))


def zeros_like(x, dtype=None):
    v = x._value if isinstance(x, Tensor) else np.asarray(x)
    return Tensor(np.zeros(v.shape, dtype=dtype or (v.dtype if v.dtype.kind == "f" else _F32)))
