"""NumPy oracles for the kernel and op tests: plain, obviously correct code.

Each fast kernel is compared against a function here (and, where one exists,
against the native scalar twin in csrc/ref/).
"""
import numpy as np


def act_ref(x, activation):
    """The GEMM epilogue activations, in float64."""
    if activation in ("none", "linear"):
        return x
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if activation == "tanh":
        return np.tanh(x)
    raise ValueError(activation)


def gemm_ref(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, bias=None,
             activation="none"):
    """act(alpha * op(a) @ op(b) + beta * c + bias), accumulated in float64.

    beta == 0 ignores c entirely (it may hold NaN), as BLAS does.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n))
    for p in range(k):  # rank-1 updates: no BLAS call, nothing clever
        out += np.outer(a[:, p], b[p, :])
    out *= alpha
    if beta != 0.0:
        out += beta * np.asarray(c, dtype=np.float64)
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)
    return act_ref(out, activation)


def gemm_tolerance(k, scale=1.0):
    """Absolute tolerance for a float32 GEMM with inner dimension k.

    Float32 accumulation of k terms of magnitude `scale` errs by about
    sqrt(k) * eps * scale in practice (k * eps in the worst case); we allow 4x the
    typical figure plus a floor, which single-op tests at relative 1e-5 need.
    """
    eps = np.finfo(np.float32).eps
    return 4.0 * np.sqrt(max(k, 1)) * eps * scale + 1e-6
