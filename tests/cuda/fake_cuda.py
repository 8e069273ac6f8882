"""A NumPy stand-in for pykern._cuda, for testing everything above the bindings
without a GPU: the CUDA kernel table's Python layer (cuda.CudaKernels), the device
registry and the training loop's data path.

`Array` wraps an ndarray the way pykern._cuda.Array wraps a device buffer: shape,
dtype, reshape, and no implicit conversion (np.asarray raises), so any code that
reads storage with NumPy outside the kernel table, or hands an ndarray to a kernel
that wants an Array, fails here as it would on a GPU. Each function checks its
array arguments like the binding (TypeError for a non-Array) and computes with the
CPU kernel table. `counts` records host<->device transfers.

Not a simulation of the kernels' numerics: the GPU tests (test_core_kernels.py,
test_gpu_models.py) compare the real kernels with the CPU ones.
"""
import collections
import math

import numpy as np

from pykern.backend.devices.cpu import CpuKernels

_CPU = CpuKernels()
counts = collections.Counter()
_HELD = {"float32", "float64", "int32", "int64", "uint8", "bool"}


class Array:
    __slots__ = ("_v", "device", "__weakref__")

    def __init__(self, v, device=0):
        v = np.asarray(v)
        if not v.flags.c_contiguous:
            v = v.copy(order="C")
        if v.dtype.name not in _HELD:
            raise ValueError(f"fake Array: dtype {v.dtype} is not held on the GPU")
        self._v = v
        self.device = device

    shape = property(lambda self: self._v.shape)
    dtype = property(lambda self: self._v.dtype)
    ndim = property(lambda self: self._v.ndim)
    size = property(lambda self: self._v.size)
    nbytes = property(lambda self: self._v.nbytes)
    data_ptr = property(lambda self: self._v.__array_interface__["data"][0])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Array(self._v.reshape(shape), self.device)

    def __len__(self):
        return len(self._v)

    def __array__(self, *args, **kwargs):
        raise TypeError("a pykern._cuda.Array lives on the GPU: copy it with to_host")

    def __repr__(self):
        return f"fake Array(shape={self.shape}, dtype={self.dtype})"


def _a(x, what="x"):
    if not isinstance(x, Array):
        raise TypeError(f"{what} must be a pykern._cuda.Array, got {type(x).__name__}")
    return x._v


def _num_or_array(x, what):
    if isinstance(x, Array):
        return x._v
    if isinstance(x, (bool, int, float, np.generic)) or (isinstance(x, np.ndarray) and x.ndim == 0):
        return x
    raise TypeError(f"{what} must be a pykern._cuda.Array or a number, got {type(x).__name__}")


def _w(v):
    return Array(np.asarray(v))


def device_count():
    return 1


def device_info(index):
    return {"name": "fake GPU", "compute_capability": (9, 0), "total_memory_bytes": 1 << 30,
            "multiprocessors": 1}


def to_device(a, device=0):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"to_device: expected a numpy.ndarray, got {type(a).__name__}")
    counts["to_device"] += 1
    return Array(a.copy(), device)


def to_host(x):
    counts["to_host"] += 1
    return _a(x).copy()


def full(shape, value, dtype="float32", device=0):
    if not isinstance(value, (bool, int, float, np.generic)):
        raise TypeError(f"full: value must be a number, got {type(value).__name__}")
    return Array(np.full(tuple(shape), value, np.dtype(dtype)), device)


def synchronize(device=None):
    pass


def copy(x):
    return Array(_a(x).copy())


def copy_(dst, src):
    np.copyto(_a(dst, "dst"), _num_or_array(src, "src"), casting="unsafe")


def cast(x, dtype):
    return _w(_a(x).astype(np.dtype(dtype)))


def unary(op, x, p=None):
    v = _a(x)
    if v.dtype.kind in "iub" and op not in ("negative", "abs", "sign", "logical_not"):
        v = v.astype(np.float32)
    return _w(_CPU.unary(op, v, p))


_GRAD_FROM_Y = {"sqrt", "reciprocal", "exp", "expm1", "relu", "sigmoid", "tanh",
                "exponential", "tan"}


def unary_grad(op, g, x, y, p=None):
    if op != "negative" and (y if op in _GRAD_FROM_Y else x) is None:
        raise ValueError(f"unary_grad: the gradient of '{op}' needs "
                         f"{'y' if op in _GRAD_FROM_Y else 'x'}")
    opt = [None if v is None else _a(v) for v in (x, y)]
    return _w(_CPU.unary_grad(op, _a(g), *opt, p))


def binary(op, a, b):
    va, vb = _num_or_array(a, "a"), _num_or_array(b, "b")
    if not isinstance(a, Array) and not isinstance(b, Array):
        raise TypeError(f"{op}: at least one operand must be an Array")
    return _w(_CPU.binary(op, va, vb))


def where(cond, a, b):
    return _w(np.where(_a(cond, "cond"), _num_or_array(a, "a"), _num_or_array(b, "b")))


def clip(x, lo, hi):
    return _w(_CPU.clip(_a(x), _num_or_array(lo, "lo"), _num_or_array(hi, "hi")))


def clip_mask(x, lo, hi):
    return _w(_CPU.clip_mask(_a(x), _num_or_array(lo, "lo"), _num_or_array(hi, "hi")))


def reduce(op, x, axes, keepdims=False, precise=False):
    axes = tuple(range(_a(x).ndim)) if axes is None else axes
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    return _w(_CPU.reduce(op, _a(x), axes, keepdims, precise))


def arg_reduce(op, x, axis, keepdims=False):
    return _w(_CPU.arg_reduce(op, _a(x), axis, keepdims))


def softmax(x, axis):
    return _w(_CPU.softmax(_a(x), axis))


def log_softmax(x, axis):
    return _w(_CPU.log_softmax(_a(x), axis))


def transpose(x, axes=None):
    return _w(np.ascontiguousarray(np.transpose(_a(x), axes)))


def broadcast_to(x, shape):
    return _w(np.broadcast_to(_a(x), tuple(shape)).copy())


def concat(xs, axis):
    return _w(_CPU.concat([_a(x) for x in xs], axis))


def stack(xs, axis):
    return _w(_CPU.stack([_a(x) for x in xs], axis))


def getitem(x, index):
    return _w(np.array(_a(x)[index]))


def scatter_add_basic(shape, index, g):
    return _w(_CPU.scatter_add(tuple(shape), index, _a(g), True))


def pad(x, pads, value=0.0):
    return _w(_CPU.pad(_a(x), pads, value))


def take(x, indices, axis=None):
    return _w(_CPU.take(_a(x), _a(indices, "indices"), axis))


def one_hot(indices, depth, dtype="float32"):
    return _w(_CPU.one_hot(_a(indices, "indices"), depth, dtype))


def binary_crossentropy(y, z, from_logits):
    return tuple(map(_w, _CPU.binary_crossentropy(_a(y), _a(z), from_logits)))


def categorical_crossentropy(y, z, from_logits):
    return tuple(map(_w, _CPU.categorical_crossentropy(_a(y), _a(z), from_logits)))


def sparse_categorical_crossentropy(labels, z, from_logits, ignore_class=None):
    return tuple(map(_w, _CPU.sparse_categorical_crossentropy(_a(labels), _a(z), from_logits,
                                                              ignore_class)))


def reduce_loss(v, w, reduction):
    return tuple(map(_w, _CPU.reduce_loss(_a(v), None if w is None else _a(w), reduction)))


def accumulate(state, total, count, scale=1.0, device=0):
    s = None if state is None else _a(state)
    return _w(_CPU.accumulate(s, _num_or_array(total, "total"), _num_or_array(count, "count"),
                              scale))


def pack_(buf, xs, offsets, scale=1.0):
    _CPU.pack_(_a(buf), [_a(x) for x in xs], offsets, scale)


def unpack_(buf, xs, offsets, divisor=1.0):
    _CPU.unpack_(_a(buf), [_a(x) for x in xs], offsets, divisor)


def random_fill(shape, dist, seed, offset, rate=0.0, device=0):
    if dist == "dropout_mask":
        return _w(_CPU.dropout_mask(tuple(shape), rate, seed, offset))
    fn = _CPU.random_uniform if dist == "uniform" else _CPU.random_normal
    return _w(fn(tuple(shape), seed, offset))


# --- the dense-network and sequence families: the CPU table on unwrapped storage -------------

def _unwrap(v):
    if isinstance(v, Array):
        return v._v
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap(x) for x in v)
    return v  # host arrays the families take by design (the optimizer's decays) pass as they are


def _rewrap(v):
    if isinstance(v, np.ndarray):
        return Array(v)
    if isinstance(v, tuple):
        return tuple(_rewrap(x) for x in v)
    if isinstance(v, list):
        return [_rewrap(x) for x in v]
    return v


class _Plan:
    """A CPU optimizer plan over the fake Arrays' buffers (updated in place)."""

    def __init__(self, plan):
        self._plan = plan

    def step(self, grads, *args, **kwargs):
        return self._plan.step(_unwrap(list(grads)), *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._plan, name)


def family_method(name):
    """A kernel-table method running the CPU table's `name` on unwrapped storage."""
    cpu = getattr(_CPU, name)

    def method(self, *args, **kwargs):
        out = cpu(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
        if name == "optimizer_plan":
            return _Plan(out)
        return _rewrap(out)
    method.__name__ = name
    return method


def kernels_class(table_module):
    """The CUDA table class of `table_module` (pykern.backend.devices.cuda, bound to this
    stand-in) with the dense and sequence families running on the CPU table."""
    import inspect
    own = set(vars(table_module.CudaKernels))
    families = {n: family_method(n) for n, _ in inspect.getmembers(CpuKernels, inspect.isfunction)
                if not n.startswith("_") and n not in own}
    return type("FakeCudaKernels", (table_module.CudaKernels,), families)


def transfers():
    return dict(counts)


def reset_counts():
    counts.clear()


