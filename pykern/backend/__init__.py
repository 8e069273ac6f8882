"""Tensors, variables, autograd and the runtime configuration.

Also the Keras-2 style helpers users still write as `K.*` (`from pykern import
backend as K`): variable, constant, eval, gradients, int_shape, clear_session, ...
"""
import numpy as np

from pykern.backend import config, random
from pykern.backend.autograd import GradientTape, grad_arrays, gradients
from pykern.backend.random import SeedGenerator, set_random_seed
from pykern.backend.state import clear_session as _clear_names
from pykern.backend.tensor import Tensor, Variable, is_tensor, no_grad

__all__ = ["config", "random", "Tensor", "Variable", "is_tensor", "no_grad", "gradients",
           "grad_arrays", "GradientTape", "SeedGenerator", "set_random_seed", "variable",
           "constant", "eval", "get_value", "set_value", "batch_get_value", "batch_set_value",
           "square", "sum", "mean", "max", "min", "exp", "log", "sqrt", "abs", "dot",
           "transpose", "reshape", "concatenate", "stack", "maximum", "minimum", "clip", "cast",
           "relu", "sigmoid", "tanh", "softmax", "ones_like", "zeros_like", "function",
           "int_shape", "shape", "ndim", "clear_session", "floatx", "epsilon", "cast_to_floatx",
           "zeros", "ones", "stop_gradient", "is_keras_tensor"]

_EPSILON = 1e-7


def floatx():
    return "float32"


def epsilon():
    return _EPSILON


def cast_to_floatx(x):
    return np.asarray(x, dtype=np.float32)


def variable(value, dtype=None, name=None, constraint=None, trainable=True):
    """A Variable initialised with a copy of `value`."""
    v = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    return Variable(v, dtype=dtype or floatx(), name=name, constraint=constraint,
                    trainable=trainable)


def constant(value, dtype=None, shape=None, name=None):
    v = np.asarray(value, dtype=dtype or floatx())
    if shape is not None:
        v = np.broadcast_to(v, tuple(shape)).copy()
    return Tensor(v, name=name)


def zeros(shape, dtype=None, name=None):
    return variable(np.zeros(shape, dtype=dtype or floatx()), name=name)


def ones(shape, dtype=None, name=None):
    return variable(np.ones(shape, dtype=dtype or floatx()), name=name)


def eval(x):  # noqa: A001 - Keras' name
    """The value of a tensor or variable as an ndarray."""
    from pykern.ops import convert_to_numpy
    return convert_to_numpy(x)


def get_value(x):
    return eval(x)


def batch_get_value(xs):
    return [eval(x) for x in xs]


def set_value(x, value):
    x.assign(value)


def batch_set_value(tuples):
    for x, value in tuples:
        x.assign(value)


def _op(name):
    def fn(*args, **kwargs):
        import pykern.ops as ops
        return getattr(ops, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"pykern.ops.{name}"
    return fn


square = _op("square")
exp = _op("exp")
log = _op("log")
sqrt = _op("sqrt")
abs = _op("abs")  # noqa: A001 - Keras' name
dot = _op("matmul")
stop_gradient = _op("stop_gradient")
transpose = _op("transpose")
reshape = _op("reshape")
stack = _op("stack")
maximum = _op("maximum")
minimum = _op("minimum")
clip = _op("clip")
cast = _op("cast")
relu = _op("relu")
sigmoid = _op("sigmoid")
tanh = _op("tanh")
softmax = _op("softmax")
ones_like = _op("ones_like")
zeros_like = _op("zeros_like")


def concatenate(tensors, axis=-1):
    """Keras 2's K.concatenate (default axis -1)."""
    from pykern.ops import concatenate as _concatenate
    return _concatenate(tensors, axis=axis)


def function(inputs, outputs):
    """Keras 2's K.function: a callable mapping input arrays to output arrays,
    e.g. K.function([model.input], [model.layers[2].output])."""
    from pykern.models.functional import Functional
    model = Functional(inputs, outputs, name="k_function")

    def run(values):
        with no_grad():
            out = model(values if isinstance(inputs, (list, tuple)) else values)
        if isinstance(out, (list, tuple)):
            return [t.numpy() for t in out]
        return out.numpy()
    return run


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    from pykern.ops import sum as _sum
    return _sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    from pykern.ops import mean as _mean
    return _mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    from pykern.ops import max as _max
    return _max(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Keras' name
    from pykern.ops import min as _min
    return _min(x, axis=axis, keepdims=keepdims)


def int_shape(x):
    """The static shape as a tuple (None for unknown dims of symbolic tensors)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        return tuple(np.shape(x))
    return tuple(None if d is None else int(d) for d in shape)


def shape(x):
    return int_shape(x)


def ndim(x):
    return len(int_shape(x))


def is_keras_tensor(x):
    from pykern.backend.keras_tensor import KerasTensor
    return isinstance(x, KerasTensor)


def clear_session():
    """Resets automatic layer names (and nothing that existing objects depend on)."""
    _clear_names()
