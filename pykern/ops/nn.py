"""Neural-network ops: the activations, softmax, the fused dense op, dropout.

Formulas and defaults are Keras 3's (keras_behaviour.md §2.3): hard_sigmoid is
clip(x/6 + 1/2, 0, 1), leaky_relu's function default slope is 0.2, selu uses the
standard constants. As in keras.ops, ops.gelu defaults to the tanh approximation
(the gelu activation to the exact erf form).
"""
from pykern.backend import devices
from pykern.backend import random as krandom
from pykern.ops.core import _out, _t, _wrap
from pykern.ops.elementwise import _unary

__all__ = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
           "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu", "swish",
           "hard_silu", "hard_swish", "exponential", "linear", "dense", "dropout", "erf"]


def linear(x):
    return _t(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) by default; Keras' general form: slope below `threshold`, cap at max_value."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return _unary("relu", x)
    if max_value is None and threshold == 0.0:
        return leaky_relu(x, negative_slope)
    if max_value == 6 and threshold == 0.0 and negative_slope == 0.0:
        return relu6(x)
    return _unary("relu_general", x, (float(negative_slope), max_value, float(threshold)))


def relu6(x):
    return _unary("relu6", x)


def leaky_relu(x, negative_slope=0.2):
    return _unary("leaky_relu", x, float(negative_slope))


def elu(x, alpha=1.0):
    return _unary("elu", x, float(alpha))


def selu(x):
    return _unary("selu", x)


def erf(x):
    """Error function (|error| < 1.2e-7; no gradient)."""
    x = _t(x)
    return _wrap(x.device.k.unary("erf", x._data), x.device)


def gelu(x, approximate=True):
    """keras.ops.gelu: the tanh approximation by default (the activation
    pykern.activations.gelu defaults to the exact erf form, as Keras')."""
    return _unary("gelu" if approximate else "gelu_erf", x)


def _with_logits(y, x):
    """y (probabilities) remembers the logits x it came from: a crossentropy on
    probabilities uses them instead (stable, as TensorFlow-Keras' _keras_logits)."""
    y._keras_logits = x
    return y


def sigmoid(x):
    x = _t(x)
    return _with_logits(_unary("sigmoid", x), x)


def hard_sigmoid(x):
    return _unary("hard_sigmoid", x)


def hard_silu(x):
    """x * hard_sigmoid(x)."""
    return _unary("hard_silu", x)


hard_swish = hard_silu


def tanh(x):
    return _unary("tanh", x)


def softplus(x):
    return _unary("softplus", x)


def softsign(x):
    return _unary("softsign", x)


def silu(x):
    return _unary("silu", x)


swish = silu


def exponential(x):
    return _unary("exponential", x)


def softmax(x, axis=-1):
    x = _t(x)
    k = x.device.k
    y = k.softmax(x._data, axis)

    def backward(g, needs):
        gy = k.reduce("sum", k.binary("multiply", g, y), (axis % y.ndim,), keepdims=True)
        return (k.binary("multiply", y, k.binary("subtract", g, gy)),)
    return _with_logits(_out(y, (x,), backward, x.device), x)


def log_softmax(x, axis=-1):
    x = _t(x)
    k = x.device.k
    y = k.log_softmax(x._data, axis)

    def backward(g, needs):
        gs = k.reduce("sum", g, (axis % y.ndim,), keepdims=True)
        return (k.binary("subtract", g, k.binary("multiply", k.unary("exp", y), gs)),)
    return _out(y, (x,), backward, x.device)


_FUSED = {None: "none", "linear": "none", "none": "none", "relu": "relu", "sigmoid": "sigmoid",
          "tanh": "tanh"}


def dense(x, kernel, bias=None, activation=None):
    """act(x @ kernel + bias) on the last axis of x as ONE GEMM call of the device.

    x (..., F), kernel (F, U), bias (U,); activation is None/'linear', 'relu',
    'sigmoid' or 'tanh' (the GEMM epilogue). The backward uses the saved output:
    dz = g * act'(y), dx = dz @ kernel^T, dkernel = x^T @ dz, dbias = sum(dz).
    """
    act = _FUSED.get(activation)
    if act is None:
        raise ValueError(f"dense: activation {activation!r} is not fused; use one of "
                         f"{sorted(k for k in _FUSED if k)} and apply others after")
    x, kernel = _t(x), _t(kernel)
    parents = (x, kernel) if bias is None else (x, kernel, _t(bias))
    d = devices.of(parents, "dense")
    k = d.k
    xv, w = x._data, kernel._data
    if xv.ndim < 1 or w.ndim != 2 or xv.shape[-1] != w.shape[0]:
        raise ValueError(f"dense: input of shape {xv.shape} does not match kernel of shape "
                         f"{w.shape}")
    x2 = xv if xv.ndim == 2 else k.reshape(xv, (-1, w.shape[0]))
    y2 = k.gemm(x2, w, None if bias is None else parents[2]._data, act)

    def backward(g, needs):
        g2 = g if g.ndim == 2 else k.reshape(g, y2.shape)
        dz, db = k.bias_act_grad(act, g2, y2, len(needs) == 3 and needs[2])
        dx = k.reshape(k.gemm(dz, w, None, "none", False, True), xv.shape) if needs[0] else None
        dw = k.gemm(x2, dz, None, "none", True) if needs[1] else None
        return (dx, dw) if len(needs) == 2 else (dx, dw, db)
    y = y2 if xv.ndim == 2 else k.reshape(y2, tuple(xv.shape[:-1]) + (w.shape[1],))
    return _out(y, parents, backward, d)


def dropout(x, rate, noise_shape=None, seed=None):
    """Inverted dropout: kept units scaled by 1/(1-rate), the rest zero.

    The mask comes from the device's Philox generator keyed by `seed` (a
    pykern.backend.random.SeedGenerator, an int, or None for the global stream),
    so a seed gives the same mask on every device and thread count. noise_shape
    entries of None take the input's size.
    """
    x = _t(x)
    k = x.device.k
    xv = x._data
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate}")
    if rate == 1.0:
        zero = k.full(xv.shape, 0.0)
        return _out(zero, (x,), lambda g, needs: (k.full(g.shape, 0.0),), x.device)
    if noise_shape is None:
        shape = xv.shape
    else:
        shape = tuple(xv.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    key, offset = krandom.draw(seed, shape)
    mask = k.dropout_mask(shape, rate, key, offset)
    return _out(k.binary("multiply", xv, mask), (x,),
                lambda g, needs: (k.binary("multiply", g, mask),), x.device)
