"""The CUDA dense-network kernels (csrc/cuda/{gemm,conv_gemm,conv_depthwise,pool,norm}.cu,
through the table mixin pykern/backend/devices/cuda_nn.py) against the CPU kernel table
and the float64 oracles of tests/reference.py, on odd shapes.

Tolerances, and why:
- GEMM, matmul and the convolutions sum float32 products in another order than the CPU
  (tiles of 16 along K, split-K partials, implicit-GEMM gathers). Each result must lie
  within the float32 error bound of the float64 oracle that the CPU kernels are held to
  (reference.gemm_error_bound / assert_within_sum_bound: 4 sqrt(terms) eps times the sum
  of the absolute products, plus 4 eps of it for the epilogue), and within twice that of
  the CPU table (both may err by the bound). Epilogue activations other than relu add
  CUDA's expf/tanhf rounding (<= 2 ulp) to the CPU's polynomials (~1 ulp): compared with
  the CPU at rtol 1e-5, atol 1e-6.
- TF32 (opt-in): operands rounded to 10 mantissa bits, relative error <= 2^-11 each, so a
  product errs by <= 2^-10 of |a||b|; allowed 2^-9 * (|A| @ |B|) plus the float32 bound.
- activation: CUDA's full-precision math (<= 2 ulp) against the CPU's Cephes polynomials
  (~1 ulp): rtol 2e-6; atol 1e-7 covers results below float32's normal range, which the
  CPU's exp flushes to 0 and CUDA keeps as denormals.
- max pooling: selection is exact: y and argmax bitwise equal to the CPU. The backward
  adds each channel's dy in output order, the CPU's order: bitwise equal too.
- average pooling: float32 window sums (forward) and a gather of dy/count (backward):
  within the bound of the oracle, and within twice it of the CPU.
- batch / layer norm: statistics in double on both devices, summed in another order:
  one float32 rounding apart (2 eps). y and dx use the CPU's unfused formulas on
  statistics that may differ by 1 ulp: the CPU tests' tolerances (a few eps of the
  values' scale), doubled; dgamma/dbeta are double sums rounded once.
- Every kernel is bitwise repeatable on the GPU (fixed tile, split and reduction orders;
  no float atomics): checked by running twice.
"""
import inspect
import itertools

import numpy as np
import pytest

try:
    from pykern import _cuda
except ImportError:
    _cuda = None

if _cuda is None:
    pytest.skip("pykern._cuda is not built", allow_module_level=True)

from pykern import config  # noqa: E402
from pykern.backend import devices  # noqa: E402
from pykern.backend.devices.cuda_nn import CudaNNKernels  # noqa: E402
from reference import (assert_gemm_matches, assert_within_sum_bound,  # noqa: E402
                       avg_pool_backward_ref, avg_pool_ref, batch_norm_backward_ref,
                       batch_norm_ref, gemm_error_bound, gemm_operands, layer_norm_backward_ref,
                       layer_norm_ref, max_pool_ref)
from test_conv_kernels import CASES_1D, CASES_2D, CASES_3D, Conv, case_id  # noqa: E402
from test_pool_norm_kernels import (BN_SHAPES, GRID, LN_SHAPES, as4, bn_inputs,  # noqa: E402
                                    pool_cases)


def needs_gpu(test):
    """Marks a test `cuda` and skips it where no GPU is visible (the tests above the
    bindings run everywhere: TypeErrors come before the device is touched)."""
    skip = pytest.mark.skipif(_cuda.device_count() == 0, reason="no CUDA device is visible")
    return pytest.mark.cuda(skip(test))


CPU = devices.CPU.k
GPU = CudaNNKernels()
F32 = np.float32
EPS32 = float(np.finfo(np.float32).eps)
SIZES = (1, 7, 33, 129)
TRANSPOSES = list(itertools.product((False, True), repeat=2))


def put(a):
    """A host value on the GPU (None stays None)."""
    return None if a is None else _cuda.to_device(np.ascontiguousarray(a))


def get(a):
    """A GPU value on the host."""
    return np.asarray(_cuda.to_host(a))


def check(got, cpu, want, mag, terms, what):
    """got within the float32 sum bound of the float64 oracle, and within twice it of the
    CPU table's answer."""
    assert got.dtype == np.float32 and got.shape == np.shape(want), (what, got.shape)
    assert_within_sum_bound(got, want, mag, terms, what + " vs the float64 oracle")
    assert_within_sum_bound(got, np.asarray(cpu, np.float64), 2 * mag, terms, what + " vs CPU")


def repeat_equal(fn, times=2):
    """fn() (a tuple of Arrays or one) gives the same bytes on every run."""
    def run():
        out = fn()
        return [get(o).tobytes() for o in (out if isinstance(out, tuple) else (out,))]
    first = run()
    for _ in range(times - 1):
        assert run() == first


# ---- without a GPU: the table's shape and the bindings' type checks --------------------------

TABLE_METHODS = ["gemm", "matmul", "activation", "conv", "conv_backward_data",
                 "conv_backward_filter", "depthwise_conv", "depthwise_conv_backward_data",
                 "depthwise_conv_backward_filter", "max_pool", "max_pool_backward", "avg_pool",
                 "avg_pool_backward", "batch_norm_train", "batch_norm_inference",
                 "batch_norm_backward", "layer_norm", "layer_norm_backward"]


@pytest.mark.parametrize("name", TABLE_METHODS)
def test_table_methods_have_the_cpu_tables_signatures(name):
    assert inspect.signature(getattr(CudaNNKernels, name)) == inspect.signature(
        getattr(type(CPU), name))


def _np(*shape):
    return np.ones(shape, F32)


# (binding, args with NumPy arrays where Arrays belong): a TypeError before the device is
# touched, so these run without a GPU.
NUMPY_CALLS = [
    ("gemm", (_np(2, 3), _np(3, 4))),
    ("matmul", (_np(2, 3), _np(3, 4))),
    ("activation", (_np(3), "relu")),
    ("conv_forward", (_np(1, 5, 5, 2), _np(3, 3, 2, 4), None, (1, 1), (1, 1), (0, 0), (0, 0))),
    ("conv_backward_data", (_np(1, 3, 3, 4), _np(3, 3, 2, 4), (1, 5, 5, 2), (1, 1), (1, 1),
                            (0, 0), (0, 0))),
    ("conv_backward_filter", (_np(1, 5, 5, 2), _np(1, 3, 3, 4), (3, 3, 2, 4), (1, 1), (1, 1),
                              (0, 0), (0, 0))),
    ("depthwise_forward", (_np(1, 5, 5, 2), _np(3, 3, 2, 1), None, (1, 1), (1, 1), (0, 0),
                           (0, 0))),
    ("depthwise_backward_data", (_np(1, 3, 3, 2), _np(3, 3, 2, 1), (1, 5, 5, 2), (1, 1), (1, 1),
                                 (0, 0), (0, 0))),
    ("depthwise_backward_filter", (_np(1, 5, 5, 2), _np(1, 3, 3, 2), (3, 3, 2, 1), (1, 1),
                                   (1, 1), (0, 0), (0, 0))),
    ("max_pool_forward", (_np(1, 4, 4, 2), (2, 2), (2, 2), (0, 0), (0, 0))),
    ("max_pool_backward", (_np(1, 2, 2, 2), np.zeros((1, 2, 2, 2), np.int32), (1, 4, 4, 2))),
    ("avg_pool_forward", (_np(1, 4, 4, 2), (2, 2), (2, 2), (0, 0), (0, 0))),
    ("avg_pool_backward", (_np(1, 2, 2, 2), (1, 4, 4, 2), (2, 2), (2, 2), (0, 0), (0, 0))),
    ("batch_norm_train", (_np(4, 3, 1), None, None, 1e-3)),
    ("batch_norm_inference", (_np(4, 3, 1), _np(3), _np(3), None, None, 1e-3)),
    ("batch_norm_backward", (_np(4, 3, 1), _np(4, 3, 1), _np(3), _np(3), None)),
    ("layer_norm_forward", (_np(4, 3), None, None, 1e-3)),
    ("layer_norm_backward", (_np(4, 3), _np(4, 3), _np(4), _np(4), None)),
]


@pytest.mark.parametrize("name,args", NUMPY_CALLS, ids=[c[0] for c in NUMPY_CALLS])
def test_numpy_arrays_are_a_type_error_naming_the_op(name, args):
    with pytest.raises(TypeError, match=f"{name}: .* must be a pykern._cuda.Array"):
        getattr(_cuda, name)(*args)


def test_tf32_is_off_by_default_and_takes_a_bool():
    assert config.get_tf32() is False
    with pytest.raises(TypeError, match="set_tf32"):
        config.set_tf32(1)
    config.set_tf32(True)
    try:
        assert config.get_tf32() is True
    finally:
        config.set_tf32(False)


# ---- GEMM and matmul -------------------------------------------------------------------------

def gemm_on_gpu(a, b, bias=None, act="none", trans_a=False, trans_b=False):
    return get(GPU.gemm(put(a), put(b), put(bias), act, trans_a, trans_b))


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_gemm_matches_oracle_and_cpu_over_odd_shapes(trans_a, trans_b):
    for m, n, k in itertools.product(SIZES, repeat=3):
        a, b = gemm_operands(m, n, k, trans_a, trans_b, seed=m * 10007 + n * 101 + k)
        kw = dict(trans_a=trans_a, trans_b=trans_b)
        got = gemm_on_gpu(a, b, None, "none", trans_a, trans_b)
        assert got.shape == (m, n) and got.dtype == F32
        bound = assert_gemm_matches(got, a, b, **kw)
        cpu = CPU.gemm(a, b, None, "none", trans_a, trans_b)
        assert np.all(np.abs(got.astype(np.float64) - cpu) <= 2 * bound), (m, n, k)


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m,n,k", [
    (300, 520, 1000),   # small tiles, float4 loads on every operand
    (64, 64, 5000),     # one small tile: split-K over 10 slices, reduced in order
    (1, 1, 4096),       # split-K on a single output
    (2048, 1024, 36),   # 128 large tiles
    (257, 130, 300),    # ragged edges on every side
    (129, 33, 2049),    # split-K with ragged K
])
def test_gemm_large_and_split_k_shapes(m, n, k, trans_a, trans_b):
    a, b = gemm_operands(m, n, k, trans_a, trans_b, seed=k)
    rng = np.random.default_rng(1)
    bias = rng.standard_normal(n).astype(F32)
    got = gemm_on_gpu(a, b, bias, "relu", trans_a, trans_b)
    bound = assert_gemm_matches(got, a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                                activation="relu")
    cpu = CPU.gemm(a, b, bias, "relu", trans_a, trans_b)
    assert np.all(np.abs(got.astype(np.float64) - cpu) <= 2 * bound)


@needs_gpu
@pytest.mark.parametrize("act", ["none", "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("m,n,k", [(33, 129, 31), (129, 64, 127), (1, 7, 1), (64, 64, 3000)])
def test_gemm_epilogue_bias_and_activation_match_cpu(m, n, k, act):
    a, b = gemm_operands(m, n, k, False, True, seed=2)
    bias = np.random.default_rng(3).standard_normal(n).astype(F32)
    got = gemm_on_gpu(a, b, bias, act, False, True)
    np.testing.assert_allclose(got, CPU.gemm(a, b, bias, act, False, True), rtol=1e-5,
                               atol=1e-6 + 4 * np.sqrt(k) * EPS32 * np.abs(a).max() *
                               np.abs(b).max() * k)


@needs_gpu
def test_gemm_edge_cases():
    # K == 0: act(bias); empty M; a bias-only relu
    a, b = np.zeros((5, 0), F32), np.zeros((0, 6), F32)
    bias = np.arange(6, dtype=F32) - 3
    np.testing.assert_array_equal(gemm_on_gpu(a, b, bias, "relu"), np.maximum(
        np.broadcast_to(bias, (5, 6)), 0))
    assert gemm_on_gpu(np.zeros((0, 3), F32), np.zeros((3, 5), F32)).shape == (0, 5)


@needs_gpu
def test_gemm_is_bitwise_repeatable():
    for m, n, k in [(257, 130, 300), (64, 64, 5000), (2048, 512, 64)]:
        a, b = (put(v) for v in gemm_operands(m, n, k, False, True))
        repeat_equal(lambda: GPU.gemm(a, b, None, "none", False, True), times=3)


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 33, 129), (129, 7, 33), (256, 256, 256),
                                   (300, 130, 1000)])
def test_tf32_is_opt_in_and_within_its_bound(m, n, k, trans_a, trans_b):
    a, b = gemm_operands(m, n, k, trans_a, trans_b, seed=5)
    A, B = put(a), put(b)
    exact = get(_cuda.gemm(A, B, None, "none", trans_a, trans_b))
    tf32 = get(_cuda.gemm(A, B, None, "none", trans_a, trans_b, True))
    pa = np.abs(a.T if trans_a else a).astype(np.float64)
    pb = np.abs(b.T if trans_b else b).astype(np.float64)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    bound = 2.0 ** -9 * (pa @ pb) + gemm_error_bound(a, b, trans_a=trans_a, trans_b=trans_b)
    assert np.all(np.abs(tf32 - want) <= bound)
    if k >= 33:  # 10-bit operands change some of the sums
        assert not np.array_equal(tf32, exact)
    config.set_tf32(True)
    try:
        np.testing.assert_array_equal(get(GPU.gemm(A, B, None, "none", trans_a, trans_b)), tf32)
    finally:
        config.set_tf32(False)
    np.testing.assert_array_equal(get(GPU.gemm(A, B, None, "none", trans_a, trans_b)), exact)


MATMUL_SHAPES = [
    ((7,), (7,)), ((33, 7), (7,)), ((7,), (7, 5)), ((1, 1), (1, 1)),
    ((2, 3, 7), (7, 5)),            # one GEMM over the batch's rows
    ((7, 3), (4, 3, 5)),            # a broadcast along b's batch
    ((2, 3, 7), (2, 7, 5)), ((1, 3, 7), (4, 7, 5)), ((4, 1, 3, 7), (5, 7, 2)),
    ((2, 1, 3, 1, 33, 7), (1, 4, 1, 5, 7, 2)), ((3, 129), (2, 2, 129, 33)),
]


@needs_gpu
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_broadcasts_as_numpy(sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a = rng.standard_normal(sa).astype(F32)
    b = rng.standard_normal(sb).astype(F32)
    got = get(GPU.matmul(put(a), put(b)))
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape and got.dtype == F32
    mag = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
    k = sa[-1]
    assert np.all(np.abs(got - want) <= 4 * np.sqrt(k) * EPS32 * mag + 4 * EPS32 * mag + 1e-30)
    cpu = CPU.matmul(a, b)
    assert np.all(np.abs(got - cpu) <= 8 * np.sqrt(k) * EPS32 * mag + 8 * EPS32 * mag + 1e-30)


@needs_gpu
def test_matmul_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned"):
        GPU.matmul(put(np.ones((3, 4), F32)), put(np.ones((5, 2), F32)))
    with pytest.raises(ValueError, match="do not broadcast"):
        GPU.matmul(put(np.ones((2, 3, 4), F32)), put(np.ones((3, 4, 2), F32)))
    with pytest.raises(ValueError, match=r"gemm: inner dimensions differ"):
        GPU.gemm(put(np.ones((3, 4), F32)), put(np.ones((5, 2), F32)))
    with pytest.raises(ValueError, match=r"gemm: bias must have shape \(2,\)"):
        GPU.gemm(put(np.ones((3, 4), F32)), put(np.ones((4, 2), F32)), put(np.ones(3, F32)))
    with pytest.raises(ValueError, match="unknown activation"):
        GPU.gemm(put(np.ones((3, 4), F32)), put(np.ones((4, 2), F32)), None, "gelu")
    with pytest.raises(ValueError, match="float32"):
        GPU.gemm(put(np.ones((3, 4))), put(np.ones((4, 2), F32)))


ACTIVATIONS = ["none", "linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "elu", "selu",
               "softsign", "softplus", "silu", "swish", "exponential"]


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_matches_cpu(act):
    rng = np.random.default_rng(7)
    special = [0.0, -0.0, 1e-8, -1e-8, 0.3, -0.3, 3.0, -3.0, 6.0, 20.0, -20.0, 88.0, -88.0,
               100.0, -100.0, np.nan]
    x = np.concatenate([rng.standard_normal(1000) * 4, special]).astype(F32).reshape(2, -1)
    got = get(GPU.activation(put(x), act))
    assert got.shape == x.shape and got.dtype == F32
    np.testing.assert_allclose(got, CPU.activation(x, act), rtol=2e-6, atol=1e-7, equal_nan=True)


# ---- convolution -----------------------------------------------------------------------------

def gpu_conv_passes(conv, activation="relu", bias=True):
    """(forward, backward_data, backward_filter) of the CUDA table on conv's operands."""
    x, w, dy = put(conv.x), put(conv.w), put(conv.dy)
    b = put(conv.bias) if bias else None
    g = conv.geometry
    if conv.depthwise:
        return (GPU.depthwise_conv(x, w, b, *g, activation),
                GPU.depthwise_conv_backward_data(dy, w, conv.x.shape, *g),
                GPU.depthwise_conv_backward_filter(x, dy, conv.w.shape, *g))
    return (GPU.conv(x, w, b, *g, conv.groups, activation),
            GPU.conv_backward_data(dy, w, conv.x.shape, *g, conv.groups),
            GPU.conv_backward_filter(x, dy, conv.w.shape, *g, conv.groups))


def check_conv(conv, activation="relu"):
    fwd, data, filt = (get(v) for v in gpu_conv_passes(conv, activation))
    for name, got, (want, mag, terms), cpu in [
            ("forward", fwd, conv.want_forward(activation), conv.forward("", activation)),
            ("backward_data", data, conv.want_backward_data(), conv.backward_data()),
            ("backward_filter", filt, conv.want_backward_filter(), conv.backward_filter())]:
        check(got, cpu, want, mag, terms, name)


@needs_gpu
@pytest.mark.parametrize("case", CASES_1D + CASES_2D + CASES_3D, ids=case_id)
def test_conv_passes_match_oracle_and_cpu(case):
    n, spatial, c, k, kernel, strides, dilations, padding, groups = case
    check_conv(Conv(n, spatial, c, k, kernel, strides, dilations, padding, groups,
                    seed=sum(spatial) + c))


# Larger layers: large 128 x 128 tiles (128 filters, 16384 output pixels), float4
# gathers (channels per group a multiple of 4), split-K backward-filter over thousands
# of output pixels, groups on the vector path, one channel (the MNIST CNN's first layer),
# and channels per group that allow float4 on one operand only.
BIG_CASES = [
    (16, (32, 32), 16, 128, (3, 3), (1, 1), (1, 1), "same", 1),
    (8, (32, 32), 64, 64, (3, 3), (1, 1), (1, 1), "same", 1),
    (8, (33, 33), 16, 32, (3, 3), (1, 1), (1, 1), "valid", 1),
    (16, (28, 28), 1, 32, (3, 3), (1, 1), (1, 1), "valid", 1),
    (4, (29, 31), 32, 64, (3, 3), (2, 2), (1, 1), "same", 4),
    (2, (17, 19), 24, 12, (4, 4), (2, 1), (2, 1), "same", 2),
    (16, (15, 15), 32, 64, (3, 3), (1, 1), (1, 1), "valid", 1),
]


@needs_gpu
@pytest.mark.parametrize("case", BIG_CASES, ids=case_id)
def test_conv_large_layers_match_oracle_and_cpu(case):
    n, spatial, c, k, kernel, strides, dilations, padding, groups = case
    check_conv(Conv(n, spatial, c, k, kernel, strides, dilations, padding, groups, seed=c + k))


# (N, spatial, C, multiplier, kernel, strides, dilations, padding)
DEPTHWISE_CASES = [
    (2, (7, 7), 3, 1, (3, 3), (1, 1), (1, 1), "same"),
    (1, (33, 31), 5, 2, (3, 3), (2, 2), (1, 1), "valid"),
    (2, (7, 8), 4, 3, (2, 2), (1, 2), (2, 1), "same"),
    (3, (31,), 7, 1, (5,), (2,), (2,), "same"),
    (1, (5, 6, 7), 3, 2, (3, 2, 3), (1, 2, 1), (1, 1, 2), "same"),
    (8, (14, 14), 32, 1, (3, 3), (1, 1), (1, 1), "same"),
]


@needs_gpu
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
def test_depthwise_passes_match_oracle_and_cpu(case):
    n, spatial, c, m, kernel, strides, dilations, padding = case
    conv = Conv(n, spatial, c, m, kernel, strides, dilations, padding, seed=c * 10 + m,
                depthwise=True)
    check_conv(conv)


@needs_gpu
@pytest.mark.parametrize("activation", ["none", "relu", "sigmoid", "tanh"])
def test_conv_forward_fuses_each_activation(activation):
    for conv in (Conv(2, (7, 9), 8, 12, (3, 3), padding="same", seed=1),
                 Conv(2, (7, 9), 3, 2, (3, 3), padding="same", seed=2, depthwise=True)):
        got = get(gpu_conv_passes(conv, activation)[0])
        np.testing.assert_allclose(got, conv.forward("", activation), rtol=1e-5, atol=1e-5)
    conv = Conv(2, (7, 9), 3, 5, (3, 3), padding="same", seed=3)
    want, mag, terms = conv.want_forward("none", bias=False)
    got = get(gpu_conv_passes(conv, "none", bias=False)[0])
    check(got, conv.forward("", "none", bias=False), want, mag, terms, "forward without bias")


@needs_gpu
def test_transposed_convolution_is_backward_data_on_a_larger_x_shape():
    # x 8 wide, kernel 3, stride 2, valid: the last column reads no output and gets 0
    conv = Conv(2, (8, 9), 4, 6, (3, 3), strides=(2, 2), seed=4)
    x_shape = conv.x.shape
    got = get(GPU.conv_backward_data(put(conv.dy), put(conv.w), x_shape, *conv.geometry, 1))
    want, mag, terms = conv.want_backward_data(x_shape)
    check(got, conv.backward_data("", x_shape), want, mag, terms, "transposed")
    assert not got[:, 7].any() and not got[:, :, 8].any()


@needs_gpu
def test_conv_with_an_empty_batch():
    conv = Conv(0, (5, 5), 3, 4, (3, 3), padding="same")
    fwd, data, filt = gpu_conv_passes(conv)
    assert fwd.shape == (0, 5, 5, 4) and data.shape == (0, 5, 5, 3)
    np.testing.assert_array_equal(get(filt), np.zeros((3, 3, 3, 4), F32))


@needs_gpu
def test_conv_passes_are_bitwise_repeatable():
    for conv in (Conv(8, (33, 33), 16, 32, (3, 3), padding="same", seed=5),
                 Conv(4, (15, 17), 6, 9, (3, 3), (2, 1), (1, 2), "same", 3, seed=6),
                 Conv(4, (15, 17), 6, 2, (3, 3), padding="same", seed=7, depthwise=True)):
        repeat_equal(lambda: gpu_conv_passes(conv), times=3)


@needs_gpu
def test_conv_argument_errors_name_op_and_shapes():
    x, w = put(np.ones((2, 5, 5, 3), F32)), put(np.ones((3, 3, 4, 8), F32))
    with pytest.raises(ValueError, match=r"conv_forward: x has 3 channels but w expects 4.*"
                                         r"\[x \(2, 5, 5, 3\), w \(3, 3, 4, 8\)\]"):
        GPU.conv(x, w, None, (1, 1), (1, 1), (0, 0), (0, 0), 1, "none")
    w3 = put(np.ones((3, 3, 3, 8), F32))
    with pytest.raises(ValueError, match="groups"):
        GPU.conv(x, w3, None, (1, 1), (1, 1), (0, 0), (0, 0), 2, "none")
    with pytest.raises(ValueError, match=r"bias must have shape \(8,\)"):
        GPU.conv(x, w3, put(np.ones(3, F32)), (1, 1), (1, 1), (0, 0), (0, 0), 1, "none")
    with pytest.raises(ValueError, match="strides must hold 2 ints"):
        GPU.conv(x, w3, None, (1,), (1, 1), (0, 0), (0, 0), 1, "none")
    with pytest.raises(ValueError, match="dy must have the output's shape"):
        GPU.conv_backward_data(put(np.ones((2, 4, 4, 8), F32)), w3, (2, 5, 5, 3), (1, 1),
                               (1, 1), (0, 0), (0, 0), 1)
    with pytest.raises(ValueError, match="unknown activation"):
        GPU.conv(x, w3, None, (1, 1), (1, 1), (0, 0), (0, 0), 1, "elu")


# ---- pooling ---------------------------------------------------------------------------------

@needs_gpu
@pytest.mark.parametrize("rank,pool,stride,padding", GRID)
def test_max_pool_is_bitwise_the_cpus(rank, pool, stride, padding):
    for x, *args in pool_cases(rank, pool, stride, padding):
        y, argmax = GPU.max_pool(put(x), *args)
        cy, cargmax = CPU.max_pool(x, *args)
        assert argmax.dtype == np.int32
        np.testing.assert_array_equal(get(y), cy)
        np.testing.assert_array_equal(get(argmax), cargmax)
        dy = np.random.default_rng(1).standard_normal(cy.shape).astype(F32)
        dx = get(GPU.max_pool_backward(put(dy), argmax, x.shape))
        np.testing.assert_array_equal(dx, CPU.max_pool_backward(dy, cargmax, x.shape))


@needs_gpu
@pytest.mark.parametrize("rank,pool,stride,padding", GRID)
def test_avg_pool_matches_oracle_and_cpu(rank, pool, stride, padding):
    for x, *args in pool_cases(rank, pool, stride, padding):
        y = get(GPU.avg_pool(put(x), *args))
        cells = pool ** rank
        check(y, CPU.avg_pool(x, *args), avg_pool_ref(x, *args),
              avg_pool_ref(np.abs(x), *args), cells, "avg_pool")
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(F32)
        dx = get(GPU.avg_pool_backward(put(dy), x.shape, *args))
        check(dx, CPU.avg_pool_backward(dy, x.shape, *args),
              avg_pool_backward_ref(dy, x.shape, *args),
              avg_pool_backward_ref(np.abs(dy), x.shape, *args), cells, "avg_pool_backward")


@needs_gpu
def test_max_pool_ties_nan_and_mixed_geometry_match_the_oracle():
    x = np.zeros((1, 4, 4, 2), F32)
    x[0, 1, 1, 1] = np.nan
    y, argmax = (get(v) for v in GPU.max_pool(put(x), (2, 2), (2, 2), (0, 0), (0, 0)))
    np.testing.assert_array_equal(argmax[..., 0].ravel(), [0, 4, 16, 20])
    assert np.isnan(y[0, 0, 0, 1]) and argmax[0, 0, 0, 1] == (1 * 4 + 1) * 2 + 1
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, 6, 9, 8, 4)).astype(F32)  # many ties
    args = ((3, 1, 2), (1, 3, 2), (2, 0, 1), (0, 0, 1))
    y, argmax = (get(v) for v in GPU.max_pool(put(x), *args))
    want_y, want_idx = max_pool_ref(x, *args)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_idx)


@needs_gpu
def test_int64_argmax_on_request_and_in_the_backward():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 8, 70)).astype(F32)
    args = ((3, 2), (2, 2), (1, 0), (1, 0))
    y32, a32 = _cuda.max_pool_forward(put(x), *args)
    _, a64 = _cuda.max_pool_forward(put(x), *args, argmax_dtype=np.int64)
    assert a64.dtype == np.int64
    np.testing.assert_array_equal(get(a64), get(a32))
    dy = put(rng.standard_normal(y32.shape).astype(F32))
    np.testing.assert_array_equal(get(_cuda.max_pool_backward(dy, a64, x.shape)),
                                  get(_cuda.max_pool_backward(dy, a32, x.shape)))
    with pytest.raises(ValueError, match="argmax_dtype must be int32, int64 or None"):
        _cuda.max_pool_forward(put(x), *args, argmax_dtype=np.float32)


@needs_gpu
def test_bad_argmax_is_a_value_error_not_a_wild_write():
    x_shape = (2, 4, 4, 3)
    dy = put(np.ones((2, 2, 2, 3), F32))
    bad = np.zeros((2, 2, 2, 3), np.int32) + np.arange(3, dtype=np.int32)
    bad[1, 0, 1, 2] = 4 * 4 * 3  # one past the sample
    with pytest.raises(ValueError, match=r"argmax\[17\] \(flat\) = 48 is not an index"):
        GPU.max_pool_backward(dy, put(bad), x_shape)
    crossed = np.zeros((2, 2, 2, 3), np.int32)  # every output names channel 0
    with pytest.raises(ValueError, match=r"argmax\[1\] .* channel 0 for an output of channel 1"):
        GPU.max_pool_backward(dy, put(crossed), x_shape)


@needs_gpu
@pytest.mark.parametrize("shape", [(0, 5, 3), (2, 5, 0), (0, 4, 4, 0)])
def test_pooling_empty_batch_or_channels(shape):
    x = put(np.zeros(shape, F32))
    s = len(shape) - 2
    args = ((2,) * s, (2,) * s, (0,) * s, (1,) * s)
    y, argmax = GPU.max_pool(x, *args)
    assert GPU.max_pool_backward(y, argmax, shape).shape == shape
    assert GPU.avg_pool_backward(GPU.avg_pool(x, *args), shape, *args).shape == shape


@needs_gpu
def test_pooling_is_bitwise_repeatable_and_checks_geometry():
    x = put(np.random.default_rng(8).standard_normal((8, 64, 64, 32)).astype(F32))
    args = ((3, 3), (2, 2), (0, 0), (1, 1))

    def run():
        y, argmax = GPU.max_pool(x, *args)
        a = GPU.avg_pool(x, *args)
        return (y, argmax, GPU.max_pool_backward(y, argmax, x.shape),
                GPU.avg_pool_backward(a, x.shape, *args))
    repeat_equal(run)
    with pytest.raises(ValueError, match="padding must be smaller than the pool size"):
        GPU.max_pool(x, (2, 2), (2, 2), (2, 0), (0, 0))
    with pytest.raises(ValueError, match="does not match the forward output"):
        GPU.avg_pool_backward(x, x.shape, *args)


# ---- normalization ---------------------------------------------------------------------------

@needs_gpu
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES + [(40000, 64, 1), (16, 40, 4096)])
def test_batch_norm_train_and_backward_match_cpu_and_oracle(shape, affine):
    x, gamma, beta = bn_inputs(shape, affine, sum(shape))
    y, mean, var, inv_std = (get(v) for v in GPU.batch_norm_train(put(x), put(gamma),
                                                                  put(beta), 1e-3))
    cy, cmean, cvar, cinv = CPU.batch_norm_train(x, gamma, beta, 1e-3)
    want_y, want_mean, _, want_is = batch_norm_ref(as4(x), gamma, beta, 1e-3)
    for got, cpu in ((mean, cmean), (var, cvar), (inv_std, cinv)):
        assert got.shape == cpu.shape
        np.testing.assert_allclose(got, cpu, rtol=2 * EPS32, atol=1e-9 * np.abs(x).max())
    scale = np.abs(as4(x) - want_mean[:, None, :, None]).max() * np.abs(want_is).max() * 2 + 3
    np.testing.assert_allclose(as4(y), want_y, rtol=0, atol=16 * EPS32 * scale)
    np.testing.assert_allclose(y, cy, rtol=0, atol=16 * EPS32 * scale)

    dy = np.random.default_rng(9).standard_normal(shape).astype(F32)
    dx, dgamma, dbeta = (get(v) for v in GPU.batch_norm_backward(
        put(dy), put(x), put(cmean), put(cinv), put(gamma)))
    cdx, cdg, cdb = CPU.batch_norm_backward(dy, x, cmean, cinv, gamma)
    want_dx, want_dg, want_db = batch_norm_backward_ref(as4(dy), as4(x), gamma, 1e-3)
    n = shape[-3] * shape[-1]
    g = 1.0 if gamma is None else np.abs(gamma).max()
    tol = 32 * EPS32 * np.sqrt(n) * g * np.abs(cinv).max() * np.abs(dy).max()
    np.testing.assert_allclose(as4(dx), want_dx, rtol=0, atol=tol)
    np.testing.assert_allclose(dx, cdx, rtol=0, atol=tol)
    sum_tol = 16 * EPS32 * np.abs(as4(dy)).sum(axis=(0, 1, 3)).max() * 4
    for got, cpu, want in ((dgamma, cdg, want_dg), (dbeta, cdb, want_db)):
        np.testing.assert_allclose(got, want, rtol=0, atol=sum_tol)
        np.testing.assert_allclose(got, cpu, rtol=2 * EPS32, atol=1e-6 * sum_tol)


@needs_gpu
@pytest.mark.parametrize("shape", [(7, 3, 1), (33, 5, 31), (3, 7, 2, 5)])
def test_batch_norm_inference_matches_cpu(shape):
    x, gamma, beta = bn_inputs(shape, True, 7)
    rng = np.random.default_rng(8)
    stat = (shape[-2],) if len(shape) == 3 else (shape[0], shape[2])
    mean = rng.standard_normal(stat).astype(F32)
    var = rng.uniform(0.1, 3, stat).astype(F32)
    y = get(GPU.batch_norm_inference(put(x), put(mean), put(var), put(gamma), put(beta), 1e-3))
    cpu = CPU.batch_norm_inference(x, mean, var, gamma, beta, 1e-3)
    np.testing.assert_allclose(y, cpu, rtol=0, atol=4 * EPS32 * np.abs(cpu).max())


@needs_gpu
def test_batch_norm_statistics_are_stable_far_from_zero_and_nan_when_empty():
    rng = np.random.default_rng(12)
    x = (1e4 + rng.standard_normal((4096, 3, 1)) * 1e-2).astype(F32)
    _, mean, var, _ = (get(v) for v in GPU.batch_norm_train(put(x), None, None, 0.0))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=EPS32)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2)), rtol=2 * EPS32)
    y, mean, var, inv_std = GPU.batch_norm_train(put(np.zeros((0, 3, 2), F32)), None, None, 1e-3)
    assert y.shape == (0, 3, 2) and np.isnan(get(mean)).all() and np.isnan(get(var)).all()
    _, dg, _ = GPU.batch_norm_backward(y, y, mean, inv_std, None)
    np.testing.assert_array_equal(get(dg), np.zeros(3, F32))


@needs_gpu
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("m,f", LN_SHAPES + [(5, 1000), (20000, 129)])
def test_layer_norm_matches_cpu_and_oracle(m, f, affine):
    rng = np.random.default_rng(m * 1000 + f)
    x = (rng.standard_normal((m, f)) * 3 + rng.standard_normal((m, 1)) * 5).astype(F32)
    gamma = rng.uniform(0.5, 2, f).astype(F32) if affine else None
    beta = rng.standard_normal(f).astype(F32) if affine else None
    y, mean, inv_std = (get(v) for v in GPU.layer_norm(put(x), put(gamma), put(beta), 1e-3))
    cy, cmean, cinv = CPU.layer_norm(x, gamma, beta, 1e-3)
    want_y, want_mean, want_is = layer_norm_ref(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(mean, cmean, rtol=2 * EPS32, atol=1e-9 * np.abs(x).max())
    np.testing.assert_allclose(inv_std, cinv, rtol=2 * EPS32)
    scale = np.abs(x - want_mean[:, None]).max() * want_is.max() * 2 + 3
    np.testing.assert_allclose(y, want_y, rtol=0, atol=16 * EPS32 * scale)
    np.testing.assert_allclose(y, cy, rtol=0, atol=16 * EPS32 * scale)

    dy = rng.standard_normal((m, f)).astype(F32)
    dx, dgamma, dbeta = (get(v) for v in GPU.layer_norm_backward(
        put(dy), put(x), put(cmean), put(cinv), put(gamma)))
    cdx, cdg, cdb = CPU.layer_norm_backward(dy, x, cmean, cinv, gamma)
    want_dx, want_dg, want_db = layer_norm_backward_ref(dy, x, gamma, 1e-3)
    g = 1.0 if gamma is None else np.abs(gamma).max()
    tol = 32 * EPS32 * np.sqrt(f) * g * cinv.max() * np.abs(dy).max()
    np.testing.assert_allclose(dx, want_dx, rtol=0, atol=tol)
    np.testing.assert_allclose(dx, cdx, rtol=0, atol=tol)
    sum_tol = 16 * EPS32 * np.abs(dy).sum(axis=0).max() * max(1.0, np.abs(x).max())
    for got, cpu, want in ((dgamma, cdg, want_dg), (dbeta, cdb, want_db)):
        np.testing.assert_allclose(got, want, rtol=0, atol=sum_tol)
        np.testing.assert_allclose(got, cpu, rtol=2 * EPS32, atol=1e-6 * sum_tol)


@needs_gpu
def test_normalization_is_bitwise_repeatable():
    for shape in [(40000, 64, 1), (16, 40, 4096), (512, 300, 8, 2)]:
        x, gamma, beta = (put(v) for v in bn_inputs(shape, True, 1))

        def bn():
            y, mean, var, inv_std = GPU.batch_norm_train(x, gamma, beta, 1e-3)
            return (y, mean, var, inv_std) + GPU.batch_norm_backward(y, x, mean, inv_std, gamma)
        repeat_equal(bn)
    rng = np.random.default_rng(3)
    xl, gl = put(rng.standard_normal((20000, 129)).astype(F32)), put(rng.standard_normal(129)
                                                                      .astype(F32))

    def ln():
        y, mean, inv_std = GPU.layer_norm(xl, gl, gl, 1e-3)
        return (y, mean, inv_std) + GPU.layer_norm_backward(y, xl, mean, inv_std, gl)
    repeat_equal(ln)


@needs_gpu
def test_normalization_argument_errors():
    x = put(np.ones((4, 3, 2), F32))
    with pytest.raises(ValueError, match=r"batch_norm_train: x of shape \(4, 6\) must be 3-D"):
        GPU.batch_norm_train(put(np.ones((4, 6), F32)), None, None, 1e-3)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        GPU.batch_norm_train(x, put(np.ones(2, F32)), None, 1e-3)
    with pytest.raises(ValueError, match=r"mean must have shape \(3,\)"):
        GPU.batch_norm_inference(x, put(np.ones(4, F32)), put(np.ones(3, F32)), None, None, 1e-3)
    with pytest.raises(ValueError, match=r"layer_norm_forward: x of shape \(4, 3, 2\) must be 2-D"):
        GPU.layer_norm(x, None, None, 1e-3)
