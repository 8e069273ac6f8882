"""Matrix products on the native SGEMM."""
import numpy as np

from pykern import _cpu
from pykern.backend.tensor import Tensor
from pykern.ops.core import _t, _out, _unbroadcast

__all__ = ["matmul"]


def _bmm(a, b):
    """NumPy matmul on the native kernel for any rank: batch dims >1 are folded to 3-D."""
    if a.ndim <= 3 and b.ndim <= 3:
        return _cpu.matmul(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    return _cpu.matmul(a3, b3).reshape(batch + (a.shape[-2], b.shape[-1]))


def matmul(a, b):
    """Matrix product with NumPy's semantics (1-D operands are promoted, batch dims broadcast).

    NumPy inputs take the fast path and return a float32 ndarray with no graph;
    if either operand is a Tensor the result is a differentiable Tensor.
    Inputs of any numeric dtype are converted once to float32; mismatched shapes
    raise ValueError naming them.
    """
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return _cpu.matmul(a, b)
    a, b = _t(a), _t(b)
    av, bv = a._value, b._value
    if av.ndim == 0 or bv.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {av.shape} "
                         f"and {bv.shape}")
    if av.shape[-1] != bv.shape[-2 if bv.ndim > 1 else 0]:
        raise ValueError(f"matmul: inner dimensions differ for shapes {av.shape} and {bv.shape}")
    y = _bmm(av, bv)

    def backward(g, needs):
        a2 = av[None, :] if av.ndim == 1 else av
        b2 = bv[:, None] if bv.ndim == 1 else bv
        g2 = g
        if av.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if bv.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if needs[0]:
            ga = _unbroadcast(_bmm(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(av.shape)
        if needs[1]:
            gb = _unbroadcast(_bmm(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(bv.shape)
        return ga, gb
    return _out(y, (a, b), backward)
