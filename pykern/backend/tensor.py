"""Tensor and Variable: float32 NumPy arrays that remember the op that made them.

Define-by-run: every differentiable op returns a Tensor holding its parents and
a backward function `backward(g, needs) -> tuple` that maps the gradient of the
output to the gradients of the parents (None where `needs[i]` is False, so a
layer never computes the input gradient of a batch of data). `gradients` walks
that graph in reverse. Recording is on unless `no_grad()` is active, so
`gradients(y, x)` works for any x in y's history, as Keras 2's K.gradients did.
"""
import itertools

import numpy as np

__all__ = ["Tensor", "Variable", "is_tensor", "no_grad", "recording"]

_FLOATX = np.float32
# creation order: a tensor's parents always exist before it, so sorting by this
# number is a topological order of the graph
_creation = itertools.count()


class _Recording:
    on = True


def recording():
    """True while ops record their backward functions (outside `no_grad`)."""
    return _Recording.on


class no_grad:
    """Context manager that stops ops from recording the graph (inference)."""

    __slots__ = ("_prev",)

    def __enter__(self):
        self._prev = _Recording.on
        _Recording.on = False
        return self

    def __exit__(self, *exc):
        _Recording.on = self._prev
        return False


class Tensor:
    """An immutable value with its place in the autograd graph.

    `_value` is the ndarray; `_parents` the input Tensors of the op that made
    it (empty for leaves); `_backward` that op's gradient function.
    """

    # _keras_mask (set only on masked outputs) is the boolean timestep mask Keras
    # attaches to a layer's output; read it with getattr(t, "_keras_mask", None)
    __slots__ = ("_value", "_parents", "_backward", "_seq", "name", "_keras_mask",
                 "__weakref__")
    # ndarray <op> Tensor defers to Tensor's reflected operators (a differentiable
    # Tensor comes out), while NumPy functions like np.exp(t) see the array via __array__
    __array_priority__ = 1000.0

    def __init__(self, value, parents=(), backward=None, name=None):
        if type(value) is not np.ndarray:
            value = np.asarray(value)
            if value.dtype.kind == "f" and value.dtype != _FLOATX:
                value = value.astype(_FLOATX)
        self._value = value
        self._parents = parents
        self._backward = backward
        self._seq = next(_creation)
        self.name = name

    # --- array protocol -------------------------------------------------------------------
    @property
    def shape(self):
        return self._value.shape

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def ndim(self):
        return self._value.ndim

    @property
    def size(self):
        return self._value.size

    def numpy(self):
        """The value as an ndarray (shared with the tensor: do not modify it)."""
        return self._value

    def __array__(self, dtype=None, copy=None):
        v = self._value
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._value.shape[0]

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __bool__(self):
        return bool(self._value)

    def __repr__(self):
        kind = type(self).__name__
        return f"<{kind} shape={self.shape} dtype={self.dtype.name}\n{self._value!r}>"

    # --- operators: defined in pykern.ops, attached there to avoid an import cycle --------
    @property
    def T(self):
        from pykern.ops import transpose
        return transpose(self)

    def reshape(self, *shape):
        from pykern.ops import reshape
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return reshape(self, shape)


def is_tensor(x):
    return isinstance(x, Tensor)


class Variable(Tensor):
    """A leaf tensor with a name that training updates in place.

    The value is a float32 ndarray owned by the variable; `assign` copies into
    it so optimizers and views (e.g. native kernels) keep seeing the same
    buffer.
    """

    __slots__ = ("trainable", "path", "regularizer", "constraint", "_initializer")

    def __init__(self, initializer, shape=None, dtype="float32", trainable=True, name=None,
                 regularizer=None, constraint=None, path=None):
        if callable(initializer) and not isinstance(initializer, (np.ndarray, Tensor)):
            if shape is None:
                raise ValueError(f"Variable {name!r}: a callable initializer needs a shape")
            value = initializer(tuple(shape), dtype=dtype)
        else:
            value = initializer
        value = np.array(value._value if isinstance(value, Tensor) else value,
                         dtype=np.dtype(dtype), order="C", copy=True)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f"Variable {name!r}: initial value has shape {value.shape}, "
                             f"expected {tuple(shape)}")
        super().__init__(value, (), None, name or "variable")
        self.trainable = bool(trainable)
        self.path = path or self.name
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def value(self):
        return self._value

    def numpy(self):
        """A copy of the current value."""
        return self._value.copy()

    def assign(self, value):
        value = value._value if isinstance(value, Tensor) else value
        value = np.asarray(value)
        if value.shape != self._value.shape:
            raise ValueError(f"Variable {self.path!r}: cannot assign a value of shape "
                             f"{value.shape} to a variable of shape {self._value.shape}")
        np.copyto(self._value, value, casting="unsafe")
        return self

    def assign_add(self, delta):
        self._value += np.asarray(delta._value if isinstance(delta, Tensor) else delta,
                                  dtype=self._value.dtype)
        return self

    def assign_sub(self, delta):
        self._value -= np.asarray(delta._value if isinstance(delta, Tensor) else delta,
                                  dtype=self._value.dtype)
        return self

    def __repr__(self):
        return (f"<Variable path={self.path} shape={self.shape} dtype={self.dtype.name}, "
                f"value={self._value!r}>")
