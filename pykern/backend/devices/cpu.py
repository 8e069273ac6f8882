"""The CPU kernel table: storage is a NumPy array; heavy kernels are pykern._cpu
(SGEMM with fused epilogues, the multi-tensor optimizer step, Philox random
numbers), the rest vectorised NumPy.

This module and its siblings are the only code that computes on storage. Every
method takes and returns storage (ndarrays), never Tensors. Gradient rules of
the element-wise functions live here next to their forward formulas, as one
table: `unary(op, x, p)` and `unary_grad(op, g, x, y, p)` (g * d op / dx,
given the input x and the output y; p is the op's parameter or None).
"""
import math

import numpy as np

from pykern import _cpu

__all__ = ["CpuKernels"]

_F32 = np.float32
_F32_DT = np.dtype(np.float32)
_SELU_ALPHA = _F32(1.6732632423543772848170429916717)
_SELU_SCALE = _F32(1.0507009873554804934193349852946)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


def _c(x):
    """x as a C-contiguous float32 array, the layout the native kernels take (a
    transposed view is copied once here, at the table's boundary)."""
    return np.ascontiguousarray(x, dtype=_F32)


def _sigmoid(v):
    # exp of -|v| never overflows; equal to 1/(1+exp(-v)) on both branches
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e)).astype(v.dtype, copy=False)


def _erf(x):
    """Error function in float64 with the Chebyshev fit of Numerical Recipes §6.2
    (|error| < 1.2e-7; NumPy has no erf and SciPy is not a dependency)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    erfc = t * np.exp(-z * z + poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def _gelu_tanh(v):
    v = v.astype(np.float64)
    return (0.5 * v * (1 + np.tanh(_SQRT_2_OVER_PI * (v + _GELU_C * v ** 3)))).astype(_F32)


def _gelu_tanh_grad(v):
    v = v.astype(np.float64)
    t = np.tanh(_SQRT_2_OVER_PI * (v + _GELU_C * v ** 3))
    d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _GELU_C * v * v)
    return d.astype(_F32)


def _gelu_erf(v):
    v = v.astype(np.float64)
    return (0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))).astype(_F32)


def _gelu_erf_grad(v):
    v = v.astype(np.float64)
    d = 0.5 * (1.0 + _erf(v / math.sqrt(2.0))) + v * np.exp(-0.5 * v * v) / math.sqrt(
        2.0 * math.pi)
    return d.astype(_F32)


def _relu_general(v, p):
    """Keras' relu(x, negative_slope, max_value, threshold) composition, whose kinks
    set the gradients (TF rules); p = (slope, max_value or None, threshold)."""
    slope, max_value, thr = _F32(p[0]), p[1], _F32(p[2])
    kept = np.where(v > thr, v, _F32(0))
    if max_value is not None:
        kept = np.clip(kept, _F32(0), _F32(max_value))
    return (kept - slope * np.maximum(thr - v, _F32(0))).astype(_F32)


def _relu_general_grad(v, p):
    # clip passes the gradient at both bounds; relu6 (threshold 0, max 6) does not
    slope, max_value, thr = _F32(p[0]), p[1], _F32(p[2])
    d = v > thr
    if max_value is not None:
        kept = np.where(d, v, _F32(0))
        six = max_value == 6 and p[2] == 0.0
        d = d & ((kept > 0) & (kept < max_value) if six else
                 (kept >= 0) & (kept <= max_value))
    return d.astype(_F32) + slope * (v < thr)


def _hard_silu_grad(v):
    inside = (v > -3) & (v < 3)
    return np.where(v >= 3, _F32(1), np.where(inside, v / _F32(3) + _F32(0.5), _F32(0)))


# op -> (forward(v, p), derivative(v, y, p)); the backward is g * derivative
_UNARY = {
    "negative": (lambda v, p: -v, None),
    "abs": (lambda v, p: np.abs(v), lambda v, y, p: np.sign(v)),
    "square": (lambda v, p: v * v, lambda v, y, p: 2 * v),
    "sqrt": (lambda v, p: np.sqrt(v), lambda v, y, p: 0.5 / y),
    "reciprocal": (lambda v, p: 1.0 / v, lambda v, y, p: -y * y),
    "exp": (lambda v, p: np.exp(v), lambda v, y, p: y),
    "expm1": (lambda v, p: np.expm1(v), lambda v, y, p: y + 1),
    "log": (lambda v, p: np.log(v), lambda v, y, p: 1 / v),
    "log1p": (lambda v, p: np.log1p(v), lambda v, y, p: 1 / (1 + v)),
    "sign": (lambda v, p: np.sign(v), None),
    "floor": (lambda v, p: np.floor(v), None),
    "round": (lambda v, p: np.round(v, p or 0), None),
    "logical_not": (lambda v, p: np.logical_not(v), None),
    "relu": (lambda v, p: _cpu.activation(v, "relu"), lambda v, y, p: y > 0),
    "relu_general": (_relu_general, lambda v, y, p: _relu_general_grad(v, p)),
    "relu6": (lambda v, p: np.clip(v, _F32(0), _F32(6)), lambda v, y, p: (v > 0) & (v < 6)),
    "leaky_relu": (lambda v, p: np.where(v > 0, v, _F32(p) * v),
                   lambda v, y, p: np.where(v > 0, _F32(1), _F32(p))),
    "elu": (lambda v, p: np.where(v > 0, v, _F32(p) * np.expm1(np.minimum(v, 0))),
            lambda v, y, p: np.where(v > 0, _F32(1), _F32(p) * np.exp(np.minimum(v, 0)))),
    # the derivative at 0 is taken from the right (scale), as TensorFlow's SeluGrad
    "selu": (lambda v, p: _SELU_SCALE * np.where(v > 0, v, _SELU_ALPHA * np.expm1(
        np.minimum(v, 0))), lambda v, y, p: _SELU_SCALE * np.where(
            v >= 0, _F32(1), _SELU_ALPHA * np.exp(np.minimum(v, 0)))),
    "gelu": (lambda v, p: _gelu_tanh(v), lambda v, y, p: _gelu_tanh_grad(v)),
    "gelu_erf": (lambda v, p: _gelu_erf(v), lambda v, y, p: _gelu_erf_grad(v)),
    "erf": (lambda v, p: _erf(v.astype(np.float64)).astype(_F32), None),
    "sigmoid": (lambda v, p: _cpu.activation(v, "sigmoid"), lambda v, y, p: y * (1 - y)),
    "hard_sigmoid": (lambda v, p: np.clip(v / _F32(6) + _F32(0.5), _F32(0), _F32(1)),
                     lambda v, y, p: ((v > -3) & (v < 3)) / _F32(6)),
    "hard_silu": (lambda v, p: v * np.clip(v / _F32(6) + _F32(0.5), _F32(0), _F32(1)),
                  lambda v, y, p: _hard_silu_grad(v)),
    "tanh": (lambda v, p: _cpu.activation(v, "tanh"), lambda v, y, p: 1 - y * y),
    "softplus": (lambda v, p: np.logaddexp(_F32(0), v), lambda v, y, p: _sigmoid(v)),
    "softsign": (lambda v, p: v / (1 + np.abs(v)), lambda v, y, p: 1 / np.square(1 + np.abs(v))),
    "silu": (lambda v, p: v * _sigmoid(v),
             lambda v, y, p: _sigmoid(v) * (1 + v * (1 - _sigmoid(v)))),
    "exponential": (lambda v, p: np.exp(v), lambda v, y, p: y),
    "sin": (lambda v, p: np.sin(v), lambda v, y, p: np.cos(v)),
    "cos": (lambda v, p: np.cos(v), lambda v, y, p: -np.sin(v)),
    "tan": (lambda v, p: np.tan(v), lambda v, y, p: 1 + y * y),
}
_NEGATE_GRAD = {"negative"}

_BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "power": np.power, "maximum": np.maximum, "minimum": np.minimum, "equal": np.equal,
    "not_equal": np.not_equal, "greater": np.greater, "greater_equal": np.greater_equal,
    "less": np.less, "less_equal": np.less_equal, "logical_and": np.logical_and,
    "logical_or": np.logical_or,
}

# ufunc reductions skip np.sum's Python-level dispatch (~1.5 us a call on small arrays)
_REDUCE = {"sum": np.add.reduce, "max": np.maximum.reduce, "min": np.minimum.reduce,
           "prod": np.multiply.reduce, "any": np.logical_or.reduce,
           "all": np.logical_and.reduce}

_FUSED_ACT = {"none", "relu", "sigmoid", "tanh"}
EPSILON = 1e-7


def _round_half_away(v):
    """std::round (halves away from zero), which TensorFlow's nearest sampling uses."""
    return np.sign(v) * np.floor(np.abs(v) + _F32(0.5))


def _map_coordinate(c, size, fill_mode):
    """TensorFlow's MapCoordinate: an input coordinate outside [0, size - 1] brought
    inside by `fill_mode` (reflect: dcba|abcd|dcba, wrap: abcd|abcd|abcd, nearest:
    clamp; constant leaves it, and reads outside give the fill value)."""
    if fill_mode == "constant":
        return c
    top = _F32(size - 1)
    if size <= 1:
        return np.zeros_like(c)
    if fill_mode == "reflect":
        sz2 = _F32(2 * size)
        low = c + sz2 * np.trunc(-c / sz2)
        low = np.where(low < -size, low + sz2, -low - 1)
        high = c - sz2 * np.trunc(c / sz2)
        high = np.where(high >= size, sz2 - high - 1, high)
        c = np.where(c < 0, low, np.where(c > top, high, c))
    elif fill_mode == "wrap":
        low = c + _F32(size) * (np.trunc(-c / top) + 1)
        high = c - _F32(size) * np.trunc(c / top)
        c = np.where(c < 0, low, np.where(c > top, high, c))
    return np.clip(c, _F32(0), top).astype(_F32)


def _affine_taps(shape, transforms, interpolation, fill_mode):
    """The taps of affine_transform: [(flat row index into x (N*H*W, C), in-image
    mask)] per tap (1 for nearest; 4 for bilinear: (y0,x0), (y0,x1), (y1,x0), (y1,x1)),
    the bilinear weights ((wx0, wx1), (wy0, wy1)) as (N, H, W, 1), and the mask of
    output pixels whose projection is 0 (they get the fill value)."""
    n, h, w = shape[:3]
    t = np.broadcast_to(np.asarray(transforms, _F32).reshape(-1, 8), (n, 8))
    t = [t[:, i, None, None] for i in range(8)]
    rows = np.arange(h, dtype=_F32)[None, :, None]
    cols = np.arange(w, dtype=_F32)[None, None, :]
    k = t[6] * cols + t[7] * rows + _F32(1)
    infinite = np.broadcast_to(k == 0, (n, h, w))
    k = np.where(k == 0, _F32(1), k)
    x = _map_coordinate((t[0] * cols + t[1] * rows + t[2]) / k, w, fill_mode)
    y = _map_coordinate((t[3] * cols + t[4] * rows + t[5]) / k, h, fill_mode)
    base = np.arange(n, dtype=np.int64)[:, None, None] * (h * w)

    def tap(r, c):
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        idx = base + np.where(ok, r * w + c, 0).astype(np.int64)
        return idx, ok
    if interpolation == "nearest":
        return [tap(_round_half_away(y), _round_half_away(x))], None, infinite
    y0, x0 = np.floor(y), np.floor(x)
    y1, x1 = y0 + 1, x0 + 1
    weights = ((x1 - x)[..., None], (x - x0)[..., None]), ((y1 - y)[..., None],
                                                            (y - y0)[..., None])
    return [tap(y0, x0), tap(y0, x1), tap(y1, x0), tap(y1, x1)], weights, infinite


class CpuKernels:
    """The CPU device's kernel table (see the module docstring)."""

    name = "cpu"
    device = None  # set by Device

    # --- transfers and creation ------------------------------------------------------------
    def from_host(self, a, dtype=None):
        """A host value as storage: floats become float32 unless `dtype` says otherwise."""
        if dtype is not None:
            return np.asarray(a, dtype=np.dtype(dtype))
        v = np.asarray(a)
        if v.dtype.kind == "f" and v.dtype != _F32_DT:
            v = v.astype(_F32)
        return v

    def to_host(self, x):
        """The value as an ndarray (shared: callers must not modify it). NumPy returns
        scalars for 0-d results; they become 0-d arrays here."""
        return x if type(x) is np.ndarray else np.asarray(x)

    def full(self, shape, value, dtype="float32"):
        return np.full(tuple(shape), value, dtype=np.dtype(dtype))

    def copy(self, x):
        return np.array(x, copy=True, order="C")

    def assign(self, dst, src):
        """Copies src into dst's buffer (in place, so kernels keep seeing the same buffer)."""
        np.copyto(dst, src, casting="unsafe")

    def owned(self, x):
        """x as a writable, C-contiguous float32 array (a copy unless x already is one;
        a reshaped fresh result is handed out as it is)."""
        if type(x) is np.ndarray and x.dtype is _F32_DT:
            f = x.flags
            if f.writeable and f.c_contiguous:
                return x
        return np.array(x, dtype=_F32, order="C")

    def cast(self, x, dtype):
        return x.astype(np.dtype(dtype))

    # --- element-wise -------------------------------------------------------------------------
    def unary(self, op, x, p=None):
        return _UNARY[op][0](x, p)

    def unary_grad(self, op, g, x, y, p=None):
        if op == "negative":
            return -g
        return g * _UNARY[op][1](x, y, p)

    def bias_act_grad(self, act, g, y, bias):
        """(dz, db) for y = act(z + bias) (act none, relu, sigmoid or tanh): dz = g * act'(y)
        (g itself for none) and db, the sum of dz over all but the last axis (None
        unless bias). One threaded pass; the sum is the same for any thread count."""
        if act == "none" and not bias:
            return g, None
        return _cpu.bias_act_grad(_c(g), None if act == "none" else _c(y), act, bias)

    def binary(self, op, a, b):
        """a op b with NumPy broadcasting; float32 operands stay float32."""
        try:
            return _BINARY[op](a, b)
        except ValueError:
            raise ValueError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} cannot be broadcast "
                             f"together") from None

    def where(self, cond, a, b):
        return np.where(cond, a, b)

    def clip(self, x, lo, hi):
        return np.clip(x, lo, hi)

    def clip_mask(self, x, lo, hi):
        """1 where lo <= x <= hi (the gradient of clip), else 0, as x's dtype."""
        return ((x >= lo) & (x <= hi)).astype(x.dtype)

    # --- reductions ---------------------------------------------------------------------------
    def reduce(self, op, x, axes, keepdims=False, precise=False):
        """op over `axes` (a tuple); precise sums accumulate and return float64."""
        if op == "mean":
            return np.mean(x, axis=axes, keepdims=keepdims, dtype=np.float64 if precise else None)
        if precise and op == "sum":
            return np.asarray(np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=np.float64))
        return _REDUCE[op](x, axis=axes, keepdims=keepdims)

    def arg_reduce(self, op, x, axis, keepdims=False):
        fn = np.argmax if op == "argmax" else np.argmin
        return fn(x, axis=axis, keepdims=keepdims).astype(np.int32)

    def extreme_share(self, x, y, axes):
        """The gradient split of max/min: 1/count at the cells equal to the (kept-dims)
        result y, 0 elsewhere (TF splits ties evenly)."""
        hit = x == y
        return (hit / hit.sum(axis=axes, keepdims=True).astype(_F32)).astype(_F32)

    # --- linear algebra -----------------------------------------------------------------------
    def gemm(self, a, b, bias=None, act="none", trans_a=False, trans_b=False):
        """act(op(a) @ op(b) + bias) for 2-D float32 a, b: one native SGEMM."""
        # positionally: pybind11's keyword matching costs ~0.6 us a call
        return _cpu.sgemm(a, b, None, trans_a, trans_b, 1.0, 0.0, bias, act)

    def matmul(self, a, b):
        """NumPy matmul semantics (batch dims broadcast) on the native kernel."""
        if a.ndim <= 3 and b.ndim <= 3:
            return _cpu.matmul(a, b)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
        b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
        return _cpu.matmul(a3, b3).reshape(batch + (a.shape[-2], b.shape[-1]))

    def activation(self, x, act):
        """A GEMM-epilogue activation ('sigmoid', ...) applied to a new array."""
        return _cpu.activation(x, act)

    # --- layout -------------------------------------------------------------------------------
    def reshape(self, x, shape):
        return x.reshape(shape)

    def transpose(self, x, axes):
        return np.transpose(x, axes)

    def broadcast_to(self, x, shape):
        return np.broadcast_to(x, shape)

    def concat(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def stack(self, xs, axis):
        return np.stack(xs, axis=axis)

    def getitem(self, x, index):
        return np.asarray(x[index])

    def scatter_add(self, shape, index, g, basic):
        """zeros(shape) with g added at x[index] (the gradient of getitem)."""
        out = np.zeros(shape, dtype=g.dtype)
        if basic:
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    def pad(self, x, pads, value=0.0):
        return np.pad(x, pads, constant_values=value)

    def take(self, x, indices, axis):
        return np.take(x, indices, axis=axis)

    def one_hot(self, indices, depth, dtype="float32"):
        out = np.zeros(indices.shape + (depth,), dtype=np.dtype(dtype))
        np.put_along_axis(out, indices[..., None].astype(np.int64), 1, axis=-1)
        return out

    def kth_largest(self, x, k):
        """The k-th largest value along the last axis, keeping that axis (size 1)."""
        return -np.sort(-x, axis=-1)[..., k - 1:k]

    def top_k_hit(self, p, idx, k):
        """1 where the class idx (B,) is among the k largest of p (B, C); ties favour the
        target, as TF's in_top_k."""
        target = np.take_along_axis(p, idx[:, None].astype(np.int64), axis=-1)
        return ((p > target).sum(axis=-1) < k).astype(_F32)

    def lookup(self, x, keys, values, default):
        """values[i] where x == keys[i] (keys sorted ascending), `default` elsewhere."""
        pos = np.clip(np.searchsorted(keys, x), 0, max(len(keys) - 1, 0))
        if not len(keys):
            return np.full(x.shape, default, dtype=values.dtype)
        return np.where(keys[pos] == x, values[pos], np.asarray(default, values.dtype))

    # --- images: x (N, H, W, C), transforms (N or 1, 8) ----------------------------------------
    def affine_transform(self, x, transforms, interpolation, fill_mode, fill_value):
        """TensorFlow's ImageProjectiveTransformV3 (what keras.ops.image.affine_transform
        runs): output pixel (row r, col c) reads the input at ((a0 c + a1 r + a2) / k,
        (b0 c + b1 r + b2) / k), k = c0 c + c1 r + 1, after `fill_mode` maps the
        coordinate into the image; taps outside it read fill_value."""
        n, h, w, ch = x.shape
        flat = x.reshape(n * h * w, ch)
        fill = _F32(fill_value)
        taps, weights, infinite = _affine_taps(x.shape, transforms, interpolation, fill_mode)
        reads = [np.where(ok[..., None], flat[idx], fill) for idx, ok in taps]
        if interpolation == "nearest":
            y = reads[0]
        else:  # TensorFlow's order: along x in each of the two rows, then along y
            (wx0, wx1), (wy0, wy1) = weights
            y = wy0 * (wx0 * reads[0] + wx1 * reads[1]) + wy1 * (wx0 * reads[2] + wx1 * reads[3])
        return np.where(infinite[..., None], fill, y).astype(_F32)

    def affine_transform_backward(self, dy, transforms, interpolation, fill_mode, x_shape):
        """dx of affine_transform: each output gradient scattered to its in-image taps."""
        n, h, w, ch = x_shape
        taps, weights, infinite = _affine_taps(x_shape, transforms, interpolation, fill_mode)
        if interpolation == "nearest":
            factors = [np.ones(infinite.shape, _F32)]
        else:
            (wx0, wx1), (wy0, wy1) = weights
            factors = [(wy0 * wx0)[..., 0], (wy0 * wx1)[..., 0], (wy1 * wx0)[..., 0],
                       (wy1 * wx1)[..., 0]]
        dx = np.zeros((n * h * w, ch), _F32)
        g = np.where(infinite[..., None], _F32(0), dy)
        for (idx, ok), f in zip(taps, factors):
            np.add.at(dx, idx[ok], (g * f[..., None])[ok])
        return dx.reshape(x_shape)

    # --- neural-network kernels ---------------------------------------------------------------
    def softmax(self, x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    def log_softmax(self, x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def reduce_loss(self, v, w, reduction):
        """(loss, scale) of per-sample losses v (weights w or None): the sum of v*w in
        float64 divided by the count ('sum_over_batch_size'), 1 ('sum') or the sum of
        the weights ('mean_with_sample_weight'; all-zero weights give 0, not NaN);
        scale = d loss / d (v*w). Both are float32 0-d arrays."""
        total = np.add.reduce(v if w is None else v * w, axis=None, dtype=np.float64)
        if reduction == "sum":
            div = 1.0
        elif reduction == "mean_with_sample_weight" and w is not None:
            div = float(np.add.reduce(w, axis=None, dtype=np.float64))
            if div == 0.0:
                div, total = 1.0, 0.0 * total
        else:
            div = float(max(v.size, 1))
        return np.asarray(total / div, dtype=_F32), np.asarray(1.0 / div, dtype=_F32)

    def accumulate(self, state, total, count, scale=1.0):
        """state + (total * scale, count): a float64 (2,) running (total, count) of a mean
        metric (state None starts from zero); total and count are 0-d arrays or numbers."""
        out = np.zeros(2) if state is None else state.copy()
        out[0] += float(total) * scale
        out[1] += float(count)
        return out

    def binary_crossentropy(self, y, z, from_logits):
        """Per-element terms along the last axis and their gradient d/dz (not yet divided
        by the axis length): logits in the stable form max(z,0) - z*y + log1p(exp(-|z|)),
        probabilities clipped to [eps, 1-eps] with eps added inside the logs (TF-Keras)."""
        if from_logits:
            elem = np.maximum(z, 0)
            elem -= z * y
            elem += np.log1p(np.exp(-np.abs(z)))
            grad = _cpu.activation(z, "sigmoid")
            grad -= y
            return elem, grad
        eps = _F32(EPSILON)
        pc = np.clip(z, eps, _F32(1) - eps)
        a, b = pc + eps, _F32(1) - pc + eps
        elem = -(y * np.log(a) + (1 - y) * np.log(b))
        inside = (z >= eps) & (z <= _F32(1) - eps)
        grad = np.where(inside, -(y / a) + (1 - y) / b, _F32(0)).astype(_F32)
        return elem, grad

    def categorical_crossentropy(self, y, z, from_logits):
        """-sum(y log p) over the last axis and its gradient d/dz: logits through a stable
        log-softmax; probabilities renormalised to sum 1 and clipped to [eps, 1-eps]."""
        if from_logits:
            m = z.max(axis=-1, keepdims=True)
            lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
            values = -(y * (z - lse)).sum(axis=-1)
            grad = np.exp(z - lse) * y.sum(axis=-1, keepdims=True) - y
            return values.astype(_F32), grad.astype(_F32)
        eps = _F32(EPSILON)
        s = z.sum(axis=-1, keepdims=True)
        q = z / s
        qc = np.clip(q, eps, _F32(1) - eps)
        values = -(y * np.log(qc)).sum(axis=-1)
        dq = np.where((q >= eps) & (q <= _F32(1) - eps), -y / qc, _F32(0))
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / s
        return values.astype(_F32), grad.astype(_F32)

    def sparse_categorical_crossentropy(self, labels, z, from_logits, ignore_class=None):
        """-log softmax(z)[label] for logits; for probabilities TF-Keras feeds log(clip(p))
        to the softmax crossentropy: log(sum pc) - log(pc[label]). Labels equal to
        ignore_class give 0 and no gradient; the others must be integers in [0, classes)."""
        idx = labels.astype(np.int64)
        valid = None
        if ignore_class is not None:
            valid = idx != ignore_class
            idx = np.where(valid, idx, 0)
        classes = z.shape[-1]
        bad = (idx < 0) | (idx >= classes)
        if labels.dtype.kind == "f":
            bad |= idx != np.where(valid, labels, 0) if valid is not None else idx != labels
        if bad.any():
            raise ValueError(f"sparse_categorical_crossentropy: labels must be integers in "
                             f"[0, {classes}), got values such as "
                             f"{labels[bad].ravel()[:5].tolist()}")
        onehot = np.zeros(z.shape, _F32)
        np.put_along_axis(onehot, idx[..., None], _F32(1), axis=-1)
        if from_logits:
            m = z.max(axis=-1, keepdims=True)
            lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
            values = lse[..., 0] - np.take_along_axis(z, idx[..., None], axis=-1)[..., 0]
            grad = np.exp(z - lse) - onehot
        else:
            eps = _F32(EPSILON)
            pc = np.clip(z, eps, _F32(1) - eps)
            s = pc.sum(axis=-1, keepdims=True)
            values = np.log(s[..., 0]) - np.log(
                np.take_along_axis(pc, idx[..., None], -1)[..., 0])
            grad = np.where((z >= eps) & (z <= _F32(1) - eps), 1 / s - onehot / pc, _F32(0))
        if valid is not None:
            values = np.where(valid, values, _F32(0))
            grad = grad * valid[..., None]
        return values.astype(_F32), grad.astype(_F32)

    # --- convolution: x (N, *spatial, C), w (*kernel, C/groups, K), y (N, *out, K) ------------------
    def conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, groups, act):
        """act(conv(x, w) + bias), cross-correlation, zero padding pad_begin/pad_end."""
        return _cpu.conv_forward(_c(x), _c(w), bias, strides, dilations, pad_begin, pad_end, groups, act)

    def conv_backward_data(self, dy, w, x_shape, strides, dilations, pad_begin, pad_end, groups):
        """dx of conv (also the forward pass of a transposed convolution)."""
        return _cpu.conv_backward_data(_c(dy), _c(w), tuple(x_shape), strides, dilations, pad_begin,
                                       pad_end, groups)

    def conv_backward_filter(self, x, dy, w_shape, strides, dilations, pad_begin, pad_end,
                             groups):
        return _cpu.conv_backward_filter(_c(x), _c(dy), tuple(w_shape), strides, dilations, pad_begin,
                                         pad_end, groups)

    def depthwise_conv(self, x, w, bias, strides, dilations, pad_begin, pad_end, act):
        """w (*kernel, C, M): output channel c*M + m is x's channel c times w[..., c, m]."""
        return _cpu.depthwise_forward(_c(x), _c(w), bias, strides, dilations, pad_begin, pad_end, act)

    def depthwise_conv_backward_data(self, dy, w, x_shape, strides, dilations, pad_begin,
                                     pad_end):
        return _cpu.depthwise_backward_data(_c(dy), _c(w), tuple(x_shape), strides, dilations,
                                            pad_begin, pad_end)

    def depthwise_conv_backward_filter(self, x, dy, w_shape, strides, dilations, pad_begin,
                                       pad_end):
        return _cpu.depthwise_backward_filter(_c(x), _c(dy), tuple(w_shape), strides, dilations,
                                              pad_begin, pad_end)

    # --- pooling: x (N, *spatial, C) ------------------------------------------------------------
    def max_pool(self, x, pool, strides, pad_begin, pad_end):
        """(y, argmax): argmax is each winner's flat index in its sample (for the backward);
        padded cells never win."""
        return _cpu.max_pool_forward(_c(x), pool, strides, pad_begin, pad_end)

    def max_pool_backward(self, dy, argmax, x_shape):
        return _cpu.max_pool_backward(_c(dy), argmax, tuple(x_shape))

    def avg_pool(self, x, pool, strides, pad_begin, pad_end):
        """The mean over each window's real (unpadded) cells."""
        return _cpu.avg_pool_forward(_c(x), pool, strides, pad_begin, pad_end)

    def avg_pool_backward(self, dy, x_shape, pool, strides, pad_begin, pad_end):
        return _cpu.avg_pool_backward(_c(dy), tuple(x_shape), pool, strides, pad_begin, pad_end)

    # --- normalization -------------------------------------------------------------------------
    def batch_norm_train(self, x, gamma, beta, epsilon):
        """x (P, A, C, B) normalised with (P, C) statistics over A and B: (y, mean, var,
        inv_std), var biased, two-pass in double."""
        return _cpu.batch_norm_train(_c(x), gamma, beta, float(epsilon))

    def batch_norm_inference(self, x, mean, var, gamma, beta, epsilon):
        return _cpu.batch_norm_inference(_c(x), mean, var, gamma, beta, float(epsilon))

    def batch_norm_backward(self, dy, x, mean, inv_std, gamma):
        """(dx, dgamma, dbeta) of batch_norm_train, through the statistics."""
        return _cpu.batch_norm_backward(_c(dy), _c(x), mean, inv_std, gamma)

    def layer_norm(self, x, gamma, beta, epsilon):
        """Each row of x (M, F) normalised over F: (y, mean, inv_std)."""
        return _cpu.layer_norm_forward(_c(x), gamma, beta, float(epsilon))

    def layer_norm_backward(self, dy, x, mean, inv_std, gamma):
        return _cpu.layer_norm_backward(_c(dy), _c(x), mean, inv_std, gamma)

    # --- recurrent: x (B,T,I), kernel (I,G*U), recurrent (U,G*U), states (B,U), mask (B,T) --------
    def rnn(self, cell, x, kernel, recurrent, bias, h0, c0, mask, reverse, activation,
            recurrent_activation, reset_after, zero_output_for_mask, save_workspace):
        """A whole sequence of cell 'lstm' | 'gru' | 'simple_rnn' (csrc/include/pykern/rnn.h):
        (y (B,T,U) in processing order, hT, cT (LSTM, else None), the workspace
        rnn_backward reads or None)."""
        x, kernel, recurrent = _c(x), _c(kernel), _c(recurrent)
        bias = None if bias is None else _c(bias)
        h0 = None if h0 is None else _c(h0)
        if cell == "lstm":
            return _cpu.lstm_forward(x, kernel, recurrent, bias, h0,
                                     None if c0 is None else _c(c0), mask, reverse=reverse,
                                     activation=activation,
                                     recurrent_activation=recurrent_activation,
                                     zero_output_for_mask=zero_output_for_mask,
                                     save_workspace=save_workspace)
        if cell == "gru":
            y, h, ws = _cpu.gru_forward(x, kernel, recurrent, bias, h0, mask,
                                        reset_after=reset_after, reverse=reverse,
                                        activation=activation,
                                        recurrent_activation=recurrent_activation,
                                        zero_output_for_mask=zero_output_for_mask,
                                        save_workspace=save_workspace)
        else:
            y, h, ws = _cpu.simple_rnn_forward(x, kernel, recurrent, bias, h0, mask,
                                               reverse=reverse, activation=activation,
                                               zero_output_for_mask=zero_output_for_mask,
                                               save_workspace=save_workspace)
        return y, h, None, ws

    def rnn_backward(self, cell, dy, dh, dc, x, kernel, recurrent, bias, h0, c0, mask,
                     workspace, reverse, activation, recurrent_activation, reset_after,
                     zero_output_for_mask):
        """Gradients of rnn for output gradients dy (B,T,U), dh, dc (B,U) (None: zeros):
        (dx, dkernel, drecurrent, dbias or None, dh0, dc0 (LSTM, else None)). With the
        forward's workspace the forward is not recomputed."""
        dy = None if dy is None else _c(dy)
        dh = None if dh is None else _c(dh)
        x, kernel, recurrent = _c(x), _c(kernel), _c(recurrent)
        bias = None if bias is None else _c(bias)
        h0 = None if h0 is None else _c(h0)
        if cell == "lstm":
            return _cpu.lstm_backward(dy, dh, None if dc is None else _c(dc), x, kernel,
                                      recurrent, bias, h0, None if c0 is None else _c(c0),
                                      mask, workspace, reverse=reverse, activation=activation,
                                      recurrent_activation=recurrent_activation,
                                      zero_output_for_mask=zero_output_for_mask)
        if cell == "gru":
            grads = _cpu.gru_backward(dy, dh, x, kernel, recurrent, bias, h0, mask, workspace,
                                      reset_after=reset_after, reverse=reverse,
                                      activation=activation,
                                      recurrent_activation=recurrent_activation,
                                      zero_output_for_mask=zero_output_for_mask)
        else:
            grads = _cpu.simple_rnn_backward(dy, dh, x, kernel, recurrent, bias, h0, mask,
                                             workspace, reverse=reverse, activation=activation,
                                             zero_output_for_mask=zero_output_for_mask)
        return grads + (None,)

    # --- embedding: table (V, D), ids int32/int64 of any shape -----------------------------------
    def embedding(self, table, ids):
        """table[ids]: ids.shape + (D,); an id outside [0, V) is a ValueError naming it."""
        return _cpu.embedding_forward(_c(table), ids)

    def embedding_backward(self, d_out, ids, input_dim):
        """d_table (input_dim, D): d_out's rows summed per id (deterministic order)."""
        return _cpu.embedding_backward(_c(d_out), ids, int(input_dim))

    # --- random numbers (Philox4x32-10, keyed by seed, counter offset) ---------------------------
    def random_uniform(self, shape, seed, offset):
        n = math.prod(shape)
        return _cpu.random_uniform(n, seed, offset).reshape(shape)

    def random_normal(self, shape, seed, offset):
        n = math.prod(shape)
        return _cpu.random_normal(n, seed, offset).reshape(shape)

    def dropout_mask(self, shape, rate, seed, offset):
        """0 or 1/(1-rate) per element: element i keeps when its Philox uniform >= rate."""
        n = math.prod(shape)
        return _cpu.dropout_mask(n, float(rate), seed, offset).reshape(shape)

    # --- optimizer --------------------------------------------------------------------------
    def optimizer_plan(self, kind, params, slots, decays, **hyper):
        """A native multi-tensor update plan over `params` (float32 storages updated in
        place); its step(grads, lr, c1, c2, c3) updates them all in one call."""
        return _cpu.OptimPlan(kind, params, slots, decays, **hyper)

    # --- collectives between processes (pykern.distribution) ------------------------------
    # The transport that moves this device's storage between processes: an
    # MpiHostTransport while a distributed world is initialized, else None.
    _transport = None

    def pack_(self, buf, xs, offsets, scale=1.0):
        """Copies each x, flattened and times `scale`, into buf[offset:offset + x.size]
        (buf: a 1-d contiguous array; the fusion buffer of pykern.distribution)."""
        for x, o in zip(xs, offsets):
            dst = buf[o:o + x.size]
            if scale == 1.0:
                np.copyto(dst, x.reshape(-1), casting="same_kind")
            else:
                np.multiply(x.reshape(-1), scale, out=dst, casting="same_kind")

    def unpack_(self, buf, xs, offsets, divisor=1.0):
        """Writes buf[offset:offset + x.size] / divisor into each x in place (the inverse
        of pack_)."""
        for x, o in zip(xs, offsets):
            src = buf[o:o + x.size].reshape(x.shape)
            if divisor == 1.0:
                np.copyto(x, src, casting="same_kind")
            else:
                np.divide(src, divisor, out=x, casting="same_kind")

    def _collectives(self, what):
        if self._transport is None:
            raise RuntimeError(f"{what}: no distributed world is initialized (call "
                               f"pykern.distribution.initialize() under mpirun)")
        return self._transport

    def allreduce_sum_(self, x, what="allreduce"):
        """Sums the contiguous array x over all processes, in place; every process gets
        the same values. `what` names the operation in timeout and failure messages."""
        self._collectives(what).allreduce_sum_(x, what)
        return x

    def broadcast_(self, x, root=0, what="broadcast"):
        """Overwrites the contiguous array x with process `root`'s values, in place."""
        self._collectives(what).broadcast_(x, root, what)
        return x
