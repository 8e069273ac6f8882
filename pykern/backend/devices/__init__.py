"""Devices and their kernel tables: where a tensor's storage lives and the one
place that computes on it.

Every device has one kernel table with the same method names (`cpu.CpuKernels`,
`meta.MetaKernels`, `cuda.CudaKernels`: one device 'cuda:N' per visible GPU when
pykern was built with CUDA). Ops take the table from their operands'
device and call it with storage objects (a NumPy array on the CPU, a shape on
`meta`); nothing outside the tables does math on storage.

`device(name)` scopes where new tensors and variables go (per thread and per
asyncio task: a contextvar); `set_device` changes the default. The default is
'cuda:0' when a GPU is visible, else 'cpu'; the environment variable
PYKERN_DEVICE ('cpu', 'cuda', 'cuda:N') chooses it instead, e.g. PYKERN_DEVICE=cpu
forces the CPU on a GPU machine. `meta` tensors
have a shape and dtype and no data: mixing a meta operand with tensors of any
other device gives a meta result (shape inference), while two real devices in
one op are a ValueError naming both.
"""
import contextvars
import os

__all__ = ["Device", "get", "current", "device", "set_device", "default_device", "of",
           "available", "trace", "weights_device", "tracing"]


class Device:
    """A place where tensors live: `name` ('cpu', 'meta', 'cuda:0'), `type`
    ('cpu', 'meta', 'cuda'), `index`, and `k`, its kernel table."""

    __slots__ = ("name", "type", "index", "k")

    def __init__(self, type_, index, kernels):
        self.type = type_
        self.index = index
        self.name = type_ if index is None else f"{type_}:{index}"
        self.k = kernels
        kernels.device = self

    def __repr__(self):
        return f"<Device {self.name}>"

    def __str__(self):
        return self.name

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                return get(other) is self
            except ValueError:
                return False
        return self is other

    __hash__ = object.__hash__


_devices = {}


def _cuda_count():
    """GPUs pykern._cuda sees; 0 when it is not built (never raises)."""
    try:
        from pykern import _cuda
    except ImportError:
        return 0
    return _cuda.device_count()


def _register():
    from pykern.backend.devices.cpu import CpuKernels
    from pykern.backend.devices.meta import MetaKernels
    _devices["cpu"] = Device("cpu", None, CpuKernels())
    _devices["meta"] = Device("meta", None, MetaKernels())
    count = _cuda_count()
    if count:
        from pykern.backend.devices.cuda import CudaKernels
        for i in range(count):
            _devices[f"cuda:{i}"] = Device("cuda", i, CudaKernels(i))


_register()
CPU = _devices["cpu"]
META = _devices["meta"]


def available():
    """Names of the devices tensors can be placed on now."""
    return list(_devices)


def get(name):
    """The Device for 'cpu', 'meta', 'cuda', 'cuda:N' (or a Device)."""
    if isinstance(name, Device):
        return name
    if not isinstance(name, str):
        raise TypeError(f"device: expected a device name such as 'cpu', got {name!r}")
    key = name.strip().lower()
    if key.startswith("gpu"):  # TensorFlow's name for the same device
        key = "cuda" + key[3:]
    if key in _devices:
        return _devices[key]
    if key == "cuda" and "cuda:0" in _devices:
        return _devices["cuda:0"]
    if key.split(":", 1)[0] == "cuda":
        why = ("no CUDA device is visible" if _cuda_built() else
               "this pykern was built without CUDA (pykern._cuda is missing)")
        raise ValueError(f"device {name!r} is not available: {why} (devices: {available()})")
    raise ValueError(f"unknown device {name!r}; expected one of {available()}")


def _cuda_built():
    try:
        from pykern import _cuda  # noqa: F401
    except ImportError:
        return False
    return True


def _initial_default():
    """PYKERN_DEVICE if set, else the first GPU, else the CPU."""
    chosen = os.environ.get("PYKERN_DEVICE", "").strip()
    if chosen:
        try:
            return get(chosen)
        except ValueError as e:
            raise ValueError(f"PYKERN_DEVICE={chosen!r}: {e}") from None
    return _devices.get("cuda:0", CPU)


_default = [_initial_default()]
_scope = contextvars.ContextVar("pykern_device", default=None)


def current():
    """The device new tensors and variables go to in this thread/task."""
    d = _scope.get()
    return _default[0] if d is None else d


def default_device():
    return _default[0]


def set_device(name):
    """Sets the default device (outside any `device` scope)."""
    _default[0] = get(name)


class device:
    """Context manager: new tensors and variables go to `name` inside the block.

    >>> with pykern.device("cpu"):
    ...     x = pykern.ops.convert_to_tensor(array)
    """

    __slots__ = ("_device", "_token")

    def __init__(self, name):
        self._device = get(name)
        self._token = None

    def __enter__(self):
        self._token = _scope.set(self._device)
        return self._device

    def __exit__(self, *exc):
        _scope.reset(self._token)
        return False


_trace_outer = contextvars.ContextVar("pykern_trace_outer", default=None)


class trace:
    """Context manager for shape inference (model building): new tensors go to
    `meta`, while new variables still go to the device outside the trace, so
    layers built during it get real weights."""

    __slots__ = ("_tokens",)

    def __enter__(self):
        outer = _trace_outer.get() or current()
        self._tokens = (_scope.set(META), _trace_outer.set(outer))
        return META

    def __exit__(self, *exc):
        _scope.reset(self._tokens[0])
        _trace_outer.reset(self._tokens[1])
        return False


def tracing():
    """True inside `trace()`."""
    return _trace_outer.get() is not None


def weights_device():
    """Where a new variable goes: the current device, or inside `trace()` the
    device outside it."""
    outer = _trace_outer.get()
    return current() if outer is None else outer


def of(tensors, op="op"):
    """The one device of `tensors` (a meta operand makes the result meta); a
    ValueError naming both when two real devices meet."""
    found = None
    for t in tensors:
        d = t.device
        if d is found:
            continue
        if found is None:
            found = d
            continue
        if d is META or found is META:
            found = META
            continue
        raise ValueError(f"{op}: operands are on different devices ({found.name} and {d.name}); "
                         f"move one with pykern.ops.convert_to_tensor inside a "
                         f"pykern.device({found.name!r}) scope")
    return found
