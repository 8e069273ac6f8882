"""Element-wise arithmetic with NumPy broadcasting, on the device's kernel table.

Gradients follow TensorFlow's conventions where the derivative is undefined:
maximum/minimum send the gradient to the first operand on ties, abs has
derivative sign(x) (0 at 0), clip passes it where min <= x <= max.
"""
import numpy as np

from pykern.backend import devices
from pykern.backend.tensor import Tensor
from pykern.ops.core import _out, _t, _ts, _unbroadcast, _wrap, convert_to_tensor

__all__ = ["add", "subtract", "multiply", "divide", "negative", "power", "square", "sqrt",
           "exp", "expm1", "log", "log1p", "abs", "absolute", "sign", "maximum", "minimum", "clip",
           "where", "reciprocal", "equal", "not_equal", "greater", "greater_equal", "less",
           "less_equal", "logical_and", "logical_or", "logical_not", "floor", "round", "sin", "cos",
           "tan"]


def _unary(op, x, p=None):
    """y = op(x) on x's device; the backward is the table's gradient rule for op."""
    x = _t(x)
    k = x.device.k
    xv = x._data
    y = k.unary(op, xv, p)

    def backward(g, needs):
        return (k.unary_grad(op, g, xv, y, p),)
    return _out(y, (x,), backward, x.device)


def _unary_nograd(op, x, p=None):
    x = _t(x)
    return _wrap(x.device.k.unary(op, x._data, p), x.device)


def add(a, b):
    (a, b), d = _ts((a, b), "add")
    k = d.k
    sa, sb = a.shape, b.shape

    def backward(g, needs):
        return (_unbroadcast(k, g, sa) if needs[0] else None,
                _unbroadcast(k, g, sb) if needs[1] else None)
    return _out(k.binary("add", a._data, b._data), (a, b), backward, d)


def subtract(a, b):
    (a, b), d = _ts((a, b), "subtract")
    k = d.k
    sa, sb = a.shape, b.shape

    def backward(g, needs):
        return (_unbroadcast(k, g, sa) if needs[0] else None,
                _unbroadcast(k, k.unary("negative", g), sb) if needs[1] else None)
    return _out(k.binary("subtract", a._data, b._data), (a, b), backward, d)


def multiply(a, b):
    (a, b), d = _ts((a, b), "multiply")
    k = d.k
    av, bv = a._data, b._data

    def backward(g, needs):
        return (_unbroadcast(k, k.binary("multiply", g, bv), av.shape) if needs[0] else None,
                _unbroadcast(k, k.binary("multiply", g, av), bv.shape) if needs[1] else None)
    return _out(k.binary("multiply", av, bv), (a, b), backward, d)


def divide(a, b):
    (a, b), d = _ts((a, b), "divide")
    k = d.k
    av, bv = a._data, b._data
    y = k.binary("divide", av, bv)

    def backward(g, needs):
        ga = gb = None
        if needs[0]:
            ga = _unbroadcast(k, k.binary("divide", g, bv), av.shape)
        if needs[1]:
            q = k.binary("divide", k.binary("multiply", g, y), bv)
            gb = _unbroadcast(k, k.unary("negative", q), bv.shape)
        return ga, gb
    return _out(y, (a, b), backward, d)


def negative(x):
    return _unary("negative", x)


def power(a, b):
    (a, b), d = _ts((a, b), "power")
    k = d.k
    av, bv = a._data, b._data
    y = k.binary("power", av, bv)

    def backward(g, needs):
        ga = gb = None
        if needs[0]:
            da = k.binary("multiply", bv, k.binary("power", av, k.binary("subtract", bv, 1.0)))
            ga = _unbroadcast(k, k.binary("multiply", g, da), av.shape)
        if needs[1]:
            safe = k.where(k.binary("greater", av, 0.0), av, k.full((), 1.0))
            db = k.binary("multiply", y, k.unary("log", safe))
            gb = _unbroadcast(k, k.binary("multiply", g, db), bv.shape)
        return ga, gb
    return _out(y, (a, b), backward, d)


def square(x):
    return _unary("square", x)


def sqrt(x):
    return _unary("sqrt", x)


def reciprocal(x):
    return _unary("reciprocal", x)


def exp(x):
    return _unary("exp", x)


def expm1(x):
    """exp(x) - 1, accurate for small x."""
    return _unary("expm1", x)


def log1p(x):
    """log(1 + x), accurate for small x."""
    return _unary("log1p", x)


def log(x):
    return _unary("log", x)


def sin(x):
    return _unary("sin", x)


def cos(x):
    return _unary("cos", x)


def tan(x):
    return _unary("tan", x)


def abs(x):  # noqa: A001 - Keras' name
    return _unary("abs", x)


absolute = abs


def sign(x):
    return _unary_nograd("sign", x)


def floor(x):
    return _unary_nograd("floor", x)


def round(x, decimals=0):  # noqa: A001 - Keras' name
    return _unary_nograd("round", x, decimals)


def _select_binary(name, a, b, first_wins):
    """maximum/minimum: the gradient goes to the selected operand (a on ties)."""
    (a, b), d = _ts((a, b), name)
    k = d.k
    av, bv = a._data, b._data
    try:
        mask = k.binary(first_wins, av, bv)
    except ValueError:
        raise ValueError(f"{name}: shapes {av.shape} and {bv.shape} cannot be broadcast "
                         f"together") from None
    y = k.where(mask, av, bv)

    def backward(g, needs):
        zero = k.full((), 0.0)
        return (_unbroadcast(k, k.where(mask, g, zero), av.shape) if needs[0] else None,
                _unbroadcast(k, k.where(mask, zero, g), bv.shape) if needs[1] else None)
    return _out(y, (a, b), backward, d)


def maximum(a, b):
    return _select_binary("maximum", a, b, "greater_equal")


def minimum(a, b):
    return _select_binary("minimum", a, b, "less_equal")


def clip(x, x_min, x_max):
    x = _t(x)
    k = x.device.k
    xv = x._data

    def backward(g, needs):
        return (k.binary("multiply", g, k.clip_mask(xv, x_min, x_max)),)
    return _out(k.clip(xv, x_min, x_max), (x,), backward, x.device)


def where(condition, x1, x2):
    d = devices.of([t for t in (condition, x1, x2) if isinstance(t, Tensor)], "where") or \
        devices.current()
    a, b = _t(x1, d), _t(x2, d)
    k = d.k
    c = condition._data if isinstance(condition, Tensor) else \
        k.from_host(np.asarray(condition, dtype=bool))
    if c.dtype != np.dtype(bool):
        c = k.cast(c, bool)
    av, bv = a._data, b._data

    def backward(g, needs):
        zero = k.full((), 0.0, g.dtype)
        return (_unbroadcast(k, k.where(c, g, zero), av.shape) if needs[0] else None,
                _unbroadcast(k, k.where(c, zero, g), bv.shape) if needs[1] else None)
    return _out(k.where(c, av, bv), (a, b), backward, d)


def _compare_operand(x, d):
    """x as storage on d for a comparison: Tensors keep their dtype; plain float
    data is taken as float32 (pykern computes in float32, so x > 0.3 compares
    with float32(0.3), as TensorFlow does)."""
    if isinstance(x, Tensor):
        return x._data
    v = np.asarray(x)
    return d.k.from_host(v.astype(np.float32) if v.dtype == np.float64 else v, dtype=None)


def _compare(name):
    def op(a, b):
        d = devices.of([t for t in (a, b) if isinstance(t, Tensor)], name) or devices.current()
        return _wrap(d.k.binary(name, _compare_operand(a, d), _compare_operand(b, d)), d)
    op.__name__ = name
    op.__doc__ = f"Element-wise {name} (boolean result, no gradient)."
    return op


equal = _compare("equal")
not_equal = _compare("not_equal")
greater = _compare("greater")
greater_equal = _compare("greater_equal")
less = _compare("less")
less_equal = _compare("less_equal")
logical_and = _compare("logical_and")
logical_or = _compare("logical_or")


def logical_not(x):
    x = convert_to_tensor(x)
    return _wrap(x.device.k.unary("logical_not", x._data), x.device)
