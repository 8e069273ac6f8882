"""Matrix products on the native SGEMM."""
from pykern import _cpu


def matmul(a, b):
    """Matrix product with NumPy's semantics for 1-D, 2-D and batched 3-D operands.

    Inputs of any numeric dtype or memory order are converted once to float32;
    the result is a new float32 array. Mismatched shapes raise ValueError.
    """
    return _cpu.matmul(a, b)
