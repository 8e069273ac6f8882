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
           "mish"]


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


_ALL = {f.__name__: f for f in (linear, relu, relu6, leaky_relu, elu, selu, gelu, sigmoid,
                                 hard_sigmoid, hard_silu, tanh, softmax, log_softmax, softplus,
                                 softsign, silu, exponential, mish)}
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
