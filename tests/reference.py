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
