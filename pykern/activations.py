"""Activation functions, by name or as functions (Keras 3 names and defaults).

`get("relu")` gives the function; `serialize(fn)` its name; unknown names
raise ValueError quoting the name. See keras_behaviour.md §2.3 for the
defaults that differ between functions and layers (leaky_relu 0.2 vs
LeakyReLU 0.3, hard_sigmoid slope 1/6, exact gelu).
"""
from pykern import ops
from pykern.utils.serialization import get_registered_name, get_registered_object

__all__ = ["get", "serialize", "deserialize", "linear", "relu", "relu6", "leaky_relu", "elu",
           "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh", "softmax", "log_softmax",
           "softplus", "softsign", "silu", "swish", "hard_silu", "hard_swish", "exponential",
           "mish", "celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink",
           "sparse_plus", "sparse_sigmoid", "squareplus", "tanh_shrink", "threshold"]


def linear(x):
    return ops.convert_to_tensor(x) if not isinstance(x, ops.Tensor) else x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    return ops.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def relu6(x):
    return ops.relu6(x)


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def selu(x):
    return ops.selu(x)


def gelu(x, approximate=False):
    return ops.gelu(x, approximate=approximate)


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    return ops.hard_sigmoid(x)


def hard_silu(x):
    return ops.hard_silu(x)


hard_swish = hard_silu


def tanh(x):
    return ops.tanh(x)


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    return ops.softsign(x)


def silu(x):
    return ops.silu(x)


swish = silu


def exponential(x):
    return ops.exponential(x)


def mish(x):
    """x * tanh(softplus(x))."""
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


# The rest of keras.activations, composed of differentiable ops in the order Keras'
# TensorFlow backend composes them, so that gradients at the kinks agree too.
def celu(x, alpha=1.0):
    """max(x, 0) + alpha * expm1(min(x, 0) / alpha)."""
    return ops.add(ops.maximum(x, 0.0),
                   ops.multiply(alpha, ops.expm1(ops.divide(ops.minimum(x, 0.0), alpha))))


def glu(x, axis=-1):
    """a * sigmoid(b), where a and b are the two halves of x along `axis`."""
    x = ops.convert_to_tensor(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even, got shape {x.shape}")
    a, b = ops.split(x, 2, axis=axis)
    return ops.multiply(a, ops.sigmoid(b))


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    return ops.where(ops.greater(ops.abs(x), threshold), x, 0.0)


def hard_tanh(x):
    """clip(x, -1, 1)."""
    return ops.clip(x, -1.0, 1.0)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x)."""
    return ops.negative(ops.softplus(ops.negative(x)))


def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, else 0."""
    return ops.where(ops.greater(x, threshold), ops.subtract(x, threshold),
                     ops.where(ops.less(x, -threshold), ops.add(x, threshold), 0.0))


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1."""
    return ops.where(ops.less_equal(x, -1.0), 0.0,
                     ops.where(ops.less(x, 1.0), ops.multiply(0.25, ops.square(ops.add(x, 1.0))),
                               x))


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    return ops.where(ops.less_equal(x, -1.0), 0.0,
                     ops.where(ops.greater_equal(x, 1.0), 1.0,
                               ops.multiply(0.5, ops.add(x, 1.0))))


def squareplus(x, b=4):
    """(x + sqrt(x^2 + b)) / 2."""
    return ops.divide(ops.add(x, ops.sqrt(ops.add(ops.square(x), b))), 2.0)


def tanh_shrink(x):
    """x - tanh(x)."""
    return ops.subtract(x, ops.tanh(x))


def threshold(x, threshold, default_value):  # noqa: A002 - Keras' name
    """x where x > threshold, else default_value."""
    return ops.where(ops.greater(x, threshold), x, default_value)


_ALL = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, sigmoid,
                                 hard_sigmoid, hard_silu, tanh, softmax, log_softmax, softplus,
                                 softsign, silu, exponential, mish, celu, glu, hard_shrink,
                                 hard_tanh, log_sigmoid, soft_shrink, sparse_plus,
                                 sparse_sigmoid, squareplus, tanh_shrink, threshold)}
_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def serialize(activation):
    """The Keras name of a built-in activation ('linear' for None); custom ones by
    their registered name."""
    if activation is None:
        return "linear"
    name = getattr(activation, "__name__", None)
    if name in _ALL and _ALL[name] is activation:
        return name
    if hasattr(activation, "get_config"):
        from pykern.utils.serialization import serialize_keras_object
        return serialize_keras_object(activation)
    return get_registered_name(activation)


def deserialize(config, custom_objects=None):
    return get(config, custom_objects)


def get(identifier, custom_objects=None):
    """None/'linear' -> linear; a name -> the function; a callable -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        name = _ALIASES.get(identifier, identifier)
        if name in _ALL:
            return _ALL[name]
        found = get_registered_object(identifier, custom_objects)
        if callable(found):
            return found
        raise ValueError(f"Unknown activation {identifier!r}; expected one of "
                         f"{sorted(set(_ALL) | set(_ALIASES))} or a callable")
    if isinstance(identifier, dict):
        from pykern.utils.serialization import deserialize_keras_object
        return deserialize_keras_object(identifier, custom_objects)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation identifier {identifier!r}")
