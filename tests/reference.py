"""NumPy oracles for the kernel and op tests: plain, obviously correct code.

Each fast kernel is compared against a function here (and, where one exists,
against the native scalar twin in csrc/ref/).
"""
import numpy as np


def act_ref(x, activation):
    """The GEMM epilogue activations, in float64."""
    if activation in ("none", "linear"):
        return x
    if activation == "relu":
        return np.maximum(x, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if activation == "tanh":
        return np.tanh(x)
    raise ValueError(activation)


def _op(x, trans):
    x = np.asarray(x, dtype=np.float64)
    return x.T if trans else x


def gemm_ref(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, bias=None,
             activation="none"):
    """act(alpha * op(a) @ op(b) + beta * c + bias), in float64.

    beta == 0 ignores c entirely (it may hold NaN), as BLAS does.
    """
    out = alpha * (_op(a, trans_a) @ _op(b, trans_b))
    if beta != 0.0:
        out = out + beta * np.asarray(c, dtype=np.float64)
    if bias is not None:
        out = out + np.asarray(bias, dtype=np.float64)
    return act_ref(out, activation)


def gemm_error_bound(a, b, c=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
                     bias=None, activation="none"):
    """Per-element absolute error a float32 GEMM may make, from the magnitudes involved.

    Summing k float32 products errs by about sqrt(k) * eps * (|op(a)| @ |op(b)|)
    (k * eps is the worst case, never reached with blocked sums); we allow 4x
    that, plus 4 ulp of the result for the epilogue (scaling, bias, and the
    activation, whose kernels are accurate to ~2 ulp and are contractions).
    """
    eps = float(np.finfo(np.float32).eps)
    pa, pb = np.abs(_op(a, trans_a)), np.abs(_op(b, trans_b))
    k = pa.shape[1]
    mag = abs(alpha) * (pa @ pb)
    if beta != 0.0:
        mag = mag + abs(beta) * np.abs(np.asarray(c, dtype=np.float64))
    if bias is not None:
        mag = mag + np.abs(np.asarray(bias, dtype=np.float64))
    return 4.0 * np.sqrt(max(k, 1)) * eps * mag + 4.0 * eps * mag + 1e-30


def numeric_gradients(f, inputs, eps=3e-3):
    """Central-difference gradients of the scalar f(*inputs) for each input array.

    f takes float32 arrays and returns a float; the differences are taken in
    float64 around float32 evaluations, so they carry float32 round-off of about
    1e-7 * |f| / eps: compare with a tolerance near 1e-3, not 1e-5.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    grads = []
    for x in inputs:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):  # one probe per element: the oracle, not library code
            old = flat[i]
            flat[i] = old + eps
            up = float(f(*[v.astype(np.float32) for v in inputs]))
            flat[i] = old - eps
            down = float(f(*[v.astype(np.float32) for v in inputs]))
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def gemm_operands(m, n, k, trans_a, trans_b, seed=0):
    """Standard-normal float32 a, b stored for op(a) (m, k) and op(b) (k, n)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b


def assert_gemm_matches(got, a, b, c=None, **kw):
    """`got` lies within gemm_error_bound of the float64 oracle, element by element."""
    want = gemm_ref(a, b, c, **kw)
    bound = gemm_error_bound(a, b, c, **kw)
    err = np.abs(got.astype(np.float64) - want)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"max excess at {worst}: got {got[worst]}, want {want[worst]}, bound {bound[worst]}")
    return bound


# --- optimizer steps (tests/test_optim_kernel.py) ------------------------------------------------
def clip_grads_ref(grads, clipnorm=0.0, global_clipnorm=0.0, clipvalue=0.0):
    """Keras' gradient clipping, in float64: per-tensor norm, else global norm, else value."""
    grads = [np.asarray(g, np.float64) for g in grads]
    if clipnorm > 0:
        return [g * clipnorm / max(np.sqrt((g * g).sum()), clipnorm) for g in grads]
    if global_clipnorm > 0:
        norm = np.sqrt(sum((g * g).sum() for g in grads))
        return [g * global_clipnorm / max(norm, global_clipnorm) for g in grads]
    if clipvalue > 0:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


def optim_step_ref(kind, w, g, slots, lr, t, hyper, decay=0.0):
    """One Keras 3 update of one tensor in float64: returns (new w, new slots).

    t is the 1-based step; hyper holds momentum, nesterov, rho, centered, beta1,
    beta2, epsilon, amsgrad and (nadam) u_prev, the momentum-cache product before
    this step. Weight decay w -= w * decay * lr comes first, as in Keras.
    """
    w = np.asarray(w, np.float64) * (1.0 - decay * lr)
    g = np.asarray(g, np.float64)
    s = [np.asarray(x, np.float64).copy() for x in slots]
    h = hyper
    eps = h.get("epsilon", 1e-7)
    if kind == "sgd":
        mu = h.get("momentum", 0.0)
        if mu == 0:
            return w - lr * g, s
        s[0] = mu * s[0] - lr * g
        return (w + mu * s[0] - lr * g if h.get("nesterov") else w + s[0]), s
    if kind == "rmsprop":
        rho, mu = h.get("rho", 0.9), h.get("momentum", 0.0)
        s[0] = rho * s[0] + (1 - rho) * g * g
        denom = s[0] + eps
        if h.get("centered"):
            k = 2 if mu > 0 else 1
            s[k] = rho * s[k] + (1 - rho) * g
            denom = s[0] - s[k] ** 2 + eps
        inc = lr * g / np.sqrt(denom)
        if mu > 0:
            s[1] = mu * s[1] + inc
            return w - s[1], s
        return w - inc, s
    b1, b2 = h.get("beta1", 0.9), h.get("beta2", 0.999)
    if kind == "adam":
        s[0] = s[0] + (g - s[0]) * (1 - b1)
        s[1] = s[1] + (g * g - s[1]) * (1 - b2)
        v = s[1]
        if h.get("amsgrad"):
            s[2] = np.maximum(s[2], s[1])
            v = s[2]
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * s[0] / (np.sqrt(v) + eps), s
    if kind == "adagrad":
        s[0] = s[0] + g * g
        return w - lr * g / np.sqrt(s[0] + eps), s
    if kind == "adadelta":
        rho = h.get("rho", 0.95)
        s[0] = rho * s[0] + (1 - rho) * g * g
        delta = -np.sqrt(s[1] + eps) * g / np.sqrt(s[0] + eps)
        s[1] = rho * s[1] + (1 - rho) * delta * delta
        return w + lr * delta, s
    if kind == "adamax":
        s[0] = s[0] + (g - s[0]) * (1 - b1)
        s[1] = np.maximum(b2 * s[1], np.abs(g))
        return w - lr * s[0] / ((1 - b1 ** t) * (s[1] + eps)), s
    if kind == "nadam":
        u_t = b1 * (1 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        prod = h["u_prev"] * u_t
        s[0] = s[0] + (g - s[0]) * (1 - b1)
        s[1] = s[1] + (g * g - s[1]) * (1 - b2)
        m_hat = u_t1 * s[0] / (1 - prod * u_t1) + (1 - u_t) * g / (1 - prod)
        v_hat = s[1] / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), s
    raise ValueError(kind)


# ---- Philox4x32-10 (pykern/philox.h) -----------------------------------------

PHILOX_M = (0xD2511F53, 0xCD9E8D57)  # round multipliers
PHILOX_W = (0x9E3779B9, 0xBB67AE85)  # key increments (Weyl sequence)
_U32 = np.uint64(0xFFFFFFFF)


def philox4x32_10_ref(counter, key):
    """The Philox4x32-10 block function on uint64 arrays: counter (..., 4) and key (k0, k1)
    of 32-bit words -> uint32 (..., 4). Products of two 32-bit words fit in uint64."""
    c = [np.asarray(counter, dtype=np.uint64)[..., j] for j in range(4)]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    m0, m1 = np.uint64(PHILOX_M[0]), np.uint64(PHILOX_M[1])
    for r in range(10):
        if r:
            k0, k1 = (k0 + np.uint64(PHILOX_W[0])) & _U32, (k1 + np.uint64(PHILOX_W[1])) & _U32
        p0, p1 = m0 * c[0], m1 * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k0, p1 & _U32, (p0 >> np.uint64(32)) ^ c[3] ^ k1,
             p0 & _U32]
    return np.stack(c, axis=-1).astype(np.uint32)


def philox_blocks_ref(n, seed, offset):
    """The ceil(n/4) blocks of a draw: uint32 (ceil(n/4), 4); block j has counter
    {lo32, hi32, 0, 0} of (offset + j) mod 2**64 and key {lo32, hi32} of seed."""
    with np.errstate(over="ignore"):
        c = np.uint64(offset) + np.arange((n + 3) // 4, dtype=np.uint64)  # wraps mod 2**64
    counter = np.stack([c & _U32, c >> np.uint64(32), 0 * c, 0 * c], axis=-1)
    return philox4x32_10_ref(counter, (seed & 0xFFFFFFFF, seed >> 32))


def _uniform_of(bits):
    return ((bits >> 8).astype(np.float64) * 2.0 ** -24).astype(np.float32)  # exact


def random_uniform_ref(n, seed, offset):
    """float32 (n,): element i = lane i%4 of block offset + i//4, as (bits >> 8) * 2**-24."""
    return _uniform_of(philox_blocks_ref(n, seed, offset).reshape(-1)[:n])


def random_normal_ref(n, seed, offset):
    """float32 (n,): Box-Muller in float64 on lane pairs (0,1) and (2,3) of each block:
    u1 = 1 - uniform(lane 2j), u2 = uniform(lane 2j+1), r = sqrt(-2 ln u1),
    z[2j] = r cos(2 pi u2), z[2j+1] = r sin(2 pi u2), each rounded once to float32."""
    u = _uniform_of(philox_blocks_ref(n, seed, offset)).astype(np.float64)
    u1, u2 = 1.0 - u[:, 0::2], u[:, 1::2]
    r, theta = np.sqrt(-2.0 * np.log(u1)), 2.0 * np.pi * u2
    z = np.empty_like(u)
    z[:, 0::2], z[:, 1::2] = r * np.cos(theta), r * np.sin(theta)
    return z.astype(np.float32).reshape(-1)[:n]


def dropout_mask_ref(n, rate, seed, offset):
    """float32 (n,): 1/(1-rate) (float32 arithmetic) where uniform_i >= rate, else 0."""
    rate = np.float32(rate)
    scale = np.float32(1) / (np.float32(1) - rate)
    return np.where(random_uniform_ref(n, seed, offset) >= rate, scale, np.float32(0))
# --- convolution (tests/test_conv_kernels.py) ----------------------------------------------------
# Shapes as Keras: x (N, *spatial, C), w (*kernel, C/groups, K), y (N, *out, K); pads per axis.
def conv_out_size(size, k, stride, dilation, pad_begin, pad_end):
    return (size + pad_begin + pad_end - dilation * (k - 1) - 1) // stride + 1


def same_padding(size, k, stride, dilation):
    """Keras/TF 'same': out = ceil(size / stride), the odd pad unit at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _conv_windows(kernel, out, strides, dilations):
    """(tap index, the slices of the padded input that tap reads for every output)."""
    import itertools
    for tap in itertools.product(*(range(k) for k in kernel)):
        yield tap, (slice(None),) + tuple(
            slice(t * d, t * d + (o - 1) * s + 1, s)
            for t, o, s, d in zip(tap, out, strides, dilations)) + (slice(None),)


def _conv_geometry(spatial, kernel, strides, dilations, pad_begin, pad_end):
    out = tuple(conv_out_size(*a) for a in zip(spatial, kernel, strides, dilations, pad_begin,
                                                pad_end))
    padded = tuple(n + b + e for n, b, e in zip(spatial, pad_begin, pad_end))
    return out, padded


def conv_nd_ref(x, w, bias=None, strides=None, dilations=None, pad_begin=None, pad_end=None,
                groups=1, activation="none"):
    """act(conv(x, w) + bias) in float64: zero-pad x, then one einsum per kernel tap."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    sp = x.ndim - 2
    ones, zeros = (1,) * sp, (0,) * sp
    strides, dilations = strides or ones, dilations or ones
    pad_begin, pad_end = pad_begin or zeros, pad_end or zeros
    n, c, kernel, (cg, k) = x.shape[0], x.shape[-1], w.shape[:sp], w.shape[sp:]
    out, _ = _conv_geometry(x.shape[1:-1], kernel, strides, dilations, pad_begin, pad_end)
    xp = np.pad(x, [(0, 0)] + list(zip(pad_begin, pad_end)) + [(0, 0)])
    y = np.zeros((n, *out, groups, k // groups))
    for tap, win in _conv_windows(kernel, out, strides, dilations):
        xs = xp[win].reshape(n, *out, groups, cg)
        y += np.einsum("...gc,cgk->...gk", xs, w[tap].reshape(cg, groups, k // groups))
    y = y.reshape(n, *out, k)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return act_ref(y, activation)


def conv_nd_backward_data_ref(dy, w, x_shape, strides, dilations, pad_begin, pad_end, groups=1):
    """dx (x_shape) of sum(conv(x, w) * dy), in float64: each tap's einsum scattered back."""
    dy, w = np.asarray(dy, np.float64), np.asarray(w, np.float64)
    sp = dy.ndim - 2
    n, c, kernel, (cg, k) = x_shape[0], x_shape[-1], w.shape[:sp], w.shape[sp:]
    out, padded = _conv_geometry(x_shape[1:-1], kernel, strides, dilations, pad_begin, pad_end)
    dxp = np.zeros((n, *padded, c))
    dyg = dy.reshape(n, *out, groups, k // groups)
    for tap, win in _conv_windows(kernel, out, strides, dilations):
        wt = w[tap].reshape(cg, groups, k // groups)
        dxp[win] += np.einsum("...gk,cgk->...gc", dyg, wt).reshape(n, *out, c)
    crop = (slice(None),) + tuple(slice(b, b + s) for b, s in zip(pad_begin, x_shape[1:-1]))
    return dxp[crop]


def conv_nd_backward_filter_ref(x, dy, w_shape, strides, dilations, pad_begin, pad_end,
                                groups=1):
    """dw (w_shape) of sum(conv(x, w) * dy), in float64."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    sp = x.ndim - 2
    n, kernel, (cg, k) = x.shape[0], w_shape[:sp], w_shape[sp:]
    out, _ = _conv_geometry(x.shape[1:-1], kernel, strides, dilations, pad_begin, pad_end)
    xp = np.pad(x, [(0, 0)] + list(zip(pad_begin, pad_end)) + [(0, 0)])
    dyg = dy.reshape(n, *out, groups, k // groups)
    dw = np.zeros(w_shape)
    for tap, win in _conv_windows(kernel, out, strides, dilations):
        xs = xp[win].reshape(-1, groups, cg)
        dw[tap] = np.einsum("pgc,pgk->cgk", xs, dyg.reshape(-1, groups, k // groups)).reshape(cg, k)
    return dw


def depthwise_nd_ref(x, w, bias=None, strides=None, dilations=None, pad_begin=None,
                     pad_end=None, activation="none"):
    """Keras' depthwise convolution in float64: w (*kernel, C, M), output channel c*M + m."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    sp = x.ndim - 2
    n, (c, m), kernel = x.shape[0], w.shape[sp:], w.shape[:sp]
    out, _ = _conv_geometry(x.shape[1:-1], kernel, strides, dilations, pad_begin, pad_end)
    xp = np.pad(x, [(0, 0)] + list(zip(pad_begin, pad_end)) + [(0, 0)])
    y = np.zeros((n, *out, c, m))
    for tap, win in _conv_windows(kernel, out, strides, dilations):
        y += np.einsum("...c,cm->...cm", xp[win], w[tap])
    y = y.reshape(n, *out, c * m)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return act_ref(y, activation)


def assert_within_sum_bound(got, want, magnitude, terms, what=""):
    """|got - want| <= the error of a float32 sum of `terms` products whose absolute values
    add up to `magnitude` (same reasoning as gemm_error_bound)."""
    eps = float(np.finfo(np.float32).eps)
    bound = 4.0 * np.sqrt(max(terms, 1)) * eps * magnitude + 4.0 * eps * magnitude + 1e-30
    err = np.abs(np.asarray(got, np.float64) - want)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    if err.size:
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert np.all(err <= bound), (
            f"{what}: max excess at {worst}: got {got[worst]}, want {want[worst]}, "
            f"bound {bound[worst]}")
# --- pooling (tests/test_pool_norm_kernels.py) ---------------------------------------------------
def same_pads(size, pool, stride):
    """Keras/TF 'same' padding of one spatial dim: (begin, end), the extra cell at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + pool - size, 0)
    return total // 2, total - total // 2


def _pool_windows(a, pool, strides):
    """Windows of a (N, padded spatial..., C) as (N, out..., C, pool...): an as_strided view."""
    s = len(pool)
    win = np.lib.stride_tricks.sliding_window_view(a, tuple(pool), axis=tuple(range(1, s + 1)))
    return win[(slice(None),) + tuple(slice(None, None, st) for st in strides)]


def _padded(x, pad_begin, pad_end, fill):
    widths = [(0, 0)] + list(zip(pad_begin, pad_end)) + [(0, 0)]
    return np.pad(np.asarray(x, np.float64), widths, constant_values=fill)


def _real_counts(x_shape, pool, strides, pad_begin, pad_end):
    """Real (unpadded) cells per window, shaped (1, out..., 1)."""
    ones = _padded(np.ones((1, *x_shape[1:-1], 1)), pad_begin, pad_end, 0.0)
    s = len(pool)
    return _pool_windows(ones, pool, strides).sum(axis=tuple(range(-s, 0)))


def max_pool_ref(x, pool, strides, pad_begin, pad_end):
    """(y, argmax) in float64 / int64: padding never wins, the first maximum (or NaN) does,
    argmax is the flat index ((d*H + h)*W + w)*C + c within the sample."""
    x = np.asarray(x, np.float64)
    s = len(pool)
    win = _pool_windows(_padded(x, pad_begin, pad_end, -np.inf), pool, strides)
    flat = win.reshape(*win.shape[:-s], -1)
    k = np.argmax(flat, axis=-1)  # first maximum; NumPy's argmax also picks the first NaN
    y = np.take_along_axis(flat, k[..., None], axis=-1)[..., 0]
    # window offset -> input coordinate per spatial dim -> flat index in the sample
    offs = np.unravel_index(k, pool)
    out_shape = y.shape[1:-1]
    index = np.zeros(y.shape, np.int64)
    for d in range(s):
        o = np.arange(out_shape[d]).reshape([1] + [-1 if e == d else 1 for e in range(s)] + [1])
        coord = o * strides[d] - pad_begin[d] + offs[d]
        index = index * x.shape[1 + d] + coord
    index = index * x.shape[-1] + np.arange(x.shape[-1])
    return y, index


def max_pool_backward_ref(dy, argmax, x_shape):
    """Scatter-add of dy along argmax, in float64."""
    n = x_shape[0]
    dx = np.zeros((n, int(np.prod(x_shape[1:]))))
    rows = np.repeat(np.arange(n), dy.size // max(n, 1))
    np.add.at(dx, (rows, np.asarray(argmax).reshape(-1)), np.asarray(dy, np.float64).reshape(-1))
    return dx.reshape(x_shape)


def avg_pool_ref(x, pool, strides, pad_begin, pad_end):
    """Average over the real cells of each window, in float64."""
    s = len(pool)
    win = _pool_windows(_padded(x, pad_begin, pad_end, 0.0), pool, strides)
    total = win.sum(axis=tuple(range(-s, 0)))
    return total / _real_counts(np.shape(x), pool, strides, pad_begin, pad_end)


def avg_pool_backward_ref(dy, x_shape, pool, strides, pad_begin, pad_end):
    """The adjoint of avg_pool_ref: each window spreads dy / count over its cells (float64)."""
    s = len(pool)
    g = np.asarray(dy, np.float64) / _real_counts(x_shape, pool, strides, pad_begin, pad_end)
    padded = [x_shape[0]] + [x_shape[1 + d] + pad_begin[d] + pad_end[d] for d in range(s)]
    dxp = np.zeros(padded + [x_shape[-1]])
    for off in np.ndindex(*pool):  # one strided slice per window offset
        sl = tuple(slice(off[d], off[d] + strides[d] * (g.shape[1 + d] - 1) + 1, strides[d])
                   for d in range(s))
        dxp[(slice(None),) + sl] += g
    crop = tuple(slice(pad_begin[d], pad_begin[d] + x_shape[1 + d]) for d in range(s))
    return dxp[(slice(None),) + crop]


# --- normalization -------------------------------------------------------------------------------
def batch_norm_ref(x, gamma, beta, epsilon):
    """Batch norm of x (P, A, C, B) with (P, C) statistics over A and B, in float64:
    (y, mean, biased var, inv_std)."""
    x = np.asarray(x, np.float64)
    mean, var = x.mean(axis=(1, 3)), x.var(axis=(1, 3))
    inv_std = 1.0 / np.sqrt(var + epsilon)
    g = np.ones(x.shape[2]) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(x.shape[2]) if beta is None else np.asarray(beta, np.float64)
    y = (x - mean[:, None, :, None]) * (inv_std[:, None, :, None] * g[:, None]) + b[:, None]
    return y, mean, var, inv_std


def batch_norm_backward_ref(dy, x, gamma, epsilon):
    """(dx, dgamma, dbeta) of batch_norm_ref's y in training mode, by the textbook formula."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    n = x.shape[1] * x.shape[3]
    _, mean, _, inv_std = batch_norm_ref(x, None, None, epsilon)
    xhat = (x - mean[:, None, :, None]) * inv_std[:, None, :, None]
    g = np.ones(x.shape[2]) if gamma is None else np.asarray(gamma, np.float64)
    dxhat = dy * g[:, None]
    dvar = (dxhat * (x - mean[:, None, :, None])).sum(axis=(1, 3)) * -0.5 * inv_std ** 3
    dmean = -(dxhat * inv_std[:, None, :, None]).sum(axis=(1, 3))
    dx = (dxhat * inv_std[:, None, :, None] + dvar[:, None, :, None] * 2 *
          (x - mean[:, None, :, None]) / n + dmean[:, None, :, None] / n)
    return dx, (dy * xhat).sum(axis=(0, 1, 3)), dy.sum(axis=(0, 1, 3))


def layer_norm_ref(x, gamma, beta, epsilon):
    """Keras 3 LayerNormalization of rows x (M, F), float64: (y, mean, inv_std)."""
    y, mean, _, inv_std = batch_norm_ref(np.asarray(x)[:, None, None, :], None, None, epsilon)
    y = y[:, 0, 0, :]
    if gamma is not None:
        y = y * np.asarray(gamma, np.float64)
    if beta is not None:
        y = y + np.asarray(beta, np.float64)
    return y, mean[:, 0], inv_std[:, 0]


def layer_norm_backward_ref(dy, x, gamma, epsilon):
    """(dx, dgamma, dbeta) of layer_norm_ref: each row is a batch norm over its features with
    gamma applied after."""
    dy = np.asarray(dy, np.float64)
    g = np.ones(x.shape[1]) if gamma is None else np.asarray(gamma, np.float64)
    x4 = np.asarray(x)[:, None, None, :]
    dx, _, _ = batch_norm_backward_ref((dy * g)[:, None, None, :], x4, None, epsilon)
    _, mean, inv_std = layer_norm_ref(x, None, None, epsilon)
    xhat = (np.asarray(x, np.float64) - mean[:, None]) * inv_std[:, None]
    return dx[:, 0, 0, :], (dy * xhat).sum(axis=0), dy.sum(axis=0)
# --- recurrent cells and embeddings (tests/test_rnn_kernels.py) ----------------------------------
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


SELU_SCALE, SELU_ALPHA = 1.0507009873554804934, 1.6732632423543772848

# name -> (f(x), f'(x) given x and y = f(x)), in float64, with TF's gradient conventions.
ACTIVATIONS = {
    "linear": (lambda x: x, lambda x, y: np.ones_like(x)),
    "relu": (lambda x: np.maximum(x, 0.0), lambda x, y: (x > 0).astype(x.dtype)),
    "sigmoid": (_sigmoid, lambda x, y: y * (1 - y)),
    "tanh": (np.tanh, lambda x, y: 1 - y * y),
    "hard_sigmoid": (lambda x: np.clip(x + 3, 0, 6) / 6,
                     lambda x, y: ((x > -3) & (x < 3)) / 6.0),
    "elu": (lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
            lambda x, y: np.where(x > 0, 1.0, y + 1)),
    "selu": (lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
             lambda x, y: np.where(x > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA)),
    "softsign": (lambda x: x / (1 + np.abs(x)), lambda x, y: 1 / (1 + np.abs(x)) ** 2),
    "softplus": (lambda x: np.logaddexp(0.0, x), lambda x, y: _sigmoid(x)),
    "silu": (lambda x: x * _sigmoid(x),
             lambda x, y: _sigmoid(x) * (1 + x * (1 - _sigmoid(x)))),
    "exponential": (np.exp, lambda x, y: y),
}
RNN_GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


class _Cell:
    """One recurrent cell in float64, vectorised over the batch: step() returns the new
    states and a cache; step_backward() turns gradients w.r.t. the new states into
    gradients w.r.t. the previous states, the step's input and the weights."""

    def __init__(self, kind, kernel, recurrent, bias, act, rec_act, reset_after):
        self.kind, self.reset_after = kind, reset_after
        self.W = np.asarray(kernel, np.float64)
        self.R = np.asarray(recurrent, np.float64)
        self.U = self.R.shape[0]
        gu = self.R.shape[1]
        b = np.zeros((2, gu) if kind == "gru" and reset_after else gu)
        self.b = b if bias is None else np.asarray(bias, np.float64)
        self.has_bias = bias is not None
        self.act, self.dact = ACTIVATIONS[act]
        self.ra, self.dra = ACTIVATIONS[rec_act]

    def zero_grads(self):
        return dict(W=np.zeros_like(self.W), R=np.zeros_like(self.R), b=np.zeros_like(self.b))

    def step(self, x, h, c):
        U, W, R, b = self.U, self.W, self.R, self.b
        if self.kind == "simple_rnn":
            z = x @ W + h @ R + b
            hn = self.act(z)
            return hn, c, (x, h, z, hn)
        if self.kind == "lstm":
            z = x @ W + h @ R + b
            i, f = self.ra(z[:, :U]), self.ra(z[:, U:2 * U])
            g, o = self.act(z[:, 2 * U:3 * U]), self.ra(z[:, 3 * U:])
            cn = f * c + i * g
            return o * self.act(cn), cn, (x, h, c, z, i, f, g, o, cn)
        b_in = b[0] if self.reset_after else b
        xw = x @ W + b_in
        if self.reset_after:
            hr = h @ R + b[1]
            pz, pr = xw[:, :U] + hr[:, :U], xw[:, U:2 * U] + hr[:, U:2 * U]
            z, r = self.ra(pz), self.ra(pr)
            ph = xw[:, 2 * U:] + r * hr[:, 2 * U:]
            aux = hr[:, 2 * U:]
        else:
            hr = h @ R[:, :2 * U]
            pz, pr = xw[:, :U] + hr[:, :U], xw[:, U:2 * U] + hr[:, U:]
            z, r = self.ra(pz), self.ra(pr)
            aux = r * h
            ph = xw[:, 2 * U:] + aux @ R[:, 2 * U:]
        hh = self.act(ph)
        return z * h + (1 - z) * hh, c, (x, h, pz, pr, ph, z, r, hh, aux)

    def step_backward(self, cache, dh, dc, grads):
        """Returns (dx, dh_prev, dc_prev) and adds the weight gradients into grads."""
        U, W, R = self.U, self.W, self.R
        if self.kind == "simple_rnn":
            x, h, z, hn = cache
            dz = dh * self.dact(z, hn)
            dxw = dhr = dz
            dh_prev, dc_prev = 0.0, dc
        elif self.kind == "lstm":
            x, h, c, z, i, f, g, o, cn = cache
            ac = self.act(cn)
            dcs = dc + dh * o * self.dact(cn, ac)
            dz = np.concatenate([dcs * g * self.dra(z[:, :U], i),
                                 dcs * c * self.dra(z[:, U:2 * U], f),
                                 dcs * i * self.dact(z[:, 2 * U:3 * U], g),
                                 dh * ac * self.dra(z[:, 3 * U:], o)], axis=1)
            dxw = dhr = dz
            dh_prev, dc_prev = 0.0, dcs * f
        else:
            x, h, pz, pr, ph, z, r, hh, aux = cache
            dph = dh * (1 - z) * self.dact(ph, hh)
            dh_prev, dc_prev = dh * z, dc
            if self.reset_after:
                dr = dph * aux
                dh_h = dph * r
            else:
                drh = dph @ R[:, 2 * U:].T
                dr = drh * h
                dh_prev = dh_prev + drh * r
                grads["R"][:, 2 * U:] += aux.T @ dph
            dpz = dh * (h - hh) * self.dra(pz, z)
            dpr = dr * self.dra(pr, r)
            dxw = np.concatenate([dpz, dpr, dph], axis=1)
            dhr = np.concatenate([dpz, dpr] + ([dh_h] if self.reset_after else []), axis=1)
        grads["W"] += x.T @ dxw
        cols = dhr.shape[1]
        grads["R"][:, :cols] += h.T @ dhr
        dh_prev = dh_prev + dhr @ R[:, :cols].T
        if self.kind == "gru" and self.reset_after:
            grads["b"][0] += dxw.sum(0)
            grads["b"][1] += dhr.sum(0)
        else:
            grads["b"] += dxw.sum(0)
        return dxw @ W.T, dh_prev, dc_prev


def rnn_sequence_ref(kind, x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, *,
                     reverse=False, activation="tanh", recurrent_activation="sigmoid",
                     reset_after=True, zero_output_for_mask=False, d_outputs=None, d_h=None,
                     d_c=None):
    """A whole sequence with Keras' backend.rnn semantics, in float64.

    x (B,T,I). Steps run t = 0..T-1 (T-1..0 with reverse); outputs[:, s] is the s-th
    processed step's. A masked step keeps the states and repeats the previous output
    (zeros before the first unmasked step, or always with zero_output_for_mask).
    Returns dict(outputs, h, [c]) and, when any of d_outputs/d_h/d_c is given, the
    gradients dx, dkernel, drecurrent, dbias (None without bias), dh0, [dc0] (LSTM: c, dc0).
    """
    x = np.asarray(x, np.float64)
    B, T, _ = x.shape
    cell = _Cell(kind, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                 reset_after)
    U = cell.U
    h = np.zeros((B, U)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((B, U)) if c0 is None else np.asarray(c0, np.float64)
    m_all = np.ones((B, T), bool) if mask is None else np.asarray(mask).astype(bool)
    outputs, prev, tape = np.zeros((B, T, U)), np.zeros((B, U)), []
    for s in range(T):
        t = T - 1 - s if reverse else s
        m = m_all[:, t:t + 1]
        hn, cn, cache = cell.step(x[:, t], h, c)
        h, c = np.where(m, hn, h), np.where(m, cn, c)
        prev = np.where(m, hn, 0.0 if zero_output_for_mask else prev)
        outputs[:, s] = prev
        tape.append((t, m, cache))
    result = dict(outputs=outputs, h=h, **({"c": c} if kind == "lstm" else {}))
    if d_outputs is None and d_h is None and d_c is None:
        return result
    dy = np.zeros((B, T, U)) if d_outputs is None else np.asarray(d_outputs, np.float64)
    dh = np.zeros((B, U)) if d_h is None else np.asarray(d_h, np.float64)
    dc = np.zeros((B, U)) if d_c is None else np.asarray(d_c, np.float64)
    grads, dx, dprev = cell.zero_grads(), np.zeros_like(x), np.zeros((B, U))
    for s in range(T - 1, -1, -1):
        t, m, cache = tape[s]
        g_out = dy[:, s] + dprev
        dprev = 0.0 if zero_output_for_mask else np.where(m, 0.0, g_out)
        dx_t, dh_step, dc_step = cell.step_backward(
            cache, np.where(m, dh + g_out, 0.0), np.where(m, dc, 0.0), grads)
        dx[:, t] = dx_t
        dh = dh_step + np.where(m, 0.0, dh)
        dc = dc_step + np.where(m, 0.0, dc) if kind == "lstm" else dc
    result.update(dx=dx, dkernel=grads["W"], drecurrent=grads["R"],
                  dbias=grads["b"] if cell.has_bias else None, dh0=dh)
    if kind == "lstm":
        result["dc0"] = dc
    return result


def embedding_ref(table, ids):
    """table[ids] in float64."""
    return np.asarray(table, np.float64)[np.asarray(ids)]


def embedding_grad_ref(d_out, ids, input_dim):
    """Rows of d_out summed per id, in float64."""
    d = np.asarray(d_out, np.float64).reshape(-1, d_out.shape[-1])
    out = np.zeros((input_dim, d.shape[1]))
    np.add.at(out, np.asarray(ids).reshape(-1), d)
    return out
