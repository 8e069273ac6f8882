"""Neural-network ops: the activations, softmax, the fused dense op, dropout.

Formulas and defaults are Keras 3's (keras_behaviour.md §2.3): hard_sigmoid is
clip(x/6 + 1/2, 0, 1), leaky_relu's function default slope is 0.2, selu uses the
standard constants. As in keras.ops, ops.gelu defaults to the tanh approximation
(the gelu activation to the exact erf form).
"""
import math

import numpy as np

from pykern import _cpu
from pykern.ops.core import _t, _out

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
           "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu", "swish",
           "hard_silu", "hard_swish", "exponential", "linear", "dense", "dropout", "erf"]

_F32 = np.float32
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _unary(x, fn, dfn):
    """y = fn(x); the backward multiplies by dfn(x, y)."""
    x = _t(x)
    xv = x._value
    y = fn(xv)

    def backward(g, needs):
        return (g * dfn(xv, y),)
    return _out(y, (x,), backward)


def linear(x):
    return _t(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) by default; Keras' general form: slope below `threshold`, cap at max_value."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _unary(x, lambda v: np.maximum(v, _F32(0)), lambda v, y: y > 0)
    if max_value is None and threshold == 0.0:
        return leaky_relu(x, negative_slope)
    if max_value == 6 and threshold == 0.0 and negative_slope == 0.0:
        return relu6(x)
    thr, slope = _F32(threshold), _F32(negative_slope)
    # Keras' composition, whose kinks set the gradients there (TF rules): the kept part
    # p = x where x > threshold else 0, clipped to [0, max_value] (clip passes the
    # gradient at both bounds; relu6 when threshold is 0 and max_value 6 does not),
    # minus negative_slope * relu(threshold - x)
    six = max_value == 6 and threshold == 0.0

    def fn(v):
        p = np.where(v > thr, v, _F32(0))
        if max_value is not None:
            p = np.clip(p, _F32(0), _F32(max_value))
        return (p - slope * np.maximum(thr - v, _F32(0))).astype(_F32)

    def dfn(v, y):
        d = v > thr
        if max_value is not None:
            p = np.where(d, v, _F32(0))
            d = d & ((p > 0) & (p < max_value) if six else (p >= 0) & (p <= max_value))
        return d.astype(_F32) + slope * (v < thr)
    return _unary(x, fn, dfn)


def relu6(x):
    return _unary(x, lambda v: np.clip(v, _F32(0), _F32(6)), lambda v, y: (v > 0) & (v < 6))


def leaky_relu(x, negative_slope=0.2):
    a = _F32(negative_slope)
    return _unary(x, lambda v: np.where(v > 0, v, a * v),
                  lambda v, y: np.where(v > 0, _F32(1), a))


def elu(x, alpha=1.0):
    a = _F32(alpha)
    return _unary(x, lambda v: np.where(v > 0, v, a * np.expm1(np.minimum(v, 0))),
                  lambda v, y: np.where(v > 0, _F32(1), a * np.exp(np.minimum(v, 0))))


def selu(x):
    a, s = _F32(_SELU_ALPHA), _F32(_SELU_SCALE)
    # the derivative at 0 is taken from the right (scale), as TensorFlow's SeluGrad
    return _unary(x, lambda v: s * np.where(v > 0, v, a * np.expm1(np.minimum(v, 0))),
                  lambda v, y: s * np.where(v >= 0, _F32(1), a * np.exp(np.minimum(v, 0))))


def erf(x):
    """Error function in float64 with the Chebyshev fit of Numerical Recipes §6.2
    (|error| < 1.2e-7; NumPy has no erf and SciPy is not a dependency)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    erfc = t * np.exp(-z * z + poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x, approximate=True):
    """keras.ops.gelu: the tanh approximation by default (the activation
    pykern.activations.gelu defaults to the exact erf form, as Keras')."""
    if approximate:
        c = 0.044715

        def fn(v):
            v = v.astype(np.float64)
            return (0.5 * v * (1 + np.tanh(_SQRT_2_OVER_PI * (v + c * v ** 3)))).astype(_F32)

        def dfn(v, y):
            v = v.astype(np.float64)
            t = np.tanh(_SQRT_2_OVER_PI * (v + c * v ** 3))
            d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * c * v * v)
            return d.astype(_F32)
        return _unary(x, fn, dfn)

    def fn(v):
        v = v.astype(np.float64)
        return (0.5 * v * (1.0 + erf(v / math.sqrt(2.0)))).astype(_F32)

    def dfn(v, y):
        v = v.astype(np.float64)
        d = 0.5 * (1.0 + erf(v / math.sqrt(2.0))) + v * np.exp(-0.5 * v * v) / math.sqrt(
            2.0 * math.pi)
        return d.astype(_F32)
    return _unary(x, fn, dfn)


def _sigmoid(v):
    # exp of -|v| never overflows; equal to 1/(1+exp(-v)) on both branches
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e)).astype(_F32)


def sigmoid(x):
    return _unary(x, _sigmoid, lambda v, y: y * (1 - y))


def hard_sigmoid(x):
    return _unary(x, lambda v: np.clip(v / _F32(6) + _F32(0.5), _F32(0), _F32(1)),
                  lambda v, y: ((v > -3) & (v < 3)) / _F32(6))


def hard_silu(x):
    """x * hard_sigmoid(x)."""
    def fn(v):
        return v * np.clip(v / _F32(6) + _F32(0.5), _F32(0), _F32(1))

    def dfn(v, y):
        inside = (v > -3) & (v < 3)
        return np.where(v >= 3, _F32(1), np.where(inside, v / _F32(3) + _F32(0.5), _F32(0)))
    return _unary(x, fn, dfn)


hard_swish = hard_silu


def tanh(x):
    return _unary(x, np.tanh, lambda v, y: 1 - y * y)


def softplus(x):
    return _unary(x, lambda v: np.logaddexp(_F32(0), v), lambda v, y: _sigmoid(v))


def softsign(x):
    return _unary(x, lambda v: v / (1 + np.abs(v)), lambda v, y: 1 / np.square(1 + np.abs(v)))


def silu(x):
    def dfn(v, y):
        s = _sigmoid(v)
        return s * (1 + v * (1 - s))
    return _unary(x, lambda v: v * _sigmoid(v), dfn)


swish = silu


def exponential(x):
    return _unary(x, np.exp, lambda v, y: y)


def softmax(x, axis=-1):
    x = _t(x)
    xv = x._value
    e = np.exp(xv - np.max(xv, axis=axis, keepdims=True))
    y = e / np.sum(e, axis=axis, keepdims=True)

    def backward(g, needs):
        return (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)
    return _out(y, (x,), backward)


def log_softmax(x, axis=-1):
    x = _t(x)
    xv = x._value
    shifted = xv - np.max(xv, axis=axis, keepdims=True)
    y = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(g, needs):
        return (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True),)
    return _out(y, (x,), backward)


_FUSED = {None: "none", "linear": "none", "none": "none", "relu": "relu", "sigmoid": "sigmoid",
          "tanh": "tanh"}


def dense(x, kernel, bias=None, activation=None):
    """act(x @ kernel + bias) on the last axis of x as ONE native GEMM call.

    x (..., F), kernel (F, U), bias (U,); activation is None/'linear', 'relu',
    'sigmoid' or 'tanh' (the GEMM epilogue). The backward uses the saved output:
    dz = g * act'(y), dx = dz @ kernel^T, dkernel = x^T @ dz, dbias = sum(dz).
    """
    act = _FUSED.get(activation)
    if act is None:
        raise ValueError(f"dense: activation {activation!r} is not fused; use one of "
                         f"{sorted(k for k in _FUSED if k)} and apply others after")
    x, kernel = _t(x), _t(kernel)
    xv, w = x._value, kernel._value
    if xv.ndim < 1 or w.ndim != 2 or xv.shape[-1] != w.shape[0]:
        raise ValueError(f"dense: input of shape {xv.shape} does not match kernel of shape "
                         f"{w.shape}")
    lead = xv.shape[:-1]
    x2 = xv if xv.ndim == 2 else xv.reshape(-1, w.shape[0])
    # sgemm(a, b, c, trans_a, trans_b, alpha, beta, bias, activation), positionally:
    # pybind11's keyword matching costs ~0.6 us a call, a third of a small dense op.
    if bias is not None:
        bias = _t(bias)
        y2 = _cpu.sgemm(x2, w, None, False, False, 1.0, 0.0, bias._value, act)
        parents = (x, kernel, bias)
    else:
        y2 = _cpu.sgemm(x2, w, None, False, False, 1.0, 0.0, None, act)
        parents = (x, kernel)

    def backward(g, needs):
        g2 = g if g.ndim == 2 else g.reshape(y2.shape)
        if act == "relu":
            dz = g2 * (y2 > 0)
        elif act == "sigmoid":
            dz = g2 * (y2 * (1 - y2))
        elif act == "tanh":
            dz = g2 * (1 - y2 * y2)
        else:
            dz = g2
        dx = _cpu.sgemm(dz, w, None, False, True).reshape(xv.shape) if needs[0] else None
        dw = _cpu.sgemm(x2, dz, None, True) if needs[1] else None
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (dz.sum(axis=0) if needs[2] else None)
    y = y2 if xv.ndim == 2 else y2.reshape(lead + (w.shape[1],))
    return _out(y, parents, backward)


def dropout(x, rate, noise_shape=None, seed=None):
    """Inverted dropout: kept units scaled by 1/(1-rate), the rest zero.

    `seed` is a pykern.backend.random.SeedGenerator, an int, or None (the
    global generator). noise_shape entries of None take the input's size.
    """
    from pykern.backend import random as krandom
    x = _t(x)
    xv = x._value
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate}")
    if rate == 1.0:
        return _out(np.zeros_like(xv), (x,), lambda g, needs: (np.zeros_like(g),))
    if noise_shape is None:
        shape = xv.shape
    else:
        shape = tuple(xv.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    keep = krandom.uniform(shape, seed=seed) >= rate
    mask = keep * _F32(1.0 / (1.0 - rate))
    return _out(xv * mask, (x,), lambda g, needs: (g * mask,))
