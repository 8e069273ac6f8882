"""The fused recurrent kernels (LSTM, GRU, SimpleRNN) and the embedding kernels of
pykern._cpu against their scalar twins (_ref, double precision) and the float64 NumPy
oracle of tests/reference.py, forward and backward through time."""

import numpy as np
import pytest

from pykern import _cpu, config
from reference import (ACTIVATIONS, RNN_GATES, embedding_grad_ref, embedding_ref,
                       rnn_sequence_ref)
from test_gemm import ISAS, not_in_a_capped_run, rerun_capped

CELLS = ["lstm", "gru", "simple_rnn"]
# GRU runs with both reset_after settings wherever a cell is a parameter.
CELL_VARIANTS = [("lstm", None), ("gru", True), ("gru", False), ("simple_rnn", None)]
STATE_NAMES = {"lstm": ["outputs", "h", "c"], "gru": ["outputs", "h"],
               "simple_rnn": ["outputs", "h"]}
GRAD_NAMES = ["dx", "dkernel", "drecurrent", "dbias", "dh0"]


def f32(a):
    return np.ascontiguousarray(a, np.float32)


def make_case(kind, B, T, I, U, *, seed=0, reset_after=True, mask=None, bias=True, scale=1.0):
    """Inputs and upstream gradients with O(1) pre-activations (weights ~ 1/sqrt(fan-in))."""
    rng = np.random.default_rng(seed)
    G = RNN_GATES[kind]
    bias_shape = (2, G * U) if kind == "gru" and reset_after else (G * U,)
    case = dict(x=f32(rng.standard_normal((B, T, I))),
                kernel=f32(scale * rng.standard_normal((I, G * U)) / np.sqrt(max(I, 1))),
                recurrent_kernel=f32(scale * rng.standard_normal((U, G * U)) / np.sqrt(max(U, 1))),
                bias=f32(0.3 * scale * rng.standard_normal(bias_shape)) if bias else None,
                h0=f32(0.5 * rng.standard_normal((B, U))), mask=mask)
    grads = dict(d_outputs=f32(rng.standard_normal((B, T, U))),
                 d_h=f32(rng.standard_normal((B, U))))
    if kind == "lstm":
        case["c0"] = f32(0.5 * rng.standard_normal((B, U)))
        grads["d_c"] = f32(rng.standard_normal((B, U)))
    return case, grads


def cell_options(kind, reset_after=None, **options):
    if kind == "gru" and reset_after is not None:
        options["reset_after"] = reset_after
    if kind == "simple_rnn":
        options.pop("recurrent_activation", None)
    return options


def state_args(kind, case):
    extra = [case["c0"]] if kind == "lstm" else []
    return [case["x"], case["kernel"], case["recurrent_kernel"], case["bias"], case["h0"],
            *extra, case["mask"]]


def run_native(kind, case, grads, suffix="", workspace=True, **options):
    """Forward then backward through pykern._cpu; returns the named results."""
    forward = getattr(_cpu, f"{kind}_forward{suffix}")
    backward = getattr(_cpu, f"{kind}_backward{suffix}")
    args = state_args(kind, case)
    out = forward(*args, **options)
    ws = out[-1] if workspace else None
    upstream = [grads["d_outputs"], grads["d_h"]] + ([grads["d_c"]] if kind == "lstm" else [])
    grad = backward(*upstream, *args, ws, **options)
    names = GRAD_NAMES + (["dc0"] if kind == "lstm" else [])
    result = dict(zip(STATE_NAMES[kind], out[:-1]))
    result.update(zip(names, grad))
    result["workspace"] = out[-1]
    return result


def run_oracle(kind, case, grads, **options):
    return rnn_sequence_ref(kind, **case, **grads, **options)


def assert_close(got, want, rtol, what):
    """|got - want| <= rtol * (|want| + rms(want)) element-wise: relative, with the
    array's RMS as the floor for elements near zero."""
    if want is None:
        assert got is None, what
        return
    assert got.dtype == np.float32 and got.shape == want.shape, (what, got.shape, want.shape)
    want = np.asarray(want, np.float64)
    if want.size == 0:
        return
    err = np.abs(got.astype(np.float64) - want)
    bound = rtol * (np.abs(want) + np.sqrt(np.mean(want ** 2)) + 1e-30)
    worst = np.unravel_index(np.argmax(err / bound), err.shape) if err.size else None
    assert np.all(err <= bound), (
        f"{what}: at {worst} got {got[worst]}, want {want[worst]} (err {err[worst]:.3g}, "
        f"bound {bound[worst]:.3g})")


# The fast kernels compute in float32: GEMM sums over K = I, U or B*T terms and a
# state carried through T steps each add a few ulp (measured: <= 4e-6 of the RMS up to
# T = 20, U = 64), so 2e-5. The twin computes in double and rounds once: 1.5e-7 (one
# float32 rounding of the value, plus the double-precision differences).
FAST_RTOL, REF_RTOL = 2e-5, 1.5e-7


def check_all(kind, case, grads, rtol=FAST_RTOL, **options):
    want = run_oracle(kind, case, grads, **options)
    fast = run_native(kind, case, grads, **options)
    ref = run_native(kind, case, grads, "_ref", **options)
    assert ref["workspace"] is None
    for name, value in want.items():
        assert_close(fast[name], value, rtol, f"fast {name}")
        assert_close(ref[name], value, REF_RTOL, f"ref {name}")
    return fast


# ---- values: fast vs ref vs oracle --------------------------------------------------------------
@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("U", [1, 7, 33])
@pytest.mark.parametrize("B", [1, 3, 33])
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_sequence_matches_oracle(kind, reset_after, B, U, T):
    case, grads = make_case(kind, B, T, 5, U, seed=B * 100 + U * 10 + T, reset_after=reset_after)
    check_all(kind, case, grads, **cell_options(kind, reset_after))


MASKS = {
    "random": lambda rng, B, T: rng.random((B, T)) < 0.6,
    "all_masked_row": lambda rng, B, T: np.broadcast_to(np.arange(B)[:, None] != 1, (B, T)),
    "masked_first_step": lambda rng, B, T: np.broadcast_to(np.arange(T) > 0, (B, T)),
    "masked_last_steps": lambda rng, B, T: np.broadcast_to(np.arange(T) < T - 2, (B, T)),
}


@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("pattern", sorted(MASKS))
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_masks_and_direction(kind, reset_after, pattern, reverse, zero_output):
    rng = np.random.default_rng(len(pattern))
    B, T = 4, 6
    mask = MASKS[pattern](rng, B, T)
    case, grads = make_case(kind, B, T, 3, 5, seed=7, reset_after=reset_after, mask=mask)
    check_all(kind, case, grads, **cell_options(kind, reset_after, reverse=reverse,
                                                 zero_output_for_mask=zero_output))


@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_mask_dtypes_mean_the_same(kind, reset_after):
    used = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 0]])
    case, grads = make_case(kind, 3, 4, 2, 3, reset_after=reset_after, mask=used.astype(bool))
    opts = cell_options(kind, reset_after)
    want = run_native(kind, case, grads, **opts)
    for dtype in (np.uint8, np.int8, np.int32, np.int64):
        case["mask"] = used.astype(dtype) * 3  # any nonzero value marks a used step
        got = run_native(kind, case, grads, **opts)
        for name, value in want.items():
            if value is not None:
                np.testing.assert_array_equal(got[name], value, err_msg=f"{dtype} {name}")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_every_activation_pair(kind, reset_after, activation):
    # Each activation as `activation`, against every recurrent_activation. Small weights
    # keep T steps with an exponential (LSTM: h = o * e^c) O(1); with exponential gates
    # too, an LSTM's c grows by ~1 a step and h = e^c overflows within T steps: skipped.
    rec_acts = sorted(ACTIVATIONS) if kind != "simple_rnn" else ["sigmoid"]
    rec_acts = [r for r in rec_acts if not r == activation == "exponential"]
    for i, rec in enumerate(rec_acts):
        scale = 0.1 if "exponential" in (activation, rec) else 0.5
        case, grads = make_case(kind, 3, 4, 3, 6, seed=i, reset_after=reset_after, scale=scale)
        check_all(kind, case, grads, rtol=4e-5, **cell_options(
            kind, reset_after, activation=activation, recurrent_activation=rec))


@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_without_bias_or_initial_state(kind, reset_after):
    case, grads = make_case(kind, 4, 3, 3, 5, reset_after=reset_after, bias=False)
    case["h0"] = None
    if kind == "lstm":
        case["c0"] = None
    fast = check_all(kind, case, grads, **cell_options(kind, reset_after))
    assert fast["dbias"] is None


@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_missing_upstream_gradients_are_zeros(kind, reset_after):
    case, grads = make_case(kind, 3, 4, 2, 5, reset_after=reset_after)
    opts = cell_options(kind, reset_after)
    for drop in grads:
        partial = dict(grads, **{drop: None})
        want = run_oracle(kind, case, dict(grads, **{drop: np.zeros_like(grads[drop])}), **opts)
        got = run_native(kind, case, partial, **opts)
        for name in GRAD_NAMES:
            assert_close(got[name], want[name], FAST_RTOL, f"{drop}=None: {name}")


@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_large_batch_and_long_sequence(kind, reset_after):
    # Crosses sgemm's packed path (B*T rows > the direct limit) and threaded row passes.
    case, grads = make_case(kind, 64, 20, 24, 48, seed=3, reset_after=reset_after)
    check_all(kind, case, grads, rtol=4e-5, **cell_options(kind, reset_after))


@pytest.mark.slow
@pytest.mark.parametrize("U", [256, 512])
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_wide_units(kind, reset_after, U):
    case, grads = make_case(kind, 8, 3, 16, U, seed=U, reset_after=reset_after)
    opts = cell_options(kind, reset_after)
    want = run_oracle(kind, case, grads, **opts)
    fast = run_native(kind, case, grads, **opts)
    for name, value in want.items():
        assert_close(fast[name], value, 4e-5, f"fast {name}")


def test_core_empty_sizes():
    for B, T, I, U in [(0, 3, 2, 4), (2, 0, 2, 4), (2, 3, 0, 4)]:
        case, grads = make_case("lstm", B, T, I, U)
        check_all("lstm", case, grads)
    x, k, r = np.ones((2, 3, 4), np.float32), np.zeros((4, 0), np.float32), np.zeros((0, 0),
                                                                                   np.float32)
    out = _cpu.lstm_forward(x, k, r)
    assert out[0].shape == (2, 3, 0) and out[1].shape == (2, 0) and out[-1].shape == (0,)
    grads = _cpu.lstm_backward(None, None, None, x, k, r, None, None, None, None, out[-1])
    np.testing.assert_array_equal(grads[0], np.zeros((2, 3, 4)))  # zero units: dx = 0


# ---- the oracle itself: finite differences ------------------------------------------------------
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_oracle_gradients_match_finite_differences(kind, reset_after):
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    case, grads = make_case(kind, 2, 4, 3, 3, seed=11, reset_after=reset_after, mask=mask)
    case = {k: (np.asarray(v, np.float64) if k != "mask" and v is not None else v)
            for k, v in case.items()}
    opts = cell_options(kind, reset_after, activation="tanh", recurrent_activation="sigmoid")
    want = run_oracle(kind, case, grads, **opts)
    rng = np.random.default_rng(0)

    def loss(c):
        r = run_oracle(kind, c, {}, **opts)
        total = (r["outputs"] * grads["d_outputs"]).sum() + (r["h"] * grads["d_h"]).sum()
        return total + ((r["c"] * grads["d_c"]).sum() if kind == "lstm" else 0.0)

    inputs = {"x": "dx", "kernel": "dkernel", "recurrent_kernel": "drecurrent", "bias": "dbias",
              "h0": "dh0"}
    if kind == "lstm":
        inputs["c0"] = "dc0"
    eps = 1e-6
    for arg, grad_name in inputs.items():
        flat = case[arg].reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            up = loss(case)
            flat[i] = old - eps
            down = loss(case)
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            analytic = want[grad_name].reshape(-1)[i]
            assert abs(numeric - analytic) <= 1e-6 * (1 + abs(analytic)), (arg, i)


# ---- workspace, threads, ISA paths --------------------------------------------------------------
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_core_backward_without_workspace_recomputes_the_same_bits(kind, reset_after):
    mask = np.random.default_rng(2).random((5, 6)) < 0.7
    case, grads = make_case(kind, 5, 6, 4, 9, reset_after=reset_after, mask=mask)
    opts = cell_options(kind, reset_after)
    saved = run_native(kind, case, grads, **opts)
    recomputed = run_native(kind, case, grads, workspace=False, **opts)
    inference = getattr(_cpu, f"{kind}_forward")(*state_args(kind, case), save_workspace=False,
                                                 **opts)
    assert inference[-1] is None
    for i, name in enumerate(STATE_NAMES[kind]):
        np.testing.assert_array_equal(inference[i], saved[name])
    for name in GRAD_NAMES:
        np.testing.assert_array_equal(recomputed[name], saved[name], err_msg=name)


@pytest.fixture
def restore_threads():
    n = config.num_threads()
    yield
    config.set_num_threads(n)


@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_bitwise_identical_across_threads_and_runs(kind, reset_after, restore_threads):
    # Large enough that sgemm and the row passes both split over two threads.
    mask = np.random.default_rng(4).random((96, 3)) < 0.8
    case, grads = make_case(kind, 96, 3, 40, 200, reset_after=reset_after, mask=mask)
    opts = cell_options(kind, reset_after)
    runs = []
    for threads in (1, 2, 2, 1):
        config.set_num_threads(threads)
        r = run_native(kind, case, grads, **opts)
        runs.append({k: v.tobytes() for k, v in r.items() if v is not None})
    assert all(r == runs[0] for r in runs)


@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_team_recurrence_with_masks_reverse_and_a_ragged_unit_split(kind, reset_after, zero_output,
                                                                 restore_threads):
    # Enough work per step (> 2 MFLOP) for the whole-sequence teams (forward and backward)
    # of two threads, owning units [0, 32) and [32, 50) (or [0, 96) and [96, 178)): a ragged
    # split with a short tail. The same values as the oracle and the same bits as one thread, with a mask
    # and go_backwards.
    B, U = (40, 178) if kind == "simple_rnn" else (64, 50)
    mask = np.random.default_rng(9).random((B, 4)) < 0.7
    case, grads = make_case(kind, B, 4, 6, U, seed=11, reset_after=reset_after, mask=mask)
    opts = cell_options(kind, reset_after, reverse=True, zero_output_for_mask=zero_output)
    config.set_num_threads(2)
    two = check_all(kind, case, grads, rtol=4e-5, **opts)
    config.set_num_threads(1)
    one = run_native(kind, case, grads, **opts)
    for name, value in one.items():
        if value is not None:
            assert value.tobytes() == two[name].tobytes(), name


@not_in_a_capped_run
@pytest.mark.parametrize("isa", ISAS)
def test_every_capped_isa_path(isa):
    # sgemm and the activations dispatch on the ISA
    rerun_capped(isa, "test_rnn_kernels.py", "test_core_ or bitwise or Activation")


# ---- activations shared with the GEMM epilogue --------------------------------------------------
class TestActivations:
    X = np.concatenate([np.linspace(-30, 30, 3001), np.linspace(-1, 1, 2001),
                        [0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 80.0, -80.0]]).astype(np.float32)

    @pytest.mark.parametrize("name", sorted(ACTIVATIONS))
    def test_values_against_float64(self, name):
        got = _cpu.activation(self.X, name)
        want = ACTIVATIONS[name][0](self.X.astype(np.float64))
        # About 3 ulp relative (expm1, log1p and division chains), absolute 1e-37 where
        # the result underflows.
        np.testing.assert_allclose(got, want, rtol=4e-7, atol=1e-37)

    @pytest.mark.parametrize("name", sorted(ACTIVATIONS))
    def test_gradients_against_float64(self, name):
        x = self.X[np.abs(np.abs(self.X) - 3) > 1e-3]  # away from hard_sigmoid's kinks
        g = np.linspace(-2, 2, x.size).astype(np.float32)
        got = _cpu.activation_grad(x, g, name)
        f, df = ACTIVATIONS[name]
        xd = x.astype(np.float64)
        want = g * df(xd, f(xd))
        # elu and selu take f' from y (as TF does): y + 1 loses e^x below float32's
        # resolution of y near -1, an absolute error of about one ulp of 1 times |g|.
        np.testing.assert_array_less(np.abs(got - want),
                                     1e-6 * np.abs(want) + 2e-7 * np.abs(g) + 1e-37)

    def test_swish_is_silu_and_linear_is_none(self):
        np.testing.assert_array_equal(_cpu.activation(self.X, "swish"),
                                      _cpu.activation(self.X, "silu"))
        np.testing.assert_array_equal(_cpu.activation(self.X, "linear"), self.X)

    def test_gemm_epilogue_keeps_its_four(self):
        a = np.ones((2, 2), np.float32)
        with pytest.raises(ValueError, match="sgemm: unknown activation 'elu'"):
            _cpu.sgemm(a, a, activation="elu")


# ---- bad inputs ---------------------------------------------------------------------------------
class TestBadInputs:
    def args(self, kind="lstm", **change):
        case, _ = make_case(kind, 2, 3, 4, 5)
        case.update(change)
        return state_args(kind, case)

    def test_x_must_be_3d(self):
        args = self.args()
        args[0] = args[0][0]
        with pytest.raises(ValueError, match=r"lstm_forward: x must be 3-D \(B, T, I\), got "
                                             r"shape \(3, 4\)"):
            _cpu.lstm_forward(*args)

    def test_weight_and_state_shapes(self):
        k = np.zeros((4, 12), np.float32)
        with pytest.raises(ValueError, match=r"gru_forward: kernel must have shape \(I, 3U\) = "
                                             r"\(4, 15\), got \(4, 12\)"):
            _cpu.gru_forward(*self.args("gru", kernel=k))
        with pytest.raises(ValueError, match=r"lstm_forward: recurrent_kernel must have shape "
                                             r"\(U, 4U\), got \(5, 15\)"):
            _cpu.lstm_forward(*self.args(recurrent_kernel=np.zeros((5, 15), np.float32)))
        with pytest.raises(ValueError, match=r"lstm_forward: h0 must have shape \(B, U\) = "
                                             r"\(2, 5\), got \(5, 2\)"):
            _cpu.lstm_forward(*self.args(h0=np.zeros((5, 2), np.float32)))
        with pytest.raises(ValueError, match=r"lstm_forward: c0 must have shape"):
            _cpu.lstm_forward(*self.args(c0=np.zeros((2, 4), np.float32)))
        with pytest.raises(ValueError, match=r"gru_forward: bias must have shape \(2, 3U\) with "
                                             r"reset_after = \(2, 15\), got \(15,\)"):
            _cpu.gru_forward(*self.args("gru", bias=np.zeros(15, np.float32)))
        with pytest.raises(ValueError, match=r"gru_forward: bias must have shape \(3U,\)"):
            _cpu.gru_forward(*self.args("gru"), reset_after=False)

    def test_mask_shape_and_dtype(self):
        with pytest.raises(ValueError, match=r"simple_rnn_forward: mask must have shape \(B, T\) "
                                             r"= \(2, 3\), got \(3, 2\)"):
            _cpu.simple_rnn_forward(*self.args("simple_rnn", mask=np.ones((3, 2), bool)))
        with pytest.raises(ValueError, match="mask must be bool or integer, got float32"):
            _cpu.simple_rnn_forward(*self.args("simple_rnn", mask=np.ones((2, 3), np.float32)))

    def test_dtypes_and_layouts(self):
        with pytest.raises(ValueError, match=r"lstm_forward: x must be float32, got float64 of "
                                             r"shape \(2, 3, 4\)"):
            _cpu.lstm_forward(*self.args(x=np.zeros((2, 3, 4))))
        x = np.zeros((3, 2, 4), np.float32).transpose(1, 0, 2)
        with pytest.raises(ValueError, match=r"x of shape \(2, 3, 4\) must be C-contiguous"):
            _cpu.lstm_forward(*self.args(x=x))
        with pytest.raises(ValueError, match="kernel must be a numpy.ndarray, got list"):
            _cpu.lstm_forward(*self.args(kernel=[[0.0]]))

    def test_activation_names(self):
        with pytest.raises(ValueError, match="lstm_forward: unknown activation 'gelu'"):
            _cpu.lstm_forward(*self.args(), activation="gelu")
        with pytest.raises(ValueError, match="gru_forward: unknown activation 'mish'"):
            _cpu.gru_forward(*self.args("gru"), recurrent_activation="mish")

    def test_backward_gradient_and_workspace_shapes(self):
        case, grads = make_case("gru", 2, 3, 4, 5)
        args = state_args("gru", case)
        ws = _cpu.gru_forward(*args)[-1]
        with pytest.raises(ValueError, match=r"gru_backward: d_outputs must have shape "
                                             r"\(B, T, U\) = \(2, 3, 5\), got \(2, 5\)"):
            _cpu.gru_backward(grads["d_h"], None, *args, ws)
        with pytest.raises(ValueError, match=r"gru_backward: workspace must have shape "
                                             r"\(150,\) for x \(2, 3, 4\) and 5 units"):
            _cpu.gru_backward(None, grads["d_h"], *args, ws[:-1])
        lstm_ws = np.zeros(180, np.float32)  # an LSTM's for the same x and units
        with pytest.raises(ValueError, match=r"gru_backward: workspace must have shape \(150,\)"
                                             r".*\(gru_forward's\), got \(180,\)"):
            _cpu.gru_backward(None, grads["d_h"], *args, lstm_ws)


# ---- embeddings ---------------------------------------------------------------------------------
class TestEmbedding:
    @pytest.mark.parametrize("dtype", [np.int32, np.int64])
    @pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (0, 2)])
    @pytest.mark.parametrize("V,D", [(1, 1), (7, 3), (33, 31)])
    def test_core_forward_and_backward(self, V, D, shape, dtype):
        rng = np.random.default_rng(V * D)
        table = f32(rng.standard_normal((V, D)))
        ids = rng.integers(0, V, size=shape).astype(dtype)  # duplicates included
        d_out = f32(rng.standard_normal(shape + (D,)))
        for suffix in ("", "_ref"):
            out = getattr(_cpu, "embedding_forward" + suffix)(table, ids)
            assert out.shape == shape + (D,) and out.dtype == np.float32
            np.testing.assert_array_equal(out, embedding_ref(table, ids))
            grad = getattr(_cpu, "embedding_backward" + suffix)(d_out, ids, V)
            want = embedding_grad_ref(d_out, ids, V)
            # A row sums as many float32 terms as the id repeats: a few ulp of the magnitudes.
            np.testing.assert_allclose(grad, want, rtol=1e-6,
                                       atol=1e-6 * np.abs(d_out).max(initial=0.0))

    def test_core_backward_writes_into_out(self):
        ids = np.array([[0, 2, 2]], np.int64)
        d_out = np.ones((1, 3, 2), np.float32)
        out = np.full((4, 2), np.nan, np.float32)
        assert _cpu.embedding_backward(d_out, ids, 4, out=out) is out
        np.testing.assert_array_equal(out, [[1, 1], [0, 0], [2, 2], [0, 0]])

    def test_bitwise_identical_across_threads(self, restore_threads):
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 50, size=(400, 30)).astype(np.int32)
        d_out = f32(rng.standard_normal((400, 30, 64)))
        runs = []
        for threads in (1, 2, 1):
            config.set_num_threads(threads)
            runs.append(_cpu.embedding_backward(d_out, ids, 50).tobytes())
        assert runs[0] == runs[1] == runs[2]

    def test_out_of_range_ids_raise_naming_value_and_rows(self):
        table = np.zeros((5, 2), np.float32)
        for bad in (5, -1, 2**40):
            ids = np.array([[0, 1], [bad, 2]], np.int64)
            with pytest.raises(ValueError, match=rf"embedding_forward: index {bad} \(at flat "
                                                 rf"position 2\) is out of range for an embedding "
                                                 rf"table of 5 rows"):
                _cpu.embedding_forward(table, ids)
            with pytest.raises(ValueError, match=rf"embedding_backward: index {bad}"):
                _cpu.embedding_backward(np.zeros((2, 2, 2), np.float32), ids, 5)

    def test_bad_types_and_shapes(self):
        table = np.zeros((5, 2), np.float32)
        with pytest.raises(ValueError, match=r"ids must be int32 or int64, got float32"):
            _cpu.embedding_forward(table, np.zeros(3, np.float32))
        with pytest.raises(ValueError, match=r"ids must be int32 or int64, got int16"):
            _cpu.embedding_forward(table, np.zeros(3, np.int16))
        with pytest.raises(ValueError, match=r"table must be 2-D \(V, D\), got shape \(10,\)"):
            _cpu.embedding_forward(np.zeros(10, np.float32), np.zeros(3, np.int32))
        with pytest.raises(ValueError, match="table must be a C-contiguous float32 array, got "
                                             "float64"):
            _cpu.embedding_forward(np.zeros((5, 2)), np.zeros(3, np.int32))
        with pytest.raises(ValueError, match=r"embedding_backward: d_out must have shape "
                                             r"ids.shape \+ \(D,\), got \(3,\) for ids of shape "
                                             r"\(3,\)"):
            _cpu.embedding_backward(np.zeros(3, np.float32), np.zeros(3, np.int32), 5)
        with pytest.raises(ValueError, match=r"out must be a writable \(input_dim, D\) = \(5, 2\)"):
            _cpu.embedding_backward(np.zeros((3, 2), np.float32), np.zeros(3, np.int32), 5,
                                    out=np.zeros((4, 2), np.float32))

    def test_non_contiguous_ids_are_read_in_logical_order(self):
        table = f32(np.arange(10).reshape(5, 2))
        ids = np.array([[0, 1, 2], [3, 4, 0]], np.int32).T
        np.testing.assert_array_equal(_cpu.embedding_forward(table, ids), table[ids])


# ---- Keras 3 itself, where TensorFlow is installed ----------------------------------------------
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_matches_keras_masks_initial_state_and_go_backwards(keras, kind, reset_after):
    rng = np.random.default_rng(1)
    B, T, U = 3, 5, 4
    x = f32(rng.standard_normal((B, T, 3)))
    mask = np.ones((B, T), bool)
    mask[0, 0] = mask[1, 2] = mask[1, 3] = False
    mask[2] = False  # an all-masked row: outputs 0, states h0
    states = [f32(rng.standard_normal((B, U))) for _ in range(2 if kind == "lstm" else 1)]
    layer_cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
                 "simple_rnn": keras.layers.SimpleRNN}[kind]
    extra = {} if reset_after is None else dict(reset_after=reset_after)
    for go_backwards in (False, True):
        layer = layer_cls(U, return_sequences=True, return_state=True, go_backwards=go_backwards,
                          bias_initializer="random_normal", **extra)
        want = [np.asarray(t) for t in layer(x, mask=mask, initial_state=states)]
        weights = [f32(w.numpy()) for w in layer.weights]
        got = getattr(_cpu, f"{kind}_forward")(x, *weights, *states, mask, reverse=go_backwards,
                                               **({} if reset_after is None else extra))
        for g, w in zip(got[:-1], want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
