"""The meta device: storage is a shape and a dtype, and no data.

Its kernel table has the CPU table's names and computes output shapes and
dtypes only. Dimensions may be None (unknown, as the batch of a symbolic
input); the rules follow NumPy's, with None where a size depends on an
unknown one. Model building runs on it, so it costs no compute, and reading
a meta value raises: anything that bypasses the kernel table fails here.
"""
import builtins
import operator

import numpy as np

__all__ = ["MetaArray", "MetaKernels"]

_F32 = np.dtype(np.float32)
_BOOL = np.dtype(bool)
_COMPARE = {"equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
            "logical_and", "logical_or"}


class MetaArray:
    """A shape (ints or None) and a NumPy dtype: the storage of a meta tensor."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype=_F32):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        if any(d is None for d in self.shape):
            return None
        return int(np.prod(self.shape, dtype=np.int64))

    def __repr__(self):
        return f"MetaArray(shape={self.shape}, dtype={self.dtype.name})"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a meta tensor of shape {self.shape} has no values: it only carries a "
                        f"shape (model building runs on the meta device); compute on a real "
                        f"device to read values")


def _shape(x):
    return x.shape if isinstance(x, MetaArray) else np.shape(x)


def _dtype(x):
    if isinstance(x, MetaArray):
        return x.dtype
    return np.asarray(x).dtype if not hasattr(x, "dtype") else np.dtype(x.dtype)


def broadcast_shapes(op, *shapes):
    """NumPy broadcasting with None: None against 1 or None is None, against n is n."""
    ndim = builtins.max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        dims = [s[len(s) - ndim + i] for s in shapes if len(s) - ndim + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot "
                             f"be broadcast together")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _scalar_or_dtype(x):
    """None for a Python scalar (it takes the other operand's dtype), else the dtype."""
    return None if isinstance(x, (bool, int, float)) else _dtype(x)


def _float(dt):
    return dt if dt.kind == "f" else _F32


class MetaKernels:
    """The meta device's kernel table: shapes and dtypes only."""

    name = "meta"
    device = None  # set by Device

    # --- transfers and creation ------------------------------------------------------------
    def from_host(self, a, dtype=None):
        if isinstance(a, MetaArray):
            return a if dtype is None else MetaArray(a.shape, dtype)
        if dtype is not None:
            return MetaArray(np.shape(a), dtype)
        dt = np.asarray(a).dtype if not hasattr(a, "dtype") else np.dtype(a.dtype)
        return MetaArray(np.shape(a), _F32 if dt.kind == "f" else dt)

    def to_host(self, x):
        raise TypeError(f"a meta tensor of shape {x.shape} has no values: it only carries a "
                        f"shape; compute on a real device to read values")

    def full(self, shape, value, dtype="float32"):
        return MetaArray(shape, dtype)

    def copy(self, x):
        return MetaArray(x.shape, x.dtype)

    def assign(self, dst, src):
        return None

    def owned(self, x):
        return x

    def cast(self, x, dtype):
        return MetaArray(x.shape, dtype)

    # --- element-wise -------------------------------------------------------------------------
    def unary(self, op, x, p=None):
        if op == "logical_not":
            return MetaArray(x.shape, _BOOL)
        return MetaArray(x.shape, x.dtype if op in ("negative", "abs", "sign") else
                         _float(x.dtype))

    def unary_grad(self, op, g, x, y, p=None):
        return MetaArray(g.shape, g.dtype)

    def bias_act_grad(self, act, g, y, bias):
        return MetaArray(g.shape, g.dtype), (MetaArray(g.shape[-1:], g.dtype) if bias else None)

    def binary(self, op, a, b):
        shape = broadcast_shapes(op, _shape(a), _shape(b))
        if op in _COMPARE:
            return MetaArray(shape, _BOOL)
        da, db = _scalar_or_dtype(a), _scalar_or_dtype(b)
        return MetaArray(shape, db if da is None else da if db is None else np.result_type(da, db))

    def where(self, cond, a, b):
        shape = broadcast_shapes("where", _shape(cond), _shape(a), _shape(b))
        return MetaArray(shape, np.result_type(_dtype(a), _dtype(b)))

    def clip(self, x, lo, hi):
        return MetaArray(x.shape, x.dtype)

    def clip_mask(self, x, lo, hi):
        return MetaArray(x.shape, x.dtype)

    # --- reductions ---------------------------------------------------------------------------
    def reduce(self, op, x, axes, keepdims=False, precise=False):
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape)) if keepdims else \
            tuple(d for i, d in enumerate(x.shape) if i not in axes)
        if op in ("any", "all"):
            return MetaArray(shape, _BOOL)
        if precise and op in ("sum", "mean"):
            return MetaArray(shape, np.float64)
        return MetaArray(shape, _F32 if op == "mean" else x.dtype)

    def arg_reduce(self, op, x, axis, keepdims=False):
        if axis is None:
            return MetaArray((1,) * x.ndim if keepdims else (), np.int32)
        axis %= x.ndim
        return self.reduce("max", MetaArray(x.shape, np.int32), (axis,), keepdims)

    def extreme_share(self, x, y, axes):
        return MetaArray(x.shape, _F32)

    # --- linear algebra -----------------------------------------------------------------------
    def gemm(self, a, b, bias=None, act="none", trans_a=False, trans_b=False):
        m = a.shape[1] if trans_a else a.shape[0]
        n = b.shape[0] if trans_b else b.shape[1]
        return MetaArray((m, n), _F32)

    def matmul(self, a, b):
        sa, sb = a.shape, b.shape
        if len(sa) == 1 and len(sb) == 1:
            return MetaArray((), _F32)
        if len(sa) == 1:
            return MetaArray(sb[:-2] + sb[-1:], _F32)
        if len(sb) == 1:
            return MetaArray(sa[:-1], _F32)
        batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
        return MetaArray(batch + (sa[-2], sb[-1]), _F32)

    def activation(self, x, act):
        return MetaArray(x.shape, _F32)

    # --- layout -------------------------------------------------------------------------------
    def reshape(self, x, shape):
        shape = tuple(shape)
        if -1 in shape:
            known = [d for d in shape if d != -1]
            total = x.size
            if total is None or any(d is None for d in known):
                shape = tuple(None if d == -1 else d for d in shape)
            else:
                rest = int(np.prod(known, dtype=np.int64))
                if rest == 0 or total % rest:
                    raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                                     f"({total} values) into {shape}")
                shape = tuple(total // rest if d == -1 else d for d in shape)
        elif x.size is not None and None not in shape and \
                int(np.prod(shape, dtype=np.int64)) != x.size:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} values) into {shape}")
        return MetaArray(shape, x.dtype)

    def transpose(self, x, axes):
        return MetaArray(tuple(x.shape[a] for a in axes), x.dtype)

    def broadcast_to(self, x, shape):
        broadcast_shapes("broadcast_to", _shape(x), tuple(shape))
        return MetaArray(shape, x.dtype)

    def concat(self, xs, axis):
        first = xs[0].shape
        ax = axis % len(first)
        for x in xs[1:]:
            if len(x.shape) != len(first) or any(
                    i != ax and a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(first, x.shape))):
                raise ValueError(f"concatenate: shapes {[x.shape for x in xs]} differ outside "
                                 f"axis {axis}")
        sizes = [x.shape[ax] for x in xs]
        total = None if any(s is None for s in sizes) else builtins.sum(sizes)
        shape = tuple(total if i == ax else next(
            (x.shape[i] for x in xs if x.shape[i] is not None), None)
            for i in range(len(first)))
        return MetaArray(shape, np.result_type(*[x.dtype for x in xs]))

    def stack(self, xs, axis):
        shape = xs[0].shape
        ax = axis % (len(shape) + 1)
        return MetaArray(shape[:ax] + (len(xs),) + shape[ax:], xs[0].dtype)

    def getitem(self, x, index):
        return MetaArray(_index_shape(x.shape, index), x.dtype)

    def scatter_add(self, shape, index, g, basic):
        return MetaArray(shape, g.dtype)

    def pad(self, x, pads, value=0.0):
        return MetaArray(tuple(None if d is None else d + a + b
                               for d, (a, b) in zip(x.shape, pads)), x.dtype)

    def take(self, x, indices, axis):
        ax = axis % x.ndim
        return MetaArray(x.shape[:ax] + _shape(indices) + x.shape[ax + 1:], x.dtype)

    def one_hot(self, indices, depth, dtype="float32"):
        return MetaArray(_shape(indices) + (depth,), dtype)

    def kth_largest(self, x, k):
        return MetaArray(x.shape[:-1] + (1,), x.dtype)

    def top_k_hit(self, p, idx, k):
        return MetaArray(p.shape[:-1], _F32)

    def lookup(self, x, keys, values, default):
        return MetaArray(x.shape, values.dtype)

    # --- images --------------------------------------------------------------------------------
    def affine_transform(self, x, transforms, interpolation, fill_mode, fill_value):
        return MetaArray(x.shape, _F32)

    def affine_transform_backward(self, dy, transforms, interpolation, fill_mode, x_shape):
        return MetaArray(x_shape, _F32)

    # --- neural-network kernels ---------------------------------------------------------------
    def softmax(self, x, axis):
        return MetaArray(x.shape, _F32)

    log_softmax = softmax

    def reduce_loss(self, v, w, reduction):
        return MetaArray((), _F32), MetaArray((), _F32)

    def accumulate(self, state, total, count, scale=1.0):
        return MetaArray((2,), np.float64)

    def binary_crossentropy(self, y, z, from_logits):
        return MetaArray(z.shape, _F32), MetaArray(z.shape, _F32)

    def categorical_crossentropy(self, y, z, from_logits):
        return MetaArray(z.shape[:-1], _F32), MetaArray(z.shape, _F32)

    def sparse_categorical_crossentropy(self, labels, z, from_logits, ignore_class=None):
        return MetaArray(z.shape[:-1], _F32), MetaArray(z.shape, _F32)

    # --- convolution ----------------------------------------------------------------------------
    def conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, groups, act):
        out = conv_output_shape(x.shape[1:-1], w.shape[:-2], strides, dilations, pad_begin,
                                pad_end)
        return MetaArray((x.shape[0],) + out + (w.shape[-1],), _F32)

    def conv_backward_data(self, dy, w, x_shape, *args):
        return MetaArray(x_shape, _F32)

    def conv_backward_filter(self, x, dy, w_shape, *args):
        return MetaArray(w_shape, _F32)

    def depthwise_conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, act):
        out = conv_output_shape(x.shape[1:-1], w.shape[:-2], strides, dilations, pad_begin,
                                pad_end)
        channels = None if None in w.shape[-2:] else w.shape[-2] * w.shape[-1]
        return MetaArray((x.shape[0],) + out + (channels,), _F32)

    depthwise_conv_backward_data = conv_backward_data
    depthwise_conv_backward_filter = conv_backward_filter

    # --- pooling ------------------------------------------------------------------------------
    def avg_pool(self, x, pool, strides, pad_begin, pad_end):
        out = conv_output_shape(x.shape[1:-1], pool, strides, (1,) * len(pool), pad_begin,
                                pad_end)
        return MetaArray((x.shape[0],) + out + (x.shape[-1],), _F32)

    def max_pool(self, x, pool, strides, pad_begin, pad_end):
        y = self.avg_pool(x, pool, strides, pad_begin, pad_end)
        return y, MetaArray(y.shape, np.int32)

    def max_pool_backward(self, dy, argmax, x_shape):
        return MetaArray(x_shape, _F32)

    def avg_pool_backward(self, dy, x_shape, *args):
        return MetaArray(x_shape, _F32)

    # --- normalization -------------------------------------------------------------------------
    def batch_norm_train(self, x, gamma, beta, epsilon):
        stats = MetaArray((x.shape[0], x.shape[2]) if x.ndim == 4 else (x.shape[1],), _F32)
        return MetaArray(x.shape, _F32), stats, stats, stats

    def batch_norm_inference(self, x, mean, var, gamma, beta, epsilon):
        return MetaArray(x.shape, _F32)

    def batch_norm_backward(self, dy, x, mean, inv_std, gamma):
        c = MetaArray((x.shape[-2],) if x.ndim == 4 else (x.shape[1],), _F32)
        return MetaArray(x.shape, _F32), c, c

    def layer_norm(self, x, gamma, beta, epsilon):
        rows = MetaArray((x.shape[0],), _F32)
        return MetaArray(x.shape, _F32), rows, rows

    def layer_norm_backward(self, dy, x, mean, inv_std, gamma):
        f = MetaArray((x.shape[1],), _F32)
        return MetaArray(x.shape, _F32), f, f

    # --- recurrent ------------------------------------------------------------------------------
    def rnn(self, cell, x, kernel, recurrent, bias, h0, c0, mask, reverse, activation,
            recurrent_activation, reset_after, zero_output_for_mask, save_workspace):
        b, t = x.shape[0], x.shape[1]
        u = recurrent.shape[0]
        state = MetaArray((b, u), _F32)
        ws = None
        if save_workspace:  # (B,T) rows of the pre-activations, Hprev and Cprev/Aux
            width = None if u is None else u * ({"lstm": 4, "gru": 3}.get(cell, 1) +
                                                (2 if cell != "simple_rnn" else 1))
            ws = MetaArray((_prod((b, t, width)),), _F32)
        return (MetaArray((b, t, u), _F32), state,
                MetaArray((b, u), _F32) if cell == "lstm" else None, ws)

    def rnn_backward(self, cell, dy, dh, dc, x, kernel, recurrent, bias, h0, c0, mask,
                     workspace, reverse, activation, recurrent_activation, reset_after,
                     zero_output_for_mask):
        state = MetaArray((x.shape[0], recurrent.shape[0]), _F32)
        return (MetaArray(x.shape, _F32), MetaArray(kernel.shape, _F32),
                MetaArray(recurrent.shape, _F32),
                None if bias is None else MetaArray(bias.shape, _F32), state,
                MetaArray(state.shape, _F32) if cell == "lstm" else None)

    # --- embedding ------------------------------------------------------------------------------
    def embedding(self, table, ids):
        return MetaArray(_shape(ids) + (table.shape[1],), _F32)

    def embedding_backward(self, d_out, ids, input_dim):
        return MetaArray((input_dim, d_out.shape[-1]), _F32)

    # --- random numbers -----------------------------------------------------------------------
    def random_uniform(self, shape, seed, offset):
        return MetaArray(shape, _F32)

    random_normal = random_uniform

    def dropout_mask(self, shape, rate, seed, offset):
        return MetaArray(shape, _F32)

    # --- optimizer --------------------------------------------------------------------------
    def optimizer_plan(self, kind, params, slots, decays, **hyper):
        raise TypeError("the meta device holds no values: an optimizer cannot update meta "
                        "variables")

    # --- collectives between processes -------------------------------------------------------
    def _no_values(self, what):
        raise TypeError(f"the meta device holds no values: {what} cannot move meta tensors "
                        f"between processes")

    def pack_(self, buf, xs, offsets, scale=1.0):
        self._no_values("pack_")

    def unpack_(self, buf, xs, offsets, divisor=1.0):
        self._no_values("unpack_")

    def allreduce_sum_(self, x, what="allreduce"):
        self._no_values(what)

    def broadcast_(self, x, root=0, what="broadcast"):
        self._no_values(what)


def _prod(dims):
    """The product of dims, None if any is unknown."""
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims, dtype=np.int64))


def conv_output_shape(spatial, kernel, strides, dilations, pad_begin, pad_end):
    """(in + pad_begin + pad_end - dilation*(k-1) - 1) // stride + 1 per axis (None stays)."""
    return tuple(None if n is None else (n + pb + pe - d * (k - 1) - 1) // s + 1
                 for n, k, s, d, pb, pe in zip(spatial, kernel, strides, dilations, pad_begin,
                                               pad_end))


def _index_shape(shape, index):
    """The shape of x[index] for basic indices (ints, slices, None, Ellipsis) and
    integer/boolean arrays (NumPy's rules for one advanced index or several
    adjacent ones)."""
    items = list(index) if isinstance(index, tuple) else [index]
    n_used = builtins.sum(1 for i in items if i is not None and i is not Ellipsis and not (
        _is_array(i) and _dtype(i).kind == "b")) + builtins.sum(
        len(_shape(i)) for i in items if _is_array(i) and _dtype(i).kind == "b")
    if Ellipsis in [i if not _is_array(i) else None for i in items]:
        k = [i if not _is_array(i) else None for i in items].index(Ellipsis)
        items[k:k + 1] = [slice(None)] * (len(shape) - n_used)
    else:
        items += [slice(None)] * (len(shape) - n_used)
    out, dim, adv, adv_at = [], 0, [], None
    for i in items:
        if i is None:
            out.append(1)
            continue
        if _is_array(i):
            s = _shape(i)
            if _dtype(i).kind == "b":
                dim += len(s)
                s = (None,)
            else:
                dim += 1
            adv.append(s)
            if adv_at is None:
                adv_at = len(out)
            continue
        d = shape[dim]
        dim += 1
        if isinstance(i, slice):
            if d is None:
                out.append(None)
            else:
                out.append(len(range(*i.indices(d))))
        else:
            if d is not None and not -d <= operator.index(i) < d:
                raise IndexError(f"index {i} is out of bounds for axis {dim - 1} with size {d}")
    if adv:
        out[adv_at:adv_at] = list(broadcast_shapes("getitem", *adv))
    return tuple(out)


def _is_array(i):
    return isinstance(i, (np.ndarray, MetaArray, list))
