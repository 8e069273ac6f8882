"""Tensor and Variable: storage on one device that remembers the op that made it.

A Tensor holds `_data`, its device's opaque storage (a NumPy array on the CPU,
a shape on `meta`), and `device`; only the device's kernel table computes on
the storage. Define-by-run: every differentiable op returns a Tensor holding
its parents and a backward function `backward(g, needs) -> tuple` that maps
the gradient of the output (storage) to the gradients of the parents (None
where `needs[i]` is False, so a layer never computes the input gradient of a
batch of data). `gradients` walks that graph in reverse.

Recording is on unless `no_grad()` is active, per thread and per asyncio task
(a contextvar), so `no_grad` in one thread never stops another thread's tape.
"""
import contextvars
import itertools

import numpy as np

from pykern.backend import devices

__all__ = ["Tensor", "Variable", "is_tensor", "no_grad", "recording"]

# creation order: a tensor's parents always exist before it, so sorting by this
# number is a topological order of the graph
_creation = itertools.count()
_RECORDING = contextvars.ContextVar("pykern_recording", default=True)


def recording():
    """True while ops record their backward functions (outside `no_grad`)."""
    return _RECORDING.get()


class _RecordingScope:
    __slots__ = ("_on", "_token")

    def __init__(self, on):
        self._on = on
        self._token = None

    def __enter__(self):
        self._token = _RECORDING.set(self._on)
        return self

    def __exit__(self, *exc):
        _RECORDING.reset(self._token)
        return False


class no_grad(_RecordingScope):
    """Context manager that stops ops from recording the graph (inference)."""

    __slots__ = ()

    def __init__(self):
        super().__init__(False)


def record():
    """Context manager that records the graph, even inside `no_grad` (tapes)."""
    return _RecordingScope(True)


class Tensor:
    """An immutable value on one device with its place in the autograd graph.

    `_data` is the device's storage; `_parents` the input Tensors of the op that
    made it (empty for leaves); `_backward` that op's gradient function.
    `Tensor(array)` places a host value on the current device.
    """

    # _keras_mask (set only on masked outputs) is the boolean timestep mask Keras
    # attaches to a layer's output; _keras_logits (set by the sigmoid and softmax ops)
    # the input the probabilities came from, which crossentropies use instead (as
    # TensorFlow-Keras does). Read both with getattr(t, name, None).
    __slots__ = ("_data", "device", "_parents", "_backward", "_seq", "name", "_keras_mask",
                 "_keras_logits", "__weakref__")
    # ndarray <op> Tensor defers to Tensor's reflected operators (a differentiable
    # Tensor comes out), while NumPy functions like np.exp(t) see the array via __array__
    __array_priority__ = 1000.0

    def __init__(self, value, parents=(), backward=None, name=None, device=None):
        d = devices.current() if device is None else devices.get(device)
        self._data = d.k.from_host(value._data if isinstance(value, Tensor) else value)
        self.device = d
        self._parents = parents
        self._backward = backward
        self._seq = next(_creation)
        self.name = name

    @classmethod
    def _wrap(cls, data, device, parents=(), backward=None):
        """A tensor around storage already on `device` (no conversion)."""
        t = cls.__new__(cls)
        t._data = data
        t.device = device
        t._parents = parents
        t._backward = backward
        t._seq = next(_creation)
        t.name = None
        return t

    # --- array protocol -------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    def numpy(self):
        """The value as a host ndarray (on the CPU shared with the tensor: do not modify it)."""
        return self.device.k.to_host(self._data)

    def __array__(self, dtype=None, copy=None):
        v = self.numpy()
        if dtype is not None and v.dtype != dtype:
            return v.astype(dtype)
        return v.copy() if copy else v

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __float__(self):
        return float(self.numpy())

    def __int__(self):
        return int(self.numpy())

    def __bool__(self):
        return bool(self.numpy())

    def __repr__(self):
        kind = type(self).__name__
        where = "" if self.device is devices.CPU else f" device={self.device.name}"
        if self.device is devices.META:
            return f"<{kind} shape={self.shape} dtype={self.dtype.name}{where}>"
        return f"<{kind} shape={self.shape} dtype={self.dtype.name}{where}\n{self.numpy()!r}>"

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

    The value is storage owned by the variable, on the device current at
    creation (outside a model build's meta trace: variables always hold real
    values); `assign` copies into it so optimizers and native plans keep
    seeing the same buffer.
    """

    __slots__ = ("trainable", "path", "regularizer", "constraint", "_initializer")

    def __init__(self, initializer, shape=None, dtype="float32", trainable=True, name=None,
                 regularizer=None, constraint=None, path=None, device=None):
        if callable(initializer) and not isinstance(initializer, (np.ndarray, Tensor)):
            if shape is None:
                raise ValueError(f"Variable {name!r}: a callable initializer needs a shape")
            value = initializer(tuple(shape), dtype=dtype)
        else:
            value = initializer
        if isinstance(value, Tensor):
            value = value.numpy()
        value = np.array(value, dtype=np.dtype(dtype), order="C", copy=True)
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise ValueError(f"Variable {name!r}: initial value has shape {value.shape}, "
                             f"expected {tuple(shape)}")
        d = devices.weights_device() if device is None else devices.get(device)
        super().__init__(value, (), None, name or "variable", device=d)
        self.trainable = bool(trainable)
        self.path = path or self.name
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def value(self):
        return self

    def numpy(self):
        """A copy of the current value."""
        return np.array(self.device.k.to_host(self._data), copy=True)

    def _source(self, value, what):
        if isinstance(value, Tensor):
            if value.device is not self.device and value.device is not devices.META:
                raise ValueError(f"Variable {self.path!r}: cannot {what} a tensor on "
                                 f"{value.device.name} to a variable on {self.device.name}")
            return value._data
        return self.device.k.from_host(value, dtype=self.dtype)

    def assign(self, value):
        src = self._source(value, "assign")
        if tuple(src.shape) != tuple(self.shape):
            raise ValueError(f"Variable {self.path!r}: cannot assign a value of shape "
                             f"{tuple(src.shape)} to a variable of shape {self.shape}")
        self.device.k.assign(self._data, src)
        return self

    def assign_add(self, delta):
        k = self.device.k
        k.assign(self._data, k.binary("add", self._data, k.cast(self._source(delta, "add"),
                                                                 self.dtype)))
        return self

    def assign_sub(self, delta):
        k = self.device.k
        k.assign(self._data, k.binary("subtract", self._data,
                                      k.cast(self._source(delta, "subtract"), self.dtype)))
        return self

    def __repr__(self):
        return (f"<Variable path={self.path} shape={self.shape} dtype={self.dtype.name}, "
                f"value={self.numpy()!r}>")
