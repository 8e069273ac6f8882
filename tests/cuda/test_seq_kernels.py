"""The CUDA sequence and training kernels (csrc/cuda/{rnn,embedding,optim}.cu, through
the table mixin pykern/backend/devices/cuda_seq.py) against the CPU kernel table and
the float64 oracles of tests/reference.py.

Tolerances, and why:
- LSTM/GRU/SimpleRNN, each on both step paths of csrc/cuda/rnn.cu (the fused
  recurrent-product kernel and, with PYKERN_CUDA_RNN=gemm, sgemm + gate kernel): both
  devices compute in float32 and differ in summation order (our CUDA kernels' dot
  products vs the CPU's blocked SGEMM, over K = I, U or B*T terms), in FMA
  contraction and in the activations (CUDA's expf/tanhf vs the CPU's Cephes
  polynomials, a few ulp each). The CPU kernels are within 2e-5 of the RMS-floored
  relative error of the float64 oracle (tests/test_rnn_kernels.py, measured <= 4e-6);
  the GPU gets the same bound against the oracle, and twice it against the CPU table
  (both may err by the bound). Exotic activation pairs get 4e-5, as on the CPU.
- Embedding: gathers copy bits; the gradient sums each table row's contributions in
  increasing position in float32 on both devices: bitwise equal to the CPU.
- Optimizers: element-wise IEEE operations in the CPU kernel's order, no FMA
  contraction: bitwise equal to the CPU plan, except with clipnorm/global_clipnorm,
  whose double norms are summed in another order (one float rounding of the factor:
  rtol 1e-6 per step, a few steps).
- Every kernel is bitwise repeatable on the GPU (fixed-order sums, no float atomics).
"""
import numpy as np
import pytest

try:
    from pykern import _cuda
except ImportError:
    _cuda = None

if _cuda is None:
    pytest.skip("pykern._cuda is not built", allow_module_level=True)

from gpu_table import CPU, GPU, dev, host, real_gpu_only  # noqa: E402
from pykern import optimizers  # noqa: E402
from pykern.backend.devices.cuda_seq import CudaSeqKernels  # noqa: E402
from reference import ACTIVATIONS, rnn_sequence_ref  # noqa: E402
from test_rnn_kernels import (CELL_VARIANTS, FAST_RTOL, MASKS, assert_close,  # noqa: E402
                              cell_options, make_case)

# The GPU tests carry the `cuda` mark (tests/cuda/conftest.py skips them without a
# GPU; PYKERN_TEST_FAKE_CUDA=1 dry-runs them on gpu_table's NumPy stand-in, except
# those that check the real bindings' messages); the argument checks at the end
# run anywhere pykern._cuda is built.
needs_gpu = pytest.mark.cuda
F32 = np.float32


@pytest.fixture(params=["fused", "gemm"])
def rnn_path(request, monkeypatch):
    """Runs a recurrent test on one of the two step paths (read at each call)."""
    if request.param == "gemm":
        monkeypatch.setenv("PYKERN_CUDA_RNN", "gemm")
    else:
        monkeypatch.delenv("PYKERN_CUDA_RNN", raising=False)
    return request.param


def get(a):
    """A GPU value on the host (None stays None)."""
    return None if a is None else host(a)


def same(a):
    return a


# ---- recurrent ------------------------------------------------------------------------------
OPTION_DEFAULTS = dict(reverse=False, activation="tanh", recurrent_activation="sigmoid",
                       reset_after=True, zero_output_for_mask=False)
ARG_NAMES = ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0", "mask")
GRAD_NAMES = ("dx", "dkernel", "drecurrent", "dbias", "dh0", "dc0")


def table_flags(options):
    o = {**OPTION_DEFAULTS, **options}
    act = "none" if o["activation"] == "linear" else o["activation"]
    rec = "none" if o["recurrent_activation"] == "linear" else o["recurrent_activation"]
    return o["reverse"], act, rec, o["reset_after"], o["zero_output_for_mask"]


def run_table(k, to, back, kind, case, grads, workspace=True, **options):
    """rnn then rnn_backward of table k (to/back move values there and back), with
    the kernel table's signatures: the named results on the host."""
    flags = table_flags(options)
    args = [to(case.get(n)) for n in ARG_NAMES]
    y, h, c, ws = k.rnn(kind, *args, *flags, True)
    upstream = [to(grads.get(n)) for n in ("d_outputs", "d_h", "d_c")]
    g = k.rnn_backward(kind, *upstream, *args, ws if workspace else None, *flags)
    out = dict(outputs=y, h=h, c=c, workspace=ws, **dict(zip(GRAD_NAMES, g)))
    return {n: back(v) for n, v in out.items()}


def run_gpu(kind, case, grads, **options):
    return run_table(GPU, dev, get, kind, case, grads, **options)


def run_cpu(kind, case, grads, **options):
    return run_table(CPU, same, same, kind, case, grads, **options)


def oracle_options(options):
    return {n: v for n, v in options.items() if n in OPTION_DEFAULTS}


def check_rnn(kind, case, grads, rtol=FAST_RTOL, **options):
    """GPU vs the float64 oracle (rtol) and vs the CPU table (2 rtol); returns the GPU's."""
    want = rnn_sequence_ref(kind, **{n: v for n, v in case.items() if v is not None or n in
                                     ("bias", "h0", "mask")}, **grads,
                            **oracle_options(options))
    got = run_gpu(kind, case, grads, **options)
    cpu = run_cpu(kind, case, grads, **options)
    for name, value in want.items():
        assert_close(got[name], value, rtol, f"gpu vs oracle: {name}")
        if value is not None:
            assert_close(got[name], cpu[name], 2 * rtol, f"gpu vs cpu: {name}")
    if kind != "lstm":
        assert got["c"] is None and got["dc0"] is None
    return got


@needs_gpu
@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("U", [1, 7, 33, 129])
@pytest.mark.parametrize("B", [1, 7, 33])
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_sequence_matches_cpu_and_oracle(kind, reset_after, B, U, T, rnn_path):
    case, grads = make_case(kind, B, T, 5, U, seed=B * 100 + U * 10 + T, reset_after=reset_after)
    check_rnn(kind, case, grads, **cell_options(kind, reset_after))


@needs_gpu
@pytest.mark.parametrize("zero_output", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("pattern", sorted(MASKS))
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_masks_and_direction_match(kind, reset_after, pattern, reverse, zero_output, rnn_path):
    rng = np.random.default_rng(len(pattern))
    B, T = 7, 6
    mask = MASKS[pattern](rng, B, T)
    case, grads = make_case(kind, B, T, 3, 33, seed=7, reset_after=reset_after,
                            mask=np.ascontiguousarray(mask))
    check_rnn(kind, case, grads, **cell_options(kind, reset_after, reverse=reverse,
                                                zero_output_for_mask=zero_output))


@needs_gpu
@real_gpu_only
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_mask_dtypes_mean_the_same(kind, reset_after, rnn_path):
    used = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 0]])
    case, grads = make_case(kind, 3, 4, 2, 7, reset_after=reset_after, mask=used.astype(bool))
    opts = cell_options(kind, reset_after)
    want = run_gpu(kind, case, grads, **opts)
    for dtype in (np.uint8, np.int32, np.int64, np.float32):
        case["mask"] = used.astype(dtype) * 3  # any nonzero value marks a used step
        got = run_gpu(kind, case, grads, **opts)
        for name, value in want.items():
            if value is not None:
                np.testing.assert_array_equal(got[name], value, err_msg=f"{dtype} {name}")


@needs_gpu
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_every_activation_pair(kind, reset_after, activation, rnn_path):
    # As tests/test_rnn_kernels.py: small weights keep exponentials O(1); exponential
    # for both activations of an LSTM overflows within T steps and is skipped.
    rec_acts = sorted(ACTIVATIONS) if kind != "simple_rnn" else ["sigmoid"]
    rec_acts = [r for r in rec_acts if not r == activation == "exponential"]
    for i, rec in enumerate(rec_acts):
        scale = 0.1 if "exponential" in (activation, rec) else 0.5
        case, grads = make_case(kind, 3, 4, 3, 6, seed=i, reset_after=reset_after, scale=scale)
        check_rnn(kind, case, grads, rtol=4e-5, **cell_options(
            kind, reset_after, activation=activation, recurrent_activation=rec))


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_without_bias_or_initial_state(kind, reset_after, rnn_path):
    case, grads = make_case(kind, 7, 3, 3, 5, reset_after=reset_after, bias=False)
    case["h0"] = None
    if kind == "lstm":
        case["c0"] = None
    got = check_rnn(kind, case, grads, **cell_options(kind, reset_after))
    assert got["dbias"] is None


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_missing_upstream_gradients_are_zeros(kind, reset_after, rnn_path):
    case, grads = make_case(kind, 3, 4, 2, 7, reset_after=reset_after)
    opts = cell_options(kind, reset_after)
    for drop in grads:
        zeroed = run_gpu(kind, case, dict(grads, **{drop: np.zeros_like(grads[drop])}), **opts)
        got = run_gpu(kind, case, dict(grads, **{drop: None}), **opts)
        for name in GRAD_NAMES:
            if zeroed[name] is not None:
                assert_close(got[name], zeroed[name], FAST_RTOL, f"{drop}=None: {name}")


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_workspace_is_the_cpus_and_recomputing_it_changes_nothing(kind, reset_after, rnn_path):
    # The workspace holds pre-activations and states: the forward's values, so the
    # forward's tolerance. Without it the backward reruns the same deterministic
    # forward: bitwise the same gradients.
    mask = np.random.default_rng(1).random((7, 5)) < 0.7
    case, grads = make_case(kind, 7, 5, 4, 33, reset_after=reset_after, mask=mask)
    opts = cell_options(kind, reset_after)
    got = run_gpu(kind, case, grads, **opts)
    cpu = run_cpu(kind, case, grads, **opts)
    assert got["workspace"].shape == cpu["workspace"].shape
    assert_close(got["workspace"], cpu["workspace"], 2 * FAST_RTOL, "workspace")
    again = run_gpu(kind, case, grads, workspace=False, **opts)
    for name in GRAD_NAMES:
        if got[name] is not None:
            np.testing.assert_array_equal(again[name], got[name], err_msg=name)


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_inference_saves_nothing_and_gives_the_same_bits(kind, reset_after, rnn_path):
    case, _ = make_case(kind, 7, 5, 3, 7, reset_after=reset_after)
    flags = table_flags(cell_options(kind, reset_after))
    args = [dev(case.get(n)) for n in ARG_NAMES]
    train = GPU.rnn(kind, *args, *flags, True)
    infer = GPU.rnn(kind, *args, *flags, False)
    assert infer[3] is None
    for a, b in zip(train[:3], infer[:3]):
        if a is not None:
            np.testing.assert_array_equal(get(b), get(a))


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_large_batch_and_long_sequence(kind, reset_after, rnn_path):
    case, grads = make_case(kind, 64, 20, 24, 48, seed=3, reset_after=reset_after)
    check_rnn(kind, case, grads, rtol=4e-5, **cell_options(kind, reset_after))


@needs_gpu
@pytest.mark.parametrize("kind,reset_after", CELL_VARIANTS)
def test_sequence_is_bitwise_repeatable(kind, reset_after, rnn_path):
    mask = np.random.default_rng(2).random((33, 5)) < 0.8
    case, grads = make_case(kind, 33, 5, 7, 129, seed=5, reset_after=reset_after, mask=mask)
    opts = cell_options(kind, reset_after, reverse=True)
    first = run_gpu(kind, case, grads, **opts)
    second = run_gpu(kind, case, grads, **opts)
    for name, value in first.items():
        if value is not None:
            np.testing.assert_array_equal(second[name], value, err_msg=name)


@needs_gpu
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_empty_sizes(kind, rnn_path):
    # T = 0: the states pass through; I = 0: only the recurrence. As on the CPU.
    for B, T, I, U in [(3, 0, 2, 5), (3, 4, 0, 5), (0, 4, 2, 5)]:
        case, grads = make_case(kind, B, T, I, U)
        got = run_gpu(kind, case, grads)
        cpu = run_cpu(kind, case, grads)
        for name, value in cpu.items():
            if value is not None and name != "workspace":
                assert got[name].shape == value.shape, name
                assert_close(got[name], value, 2 * FAST_RTOL, f"{(B, T, I, U)} {name}")


@needs_gpu
@real_gpu_only
def test_bad_shapes_and_devices_are_value_errors():
    case, grads = make_case("lstm", 3, 4, 2, 5)
    args = [dev(case[n]) for n in ARG_NAMES]
    flags = table_flags({})
    bad = list(args)
    bad[1] = dev(np.zeros((3, 20), F32))
    with pytest.raises(ValueError, match=r"kernel must have shape \(I, 4U\) = \(2, 20\)"):
        GPU.rnn("lstm", *bad, *flags, True)
    bad = list(args)
    bad[6] = dev(np.ones((4, 3), bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\) = \(3, 4\)"):
        GPU.rnn("lstm", *bad, *flags, True)
    with pytest.raises(ValueError, match="workspace must have shape"):
        GPU.rnn_backward("lstm", None, None, None, *args, dev(np.zeros(7, F32)), *flags)
    with pytest.raises(ValueError, match="unknown activation"):
        GPU.rnn("lstm", *args, False, "gelu_typo", "sigmoid", True, False, True)
    with pytest.raises(TypeError, match="x must be float32"):
        GPU.rnn("lstm", dev(case["x"].astype(np.float64)), *args[1:], *flags, True)


# ---- embedding ----------------------------------------------------------------------------
@needs_gpu
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("V,D,ids_shape", [(1, 1, (7,)), (7, 33, (5, 3)), (129, 7, (33, 5)),
                                            (40, 300, (2, 129)), (5000, 16, (4, 600)),
                                            (3, 5, (0,))])
def test_embedding_matches_the_cpu_bitwise(V, D, ids_shape, id_dtype):
    rng = np.random.default_rng(V + D)
    table = rng.standard_normal((V, D)).astype(F32)
    # skewed ids: some rows get many contributions, some none
    ids = (rng.zipf(1.5, ids_shape) % V).astype(id_dtype)
    d_out = rng.standard_normal(ids_shape + (D,)).astype(F32)
    got = get(GPU.embedding(dev(table), dev(ids)))
    np.testing.assert_array_equal(got, CPU.embedding(table, ids))
    grad = get(GPU.embedding_backward(dev(d_out), dev(ids), V))
    np.testing.assert_array_equal(grad, CPU.embedding_backward(d_out, ids, V))
    again = get(GPU.embedding_backward(dev(d_out), dev(ids), V))
    np.testing.assert_array_equal(again, grad)


@needs_gpu
@real_gpu_only
@pytest.mark.parametrize("id_dtype", [np.int32, np.int64])
def test_embedding_out_of_range_ids_are_value_errors_naming_the_first(id_dtype):
    table = np.ones((10, 4), F32)
    ids = np.array([[1, 2, 3], [12, -1, 10]], id_dtype)
    for call in (lambda: GPU.embedding(dev(table), dev(ids)),
                 lambda: GPU.embedding_backward(dev(np.ones((2, 3, 4), F32)), dev(ids), 10)):
        with pytest.raises(ValueError, match=r"index 12 \(at flat position 3\).*10 rows"):
            call()
    with pytest.raises(ValueError, match=r"index -1 \(at flat position 1\)"):
        GPU.embedding(dev(np.ones((10, 0), F32)), dev(np.array([0, -1], id_dtype)))
    with pytest.raises(ValueError, match=r"index 0 \(at flat position 0\).*0 rows"):
        GPU.embedding_backward(dev(np.ones((1, 4), F32)), dev(np.array([0], id_dtype)), 0)
    # the device still works afterwards
    np.testing.assert_array_equal(get(GPU.embedding(dev(table), dev(ids[:1]))), table[ids[:1]])


@needs_gpu
@real_gpu_only
def test_embedding_bad_arguments():
    table = dev(np.ones((10, 4), F32))
    with pytest.raises(TypeError, match="ids must be int32 or int64"):
        GPU.embedding(table, dev(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"d_out must have shape ids.shape \+ \(D,\)"):
        GPU.embedding_backward(dev(np.ones((3, 4), F32)), dev(np.zeros(2, np.int32)), 10)


# ---- optimizers ---------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(learning_rate=0.1),
    "sgd_momentum": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
    "rmsprop_momentum": lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.5),
    "rmsprop_centered": lambda: optimizers.RMSprop(learning_rate=0.01, centered=True),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.5,
                                                            centered=True),
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "adam_amsgrad": lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.1),
    "adagrad": lambda: optimizers.Adagrad(learning_rate=0.1),
    "adadelta": lambda: optimizers.Adadelta(learning_rate=1.0),
    "adamax": lambda: optimizers.Adamax(learning_rate=0.01),
    "nadam": lambda: optimizers.Nadam(learning_rate=0.01),
    "sgd_clipvalue": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, clipvalue=0.5),
    "adam_clipnorm": lambda: optimizers.Adam(learning_rate=0.01, clipnorm=1.0),
    "rmsprop_global_clipnorm": lambda: optimizers.RMSprop(learning_rate=0.01,
                                                          global_clipnorm=2.0),
}
NORM_CLIPPED = {"adam_clipnorm", "rmsprop_global_clipnorm"}
# odd sizes; 5000 and 9000 cross the 4096-element chunks; an empty tensor in the middle
SHAPES = [(1,), (7, 33), (0, 3), (129,), (5000,), (3, 3000)]


def run_plan(k, to, back, name, steps=3, seed=0):
    """`steps` updates of SHAPES-shaped tensors by table k's optimizer_plan, driven as
    pykern.optimizers drives it; the parameters and slots on the host afterwards."""
    opt = OPTIMIZERS[name]()
    opt.build([])  # Nadam's momentum-cache product
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(F32) for s in SHAPES]
    slot_names = opt._slot_names()
    slots = [[np.full(s, opt._slot_init(n), F32) for s in SHAPES] for n in slot_names]
    decays = None if not opt.weight_decay else np.full(len(SHAPES), opt.weight_decay, F32)
    dev_params = [to(p) for p in params]
    dev_slots = [[to(s) for s in row] for row in slots]
    plan = k.optimizer_plan(opt._kind, dev_params, dev_slots, decays,
                            clipnorm=opt.clipnorm or 0.0,
                            global_clipnorm=opt.global_clipnorm or 0.0,
                            clipvalue=opt.clipvalue or 0.0, **opt._hyper())
    assert plan.count == len(SHAPES)
    lr = opt._current_lr()
    for t in range(1, steps + 1):
        grads = [to((2.0 * rng.standard_normal(s)).astype(F32)) for s in SHAPES]
        plan.step(grads, lr, *opt._step_scalars(lr, t))
    return [back(p) for p in dev_params], [[back(s) for s in row] for row in dev_slots]


def assert_states(got, want, exact, what):
    for i, (g, w) in enumerate(zip(got[0] + sum(got[1], []), want[0] + sum(want[1], []))):
        assert g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} tensor {i}")
        else:
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7, err_msg=f"{what} tensor {i}")


@needs_gpu
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_plan_matches_the_cpu_plan(name):
    # tolerance here; test_optimizer_step_is_bitwise_the_cpu_step pins the bits
    got = run_plan(GPU, dev, get, name)
    want = run_plan(CPU, np.copy, same, name)
    assert_states(got, want, False, name)


@needs_gpu
@pytest.mark.parametrize("name", sorted(set(OPTIMIZERS) - NORM_CLIPPED))
def test_optimizer_step_is_bitwise_the_cpu_step(name):
    got = run_plan(GPU, dev, get, name)
    want = run_plan(CPU, np.copy, same, name)
    assert_states(got, want, True, name)


@needs_gpu
@pytest.mark.parametrize("name", sorted(NORM_CLIPPED) + ["adam"])
def test_optimizer_step_is_bitwise_repeatable(name):
    assert_states(run_plan(GPU, dev, get, name), run_plan(GPU, dev, get, name), True, name)


@needs_gpu
@real_gpu_only
def test_optimizer_plan_bad_gradients():
    p = dev(np.zeros((3, 4), F32))
    plan = GPU.optimizer_plan("sgd", [p], [], None)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(5,\) but params\[0\] has "
                                         r"shape \(3, 4\)"):
        plan.step([dev(np.zeros(5, F32))], 0.1)
    with pytest.raises(ValueError, match="got 2 gradients for 1 parameters"):
        plan.step([p, p], 0.1)
    with pytest.raises(TypeError, match="must be float32"):
        plan.step([dev(np.zeros((3, 4), np.float64))], 0.1)
    with pytest.raises(ValueError, match="needs 2 state slots"):
        GPU.optimizer_plan("adam", [p], [[p]], None)


# ---- without a GPU: the checks come before the device is touched ------------------------------
def test_the_sequence_methods_have_the_cpu_tables_signatures():
    import inspect
    from pykern.backend.devices.cpu import CpuKernels
    names = [n for n in vars(CudaSeqKernels) if not n.startswith("_")]
    assert sorted(names) == ["embedding", "embedding_backward", "optimizer_plan", "rnn",
                             "rnn_backward"]
    for name in names:
        assert (inspect.signature(getattr(CudaSeqKernels, name)) ==
                inspect.signature(getattr(CpuKernels, name))), name


def test_numpy_arrays_are_type_errors_naming_the_argument():
    x = np.zeros((2, 3, 4), F32)
    with pytest.raises(TypeError, match=r"x must be a pykern._cuda.Array, got ndarray"):
        _cuda.rnn_forward("lstm", x, np.zeros((4, 8), F32), np.zeros((2, 8), F32))
    with pytest.raises(TypeError, match=r"table must be a pykern._cuda.Array"):
        _cuda.embedding_forward(np.zeros((3, 2), F32), np.zeros(3, np.int32))
    with pytest.raises(TypeError, match=r"params\[0\] must be a pykern._cuda.Array"):
        _cuda.OptimPlan("sgd", [np.zeros(3, F32)], [])


def test_unknown_cell_and_optimizer_kind_are_value_errors():
    with pytest.raises(ValueError, match="cell must be 'lstm', 'gru' or 'simple_rnn'"):
        _cuda.rnn_forward("rnn", None, None, None)
    with pytest.raises(ValueError, match="unknown optimizer kind 'lion'"):
        _cuda.OptimPlan("lion", [], [])


def test_an_empty_optimizer_plan_steps_without_a_device():
    plan = _cuda.OptimPlan("adam", [], [[], []])
    assert plan.count == 0
    plan.step([], 0.1, 1.0)
