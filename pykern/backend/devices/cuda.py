"""The CUDA kernel table: storage is a `pykern._cuda.Array` (a contiguous buffer on one GPU);
every method is one call into pykern._cuda (argument checks live in the bindings). The core
methods are here; the dense-network and sequence kernels come from the two mixins
(`cuda_nn.CudaNNKernels`, `cuda_seq.CudaSeqKernels`).

Names, signatures and semantics are the CPU table's (`cpu.CpuKernels`), NumPy's dtype rules
included. Work is queued on the device's default stream and never waited for, except where a
value comes back to the host (`to_host`) or a kernel must validate its input (take, one_hot
and the sparse crossentropy read a flag back to raise IndexError/ValueError).

A few rare methods run on the host through the CPU table (see their docstrings): advanced
(array) indexing and its gradient, kth_largest, top_k_hit, lookup and the affine image
transforms. None of them is on a model's training path.
"""
import numpy as np

from pykern import _cuda
from pykern.backend.devices.cpu import CpuKernels
from pykern.backend.devices.cuda_nn import CudaNNKernels
from pykern.backend.devices.cuda_seq import CudaSeqKernels

__all__ = ["CudaKernels"]

Array = _cuda.Array
_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)
_HOST = CpuKernels()  # the host fallbacks' table


def _held(v):
    """A host array in a dtype the device holds (float32/64, int32/64, uint8, bool):
    smaller and unsigned integers widen, float16 becomes float32."""
    kind, size = v.dtype.kind, v.dtype.itemsize
    if kind not in "fiub":
        raise ValueError(f"cannot place an array of dtype {v.dtype} on the GPU: device storage "
                         f"is numeric (float, int, uint8, bool)")
    if kind == "f" and size < 4:
        return v.astype(np.float32)
    if kind == "i" and size < 4:
        return v.astype(np.int32)
    if kind == "u" and size > 1:
        return v.astype(np.int32 if size == 2 else np.int64)
    return v


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, slice) or
               (isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)))
               for i in items)


def _host_index(index):
    """An advanced index with its device arrays brought to the host."""
    if isinstance(index, Array):
        return _cuda.to_host(index)
    if isinstance(index, tuple):
        return tuple(_cuda.to_host(i) if isinstance(i, Array) else i for i in index)
    return index


class CudaKernels(CudaNNKernels, CudaSeqKernels):
    """The kernel table of CUDA device `index` (see the module docstring)."""

    name = "cuda"
    device = None  # set by Device

    def __init__(self, index=0):
        self.index = index

    def _h2d(self, v):
        return _cuda.to_device(_held(np.asarray(v)), self.index)

    # --- transfers and creation ------------------------------------------------------------
    def from_host(self, a, dtype=None):
        """A host value (or an Array) as storage on this device: floats become float32
        unless `dtype` says otherwise. A 0-d number is a fill, not a copy."""
        if isinstance(a, Array):
            if a.device != self.index:
                a = self._h2d(_cuda.to_host(a))
            if dtype is not None and a.dtype != np.dtype(dtype):
                return _cuda.cast(a, dtype)
            return a
        v = np.asarray(a) if dtype is None else np.asarray(a, dtype=np.dtype(dtype))
        if dtype is None and v.dtype.kind == "f" and v.dtype != _F32:
            v = v.astype(_F32)
        if v.ndim == 0 and v.dtype.kind in "fb":  # exact through the fill's double
            v = _held(v)
            return _cuda.full((), v.item(), v.dtype, self.index)
        return self._h2d(v)

    def to_host(self, x):
        """The value as a new ndarray (waits for the kernels that write x)."""
        return _cuda.to_host(x)

    def full(self, shape, value, dtype="float32"):
        """`value` (a number or a 0-d Array, as NumPy's full) in a new array of `shape`."""
        if isinstance(value, Array):
            if value.dtype != np.dtype(dtype):
                value = _cuda.cast(value, dtype)
            return _cuda.broadcast_to(value, tuple(shape))
        return _cuda.full(tuple(shape), value, dtype, self.index)

    def copy(self, x):
        return _cuda.copy(x)

    def assign(self, dst, src):
        """Copies src into dst's buffer (in place; broadcast and cast as np.copyto)."""
        _cuda.copy_(dst, src)

    def owned(self, x):
        """x as a float32 array that may be updated in place (every Array is contiguous and
        writable: a float32 one is handed out as it is, as on the CPU)."""
        return x if x.dtype == _F32 else _cuda.cast(x, _F32)

    def cast(self, x, dtype):
        return _cuda.cast(x, dtype)

    # --- element-wise -------------------------------------------------------------------------
    def unary(self, op, x, p=None):
        return _cuda.unary(op, x, p)

    def unary_grad(self, op, g, x, y, p=None):
        return _cuda.unary_grad(op, g, x, y, p)

    def bias_act_grad(self, act, g, y, bias):
        """(dz, db) for y = act(z + bias): dz = g * act'(y), db its sum over all but the
        last axis (None unless bias); the element-wise and reduction kernels."""
        dz = g if act == "none" else _cuda.unary_grad(act, g, None, y, None)
        return dz, (_cuda.reduce("sum", dz, tuple(range(dz.ndim - 1)), False, False)
                    if bias else None)

    def binary(self, op, a, b):
        """a op b with NumPy broadcasting and dtype rules (Python numbers are weak)."""
        return _cuda.binary(op, a, b)

    def where(self, cond, a, b):
        return _cuda.where(cond, a, b)

    def clip(self, x, lo, hi):
        return _cuda.clip(x, lo, hi)

    def clip_mask(self, x, lo, hi):
        return _cuda.clip_mask(x, lo, hi)

    # --- reductions ---------------------------------------------------------------------------
    def reduce(self, op, x, axes, keepdims=False, precise=False):
        """op over `axes` in a fixed order (bitwise repeatable); precise sums and means
        accumulate and return float64."""
        return _cuda.reduce(op, x, axes, keepdims, precise)

    def arg_reduce(self, op, x, axis, keepdims=False):
        return _cuda.arg_reduce(op, x, axis, keepdims)

    def extreme_share(self, x, y, axes):
        """1/count at the cells equal to the (kept-dims) result y, 0 elsewhere."""
        hit = _cuda.cast(_cuda.binary("equal", x, y), _F32)
        return _cuda.binary("divide", hit, _cuda.reduce("sum", hit, axes, True))

    # --- layout -------------------------------------------------------------------------------
    def reshape(self, x, shape):
        return x.reshape(tuple(shape))

    def transpose(self, x, axes):
        return _cuda.transpose(x, axes)

    def broadcast_to(self, x, shape):
        return _cuda.broadcast_to(x, tuple(shape))

    def concat(self, xs, axis):
        return _cuda.concat(list(xs), axis)

    def stack(self, xs, axis):
        return _cuda.stack(list(xs), axis)

    def getitem(self, x, index):
        """x[index]: basic indices (ints, slices, None, Ellipsis) as a strided copy on the
        device. Advanced (array) indices go through the host: x and the index are copied to
        the host, indexed by NumPy and the result copied back (not a training hot path)."""
        if _is_basic(index):
            return _cuda.getitem(x, index)
        return self.from_host(_cuda.to_host(x)[_host_index(index)], dtype=x.dtype)

    def scatter_add(self, shape, index, g, basic):
        """zeros(shape) with g added at [index]: for basic indices a strided write on the
        device; advanced indices add on the host with np.add.at (not a hot path)."""
        if basic:
            return _cuda.scatter_add_basic(tuple(shape), index, g)
        out = _HOST.scatter_add(tuple(shape), _host_index(index), _cuda.to_host(g), False)
        return self.from_host(out, dtype=g.dtype)

    def pad(self, x, pads, value=0.0):
        return _cuda.pad(x, [tuple(p) for p in pads], float(value))

    def _indices(self, indices):
        if isinstance(indices, Array):
            return indices if indices.dtype.kind == "i" else _cuda.cast(indices, _I64)
        return self._h2d(np.asarray(indices, dtype=np.int64))

    def take(self, x, indices, axis):
        """np.take on the device; an index outside [-n, n) is an IndexError (the check
        reads a flag back, so this call waits for the GPU)."""
        return _cuda.take(x, self._indices(indices), axis)

    def one_hot(self, indices, depth, dtype="float32"):
        return _cuda.one_hot(self._indices(indices), int(depth), dtype)

    def kth_largest(self, x, k):
        """The k-th largest value along the last axis (computed on the host: metrics only)."""
        return self.from_host(_HOST.kth_largest(_cuda.to_host(x), k), dtype=x.dtype)

    def top_k_hit(self, p, idx, k):
        """1 where class idx is among the k largest of p (on the host: metrics only)."""
        return self.from_host(_HOST.top_k_hit(_cuda.to_host(p), _cuda.to_host(idx), k))

    def lookup(self, x, keys, values, default):
        """values[i] where x == keys[i] (on the host: preprocessing layers only)."""
        out = _HOST.lookup(_cuda.to_host(x), _cuda.to_host(keys), _cuda.to_host(values),
                           default)
        return self.from_host(out, dtype=out.dtype)

    # --- images: x (N, H, W, C) -----------------------------------------------------------------
    def affine_transform(self, x, transforms, interpolation, fill_mode, fill_value):
        """The CPU table's affine_transform run on the host (augmentation layers only)."""
        t = _cuda.to_host(transforms) if isinstance(transforms, Array) else transforms
        y = _HOST.affine_transform(_cuda.to_host(x), t, interpolation, fill_mode, fill_value)
        return self.from_host(y)

    def affine_transform_backward(self, dy, transforms, interpolation, fill_mode, x_shape):
        """The CPU table's affine_transform_backward run on the host."""
        t = _cuda.to_host(transforms) if isinstance(transforms, Array) else transforms
        dx = _HOST.affine_transform_backward(_cuda.to_host(dy), t, interpolation, fill_mode,
                                             x_shape)
        return self.from_host(dx)

    # --- neural-network kernels ---------------------------------------------------------------
    def softmax(self, x, axis):
        return _cuda.softmax(x, axis)

    def log_softmax(self, x, axis):
        return _cuda.log_softmax(x, axis)

    def reduce_loss(self, v, w, reduction):
        """(loss, scale) float32 0-d arrays, sums in float64 (the CPU table's rules)."""
        return _cuda.reduce_loss(v, w, reduction)

    def accumulate(self, state, total, count, scale=1.0):
        """state + (total * scale, count) as a new float64 (2,) array."""
        return _cuda.accumulate(state, total, count, float(scale), self.index)

    def binary_crossentropy(self, y, z, from_logits):
        return _cuda.binary_crossentropy(y, z, bool(from_logits))

    def categorical_crossentropy(self, y, z, from_logits):
        return _cuda.categorical_crossentropy(y, z, bool(from_logits))

    def sparse_categorical_crossentropy(self, labels, z, from_logits, ignore_class=None):
        """Labels outside [0, classes) are a ValueError (the check reads a flag back, so
        this call waits for the GPU)."""
        return _cuda.sparse_categorical_crossentropy(labels, z, bool(from_logits),
                                                     ignore_class)

    # --- random numbers (Philox4x32-10: the CPU's numbers) ----------------------------------------
    def random_uniform(self, shape, seed, offset):
        return _cuda.random_fill(tuple(shape), "uniform", seed, offset, 0.0, self.index)

    def random_normal(self, shape, seed, offset):
        return _cuda.random_fill(tuple(shape), "normal", seed, offset, 0.0, self.index)

    def dropout_mask(self, shape, rate, seed, offset):
        return _cuda.random_fill(tuple(shape), "dropout_mask", seed, offset, float(rate),
                                 self.index)

    # --- collectives between processes (pykern.distribution) ------------------------------------
    _transport = None

    def pack_(self, buf, xs, offsets, scale=1.0):
        _cuda.pack_(buf, list(xs), list(offsets), float(scale))

    def unpack_(self, buf, xs, offsets, divisor=1.0):
        _cuda.unpack_(buf, list(xs), list(offsets), float(divisor))

    def _no_nccl(self, what):
        raise RuntimeError(f"{what}: collectives on CUDA tensors need NCCL, which pykern._cuda "
                           f"does not support yet; run distributed training on the CPU "
                           f"(PYKERN_DEVICE=cpu)")

    def allreduce_sum_(self, x, what="allreduce"):
        self._no_nccl(what)

    def broadcast_(self, x, root=0, what="broadcast"):
        self._no_nccl(what)
