"""Matrix products on the device's GEMM."""
from pykern.ops.core import _out, _ts, _unbroadcast

__all__ = ["matmul"]


def _swap(k, x):
    """x with its last two axes swapped."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return k.transpose(x, tuple(axes))


def matmul(a, b):
    """Matrix product with NumPy's semantics (1-D operands are promoted, batch dims broadcast).

    The result is a differentiable Tensor on the operands' device (plain arrays
    go to the current device). Inputs of any numeric dtype are converted once to
    float32; mismatched shapes raise ValueError naming them.
    """
    (a, b), d = _ts((a, b), "matmul")
    k = d.k
    av, bv = a._data, b._data
    if av.ndim == 0 or bv.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {av.shape} "
                         f"and {bv.shape}")
    inner_b = bv.shape[-2 if bv.ndim > 1 else 0]
    if av.shape[-1] != inner_b and None not in (av.shape[-1], inner_b):
        raise ValueError(f"matmul: inner dimensions differ for shapes {av.shape} and {bv.shape}")
    y = k.matmul(av, bv)

    def backward(g, needs):
        a2 = k.reshape(av, (1,) + av.shape) if av.ndim == 1 else av
        b2 = k.reshape(bv, bv.shape + (1,)) if bv.ndim == 1 else bv
        g2 = g
        if av.ndim == 1:
            g2 = k.reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:])
        if bv.ndim == 1:
            g2 = k.reshape(g2, g2.shape + (1,))
        ga = gb = None
        if needs[0]:
            ga = k.reshape(_unbroadcast(k, k.matmul(g2, _swap(k, b2)), a2.shape), av.shape)
        if needs[1]:
            gb = k.reshape(_unbroadcast(k, k.matmul(_swap(k, a2), g2), b2.shape), bv.shape)
        return ga, gb
    return _out(y, (a, b), backward, d)
