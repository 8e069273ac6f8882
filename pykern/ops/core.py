"""Conversions and the plumbing every op shares: placing inputs on one device,
recording outputs and reducing broadcast gradients.

An op finds its kernel table from its operands: Tensors bring their device
(two real devices are a ValueError naming both; a meta operand makes the op
shape-only), plain values (arrays, lists, scalars) are placed on that device,
or on the current device when no operand is a Tensor.
"""
import numpy as np

from pykern.backend import devices
from pykern.backend.tensor import _RECORDING, Tensor

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "stop_gradient", "shape",
           "ones_like", "zeros_like"]

_F32 = np.dtype(np.float32)
_wrap = Tensor._wrap


def _host_f32(x):
    try:
        return np.asarray(x, dtype=_F32)
    except (TypeError, ValueError) as e:
        raise TypeError(f"cannot convert {type(x).__name__} {x!r:.80} to a float32 tensor") from e


def _t(x, device=None):
    """Any input as a float32 Tensor: a Tensor of another dtype through the cast op
    (so the graph survives), plain values as leaves on `device` (default: current)."""
    if isinstance(x, Tensor):
        dt = x._data.dtype
        if dt is _F32 or dt == _F32:  # NumPy's float32 dtype is a singleton: `is` is the fast test
            return x
        return cast(x, _F32)
    d = devices.current() if device is None else device
    return _wrap(d.k.from_host(_host_f32(x), dtype=_F32), d)


def _ts(xs, op):
    """Several inputs as float32 Tensors on one device, and that device."""
    if len(xs) == 2:
        return _t2(xs[0], xs[1], op)
    d = devices.of([x for x in xs if isinstance(x, Tensor)], op) or devices.current()
    return [_t(x, d) for x in xs], d


def _t2(a, b, op):
    """_ts for the common two operands, without building lists (an op's hot path)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        d = a.device
        if b.device is not d:
            d = devices.of((a, b), op)
    elif ta:
        d = a.device
    elif tb:
        d = b.device
    else:
        d = devices.current()
    return (_t(a, d), _t(b, d)), d


def _out(data, parents, backward, device):
    """The op's result on `device`; it remembers its parents only while recording."""
    if _RECORDING.get():
        return _wrap(data, device, parents, backward)
    return _wrap(data, device)


def _unbroadcast(k, g, shape):
    """Sums g over the axes along which an operand of `shape` was broadcast."""
    gs = g.shape
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gs[lead + i] != 1)
    if axes:
        g = k.reduce("sum", g, axes, keepdims=False)
    return k.reshape(g, shape)


def convert_to_tensor(x, dtype=None):
    """A Tensor on the current device (a `pykern.device` scope moves a tensor of
    another device there: the explicit way to move data); floats become float32,
    integer and boolean data keep their dtype unless `dtype` is given."""
    if isinstance(x, Tensor):
        target = devices._scope.get()
        if target is not None and target is not x.device and not devices.tracing():
            x = _wrap(target.k.from_host(x.numpy()), target)
        if dtype is None or x.dtype == np.dtype(dtype):
            return x
        return cast(x, dtype)
    d = devices.current()
    if dtype is not None:
        return _wrap(d.k.from_host(np.asarray(x), dtype=dtype), d)
    return _wrap(d.k.from_host(x), d)


def convert_to_numpy(x):
    """An ndarray from a Tensor, Variable (a copy), array, list or scalar."""
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def cast(x, dtype):
    """x converted to `dtype`; float-to-float casts pass gradients through."""
    dtype = np.dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dtype:
        return x
    k = x.device.k
    v = k.cast(x._data, dtype)
    if dtype.kind != "f" or x.dtype.kind != "f":
        return _wrap(v, x.device)
    src = x.dtype

    def backward(g, needs):
        return (k.cast(g, src),)
    return _out(v, (x,), backward, x.device)


def stop_gradient(x):
    """The same value, cut off from the graph."""
    x = convert_to_tensor(x)
    return _wrap(x._data, x.device)


def shape(x):
    """The static shape as a tuple of ints."""
    return tuple(x.shape if isinstance(x, Tensor) else np.shape(x))


def _like(x, value, dtype):
    x = convert_to_tensor(x)
    dt = np.dtype(dtype) if dtype is not None else (x.dtype if x.dtype.kind == "f" else _F32)
    return _wrap(x.device.k.full(x.shape, value, dt), x.device)


def ones_like(x, dtype=None):
    return _like(x, 1, dtype)


def zeros_like(x, dtype=None):
    return _like(x, 0, dtype)


def full(shape, fill_value, dtype="float32"):
    """A new tensor of `shape` filled with `fill_value` on the current device."""
    d = devices.current()
    return _wrap(d.k.full(tuple(shape), fill_value, dtype), d)
