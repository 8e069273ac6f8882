"""Differentiable operations on Tensors, NumPy arrays and Python scalars.

Every op converts its inputs once to float32, computes with one native kernel
or vectorised NumPy ufunc, and records its backward function. Tensors get the
arithmetic operators (+ - * / ** @, unary -, abs, indexing) from here.
"""
import builtins
import functools

import numpy as np

from pykern.backend.keras_tensor import KerasTensor
from pykern.backend.tensor import Tensor, Variable
from pykern.ops.core import (cast, convert_to_numpy, convert_to_tensor, full, ones_like,
                             stop_gradient, zeros_like)
from pykern.ops.elementwise import (abs, absolute, add, clip, divide, equal, exp, expm1, floor,
                                    greater, greater_equal, less, less_equal, log, log1p,
                                    logical_and, logical_not, logical_or, maximum, minimum,
                                    multiply, negative, not_equal, power, reciprocal, round,
                                    sign, sin, cos, tan, sqrt, square, subtract,
                                    where)
from pykern.ops.conv import conv, conv_transpose, depthwise_conv, separable_conv
from pykern.ops.matmul import matmul
from pykern.ops.normalization import batch_normalization, layer_normalization, moments
from pykern.ops.pooling import average_pool, max_pool
from pykern.ops.nn import (dense, dropout, elu, erf, exponential, gelu, hard_sigmoid, hard_silu,
                           hard_swish, leaky_relu, linear, log_softmax, relu, relu6, selu,
                           sigmoid, silu, softmax, softplus, softsign, swish, tanh)
from pykern.ops.rnn import embedding, rnn
from pykern.ops.reductions import all, any, argmax, argmin, max, mean, min, prod, std, sum, var
from pykern.ops.shape import (broadcast_to, concatenate, expand_dims, flatten, getitem, pad,
                              repeat, reshape, slice, split, squeeze, stack, tile, transpose,
                              unstack)

__all__ = [
    "convert_to_tensor", "convert_to_numpy", "cast", "stop_gradient", "shape", "ones_like",
    "zeros_like", "add", "subtract", "multiply", "divide", "negative", "power", "square",
    "sqrt", "exp", "expm1", "log", "log1p", "abs", "absolute", "sign", "maximum", "minimum",
    "clip", "where", "reciprocal", "floor", "round", "equal", "not_equal", "greater", "greater_equal", "less",
    "less_equal", "logical_and", "logical_or", "logical_not", "matmul", "dense", "dropout",
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh",
    "softmax", "log_softmax", "softplus", "softsign", "silu", "swish", "hard_silu",
    "hard_swish", "exponential", "linear", "erf", "sum", "mean", "max", "min", "prod", "var",
    "std", "argmax", "argmin", "any", "all", "full", "reshape", "transpose", "concatenate", "stack", "split",
    "unstack", "expand_dims", "squeeze", "broadcast_to", "repeat", "tile", "slice", "getitem",
    "flatten", "conv", "conv_transpose", "depthwise_conv", "separable_conv", "max_pool",
    "average_pool", "batch_normalization", "layer_normalization", "moments", "pad", "sin",
    "cos", "tan", "rnn", "embedding",
]


def _attach_operators():
    def rev(fn):
        return lambda self, other: fn(other, self)
    table = {
        "__add__": add, "__radd__": rev(add), "__sub__": subtract, "__rsub__": rev(subtract),
        "__mul__": multiply, "__rmul__": rev(multiply), "__truediv__": divide,
        "__rtruediv__": rev(divide), "__pow__": power, "__rpow__": rev(power),
        "__matmul__": matmul, "__rmatmul__": rev(matmul), "__neg__": negative,
        "__pos__": lambda self: self, "__abs__": abs, "__getitem__": getitem,
        "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
        "__eq__": equal, "__ne__": not_equal,
    }
    def method(fn):
        def reduce(self, axis=None, keepdims=False, dtype=None, out=None, **kwargs):
            if out is not None:
                raise TypeError(f"Tensor.{fn.__name__}: out= is not supported")
            return fn(self, axis, keepdims)
        return reduce
    for name in ("sum", "mean", "max", "min"):
        table[name] = method(globals()[name])
    table["astype"] = cast
    for name, fn in table.items():
        setattr(Tensor, name, fn)
    # element-wise __eq__ would make tensors unhashable; identity keeps them usable as keys
    Tensor.__hash__ = object.__hash__
    Variable.__hash__ = object.__hash__


_attach_operators()

from pykern.ops import image, random  # noqa: E402,F401  (keras.ops.image, keras.random)

# Keras' op class name for each op (CamelCase of the function name, except these)
_CLASS_NAMES = {"getitem": "GetItem", "log_softmax": "LogSoftmax", "hard_silu": "HardSilu",
                "hard_swish": "HardSilu", "swish": "Silu", "absolute": "Absolute"}
# not keras.ops names: rnn and embedding are the recurrent and embedding layers' ops
_NOT_SYMBOLIC = {"convert_to_tensor", "convert_to_numpy", "shape", "erf", "full", "rnn",
                 "embedding"}
# Keras op class name -> the plain op, for symbolic nodes and their configs
symbolic_ops = {}


def _class_name(fn_name):
    return _CLASS_NAMES.get(fn_name) or "".join(p.capitalize() for p in fn_name.split("_"))


def _symbolic_aware(fn):
    """The op, or, when an argument is a KerasTensor (functional model building),
    a graph node that will run it (pykern.layers.op_layer.SymbolicOp)."""
    class_name = _class_name(fn.__name__)
    symbolic_ops.setdefault(class_name, fn)

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            if type(a) is KerasTensor or (type(a) in (list, tuple) and builtins.any(
                    type(t) is KerasTensor for t in a)):
                from pykern.layers.op_layer import SymbolicOp
                return SymbolicOp(class_name)(*args, **kwargs)
        return fn(*args, **kwargs)
    return op


for _name in __all__:
    if _name not in _NOT_SYMBOLIC:
        globals()[_name] = _symbolic_aware(globals()[_name])
del _name


def _shape_of_anything(x):
    """The static shape as a tuple (None for unknown dims of symbolic tensors)."""
    if isinstance(x, (Tensor, KerasTensor)):
        return tuple(x.shape)
    return tuple(np.shape(x))


shape = _shape_of_anything
shape.__name__ = "shape"
