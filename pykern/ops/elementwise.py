"""Element-wise arithmetic with NumPy broadcasting, on NumPy's vectorised ufuncs.

Gradients follow TensorFlow's conventions where the derivative is undefined:
maximum/minimum send the gradient to the first operand on ties, abs has
derivative sign(x) (0 at 0), clip passes it where min <= x <= max.
"""
import numpy as np

from pykern.backend.tensor import Tensor
from pykern.ops.core import _t, _out, _unbroadcast, convert_to_tensor

__all__ = ["add", "subtract", "multiply", "divide", "negative", "power", "square", "sqrt",
           "exp", "expm1", "log", "log1p", "abs", "absolute", "sign", "maximum", "minimum", "clip",
           "where", "reciprocal", "equal", "not_equal", "greater", "greater_equal", "less",
           "less_equal", "logical_and", "logical_or", "logical_not", "floor", "round"]


def _apply(name, fn, av, bv):
    """fn(av, bv) with NumPy broadcasting; incompatible shapes raise a ValueError
    that names the op and both shapes (NumPy's own message names neither op)."""
    try:
        return fn(av, bv)
    except ValueError:
        raise ValueError(f"{name}: shapes {av.shape} and {bv.shape} cannot be broadcast "
                         f"together") from None


def add(a, b):
    a, b = _t(a), _t(b)
    sa, sb = a._value.shape, b._value.shape

    def backward(g, needs):
        return (_unbroadcast(g, sa) if needs[0] else None,
                _unbroadcast(g, sb) if needs[1] else None)
    return _out(_apply("add", np.add, a._value, b._value), (a, b), backward)


def subtract(a, b):
    a, b = _t(a), _t(b)
    sa, sb = a._value.shape, b._value.shape

    def backward(g, needs):
        return (_unbroadcast(g, sa) if needs[0] else None,
                _unbroadcast(-g, sb) if needs[1] else None)
    return _out(_apply("subtract", np.subtract, a._value, b._value), (a, b), backward)


def multiply(a, b):
    a, b = _t(a), _t(b)
    av, bv = a._value, b._value

    def backward(g, needs):
        return (_unbroadcast(g * bv, av.shape) if needs[0] else None,
                _unbroadcast(g * av, bv.shape) if needs[1] else None)
    return _out(_apply("multiply", np.multiply, av, bv), (a, b), backward)


def divide(a, b):
    a, b = _t(a), _t(b)
    av, bv = a._value, b._value
    y = _apply("divide", np.divide, av, bv)

    def backward(g, needs):
        return (_unbroadcast(g / bv, av.shape) if needs[0] else None,
                _unbroadcast(-g * y / bv, bv.shape) if needs[1] else None)
    return _out(y, (a, b), backward)


def negative(x):
    x = _t(x)

    def backward(g, needs):
        return (-g,)
    return _out(-x._value, (x,), backward)


def power(a, b):
    a, b = _t(a), _t(b)
    av, bv = a._value, b._value
    y = np.power(av, bv)

    def backward(g, needs):
        ga = gb = None
        if needs[0]:
            ga = _unbroadcast(g * bv * np.power(av, bv - 1), av.shape)
        if needs[1]:
            safe = np.where(av > 0, av, 1).astype(np.float32)
            gb = _unbroadcast(g * y * np.log(safe), bv.shape)
        return ga, gb
    return _out(y, (a, b), backward)


def square(x):
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g * (2 * xv),)
    return _out(xv * xv, (x,), backward)


def sqrt(x):
    x = _t(x)
    y = np.sqrt(x._value)

    def backward(g, needs):
        return (g * 0.5 / y,)
    return _out(y, (x,), backward)


def reciprocal(x):
    x = _t(x)
    y = 1.0 / x._value

    def backward(g, needs):
        return (-g * y * y,)
    return _out(y, (x,), backward)


def exp(x):
    x = _t(x)
    y = np.exp(x._value)

    def backward(g, needs):
        return (g * y,)
    return _out(y, (x,), backward)


def expm1(x):
    """exp(x) - 1, accurate for small x."""
    x = _t(x)
    y = np.expm1(x._value)

    def backward(g, needs):
        return (g * (y + 1),)
    return _out(y, (x,), backward)


def log1p(x):
    """log(1 + x), accurate for small x."""
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g / (1 + xv),)
    return _out(np.log1p(xv), (x,), backward)


def log(x):
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g / xv,)
    return _out(np.log(xv), (x,), backward)


def abs(x):  # noqa: A001 - Keras' name
    x = _t(x)
    xv = x._value

    def backward(g, needs):
        return (g * np.sign(xv),)
    return _out(np.abs(xv), (x,), backward)


absolute = abs


def sign(x):
    return Tensor(np.sign(_t(x)._value))


def floor(x):
    return Tensor(np.floor(_t(x)._value))


def round(x, decimals=0):  # noqa: A001 - Keras' name
    return Tensor(np.round(_t(x)._value, decimals))


def _select_binary(name, a, b, first_wins):
    """maximum/minimum: the gradient goes to the selected operand (a on ties)."""
    a, b = _t(a), _t(b)
    av, bv = a._value, b._value
    mask = _apply(name, first_wins, av, bv)
    y = np.where(mask, av, bv)

    def backward(g, needs):
        return (_unbroadcast(np.where(mask, g, 0).astype(g.dtype), av.shape) if needs[0] else None,
                _unbroadcast(np.where(mask, 0, g).astype(g.dtype), bv.shape) if needs[1] else None)
    return _out(y, (a, b), backward)


def maximum(a, b):
    return _select_binary("maximum", a, b, np.greater_equal)


def minimum(a, b):
    return _select_binary("minimum", a, b, np.less_equal)


def clip(x, x_min, x_max):
    x = _t(x)
    xv = x._value
    y = np.clip(xv, x_min, x_max)

    def backward(g, needs):
        return (g * ((xv >= x_min) & (xv <= x_max)),)
    return _out(y, (x,), backward)


def where(condition, x1, x2):
    cond = np.asarray(convert_to_tensor(condition)._value, dtype=bool)
    a, b = _t(x1), _t(x2)
    av, bv = a._value, b._value

    def backward(g, needs):
        zero = np.zeros((), g.dtype)
        return (_unbroadcast(np.where(cond, g, zero), av.shape) if needs[0] else None,
                _unbroadcast(np.where(cond, zero, g), bv.shape) if needs[1] else None)
    return _out(np.where(cond, av, bv), (a, b), backward)


def _value32(x):
    """x's array, with float64 data (Python floats, lists) taken as float32: pykern
    computes in float32, so x > 0.3 compares with float32(0.3), as TensorFlow does."""
    v = x._value if isinstance(x, Tensor) else np.asarray(x)
    return v.astype(np.float32) if v.dtype == np.float64 else v


def _compare(fn):
    def op(a, b):
        return Tensor(fn(_value32(a), _value32(b)))
    op.__name__ = fn.__name__
    op.__doc__ = f"Element-wise {fn.__name__} (boolean result, no gradient)."
    return op


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)


def logical_not(x):
    return Tensor(np.logical_not(x._value if isinstance(x, Tensor) else np.asarray(x)))
