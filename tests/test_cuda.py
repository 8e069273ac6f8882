"""pykern._cuda: import and argument checks anywhere it is built; the GEMM
kernel against pykern._cpu.sgemm and the NumPy oracle where a GPU is visible."""
import itertools

import numpy as np
import pytest

from reference import assert_gemm_matches, gemm_operands

try:
    from pykern import _cuda
except ImportError:
    _cuda = None

from pykern import _cpu

needs_module = pytest.mark.skipif(_cuda is None, reason="pykern._cuda is not built")
needs_gpu = pytest.mark.skipif(_cuda is None or _cuda.device_count() == 0,
                               reason="pykern._cuda is not built or no CUDA device is visible")

SIZES = (1, 7, 31, 33, 127, 129)
TRANSPOSES = list(itertools.product((False, True), repeat=2))


operands = gemm_operands


def assert_matches_oracle_and_cpu(got, a, b, c0=None, **kw):
    """got (from _cuda) is within the float32 error bound of the float64 oracle,
    and within twice it of pykern._cpu.sgemm (both may err by the bound)."""
    bound = assert_gemm_matches(got, a, b, c0, **kw)
    cpu = _cpu.sgemm(a, b, None if c0 is None else c0.copy(), **kw)
    assert np.all(np.abs(got.astype(np.float64) - cpu) <= 2 * bound), "differs from _cpu.sgemm"


# ---- without a GPU ---------------------------------------------------------

@needs_module
def test_device_count_agrees_with_the_device_list():
    n = _cuda.device_count()
    assert isinstance(n, int) and n >= 0
    from pykern import config
    assert config.list_devices() == ["cpu"] + [f"cuda:{i}" for i in range(n)]
    assert config.cuda_available() == (n > 0)


@needs_module
def test_device_info_rejects_an_index_past_the_last_device():
    with pytest.raises(ValueError, match="out of range"):
        _cuda.device_info(_cuda.device_count())
    with pytest.raises(ValueError, match="out of range"):
        _cuda.device_info(-1)


@needs_module
@pytest.mark.skipif(_cuda is not None and _cuda.device_count() > 0, reason="a GPU is visible")
def test_sgemm_without_a_device_raises_runtime_error():
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _cuda.sgemm(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))


@needs_module
def test_mismatched_inner_dimensions_raise_value_error_naming_the_shapes():
    a, b = np.ones((5, 3), np.float32), np.ones((4, 6), np.float32)
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 6\)"):
        _cuda.sgemm(a, b)
    with pytest.raises(ValueError, match="inner dimensions"):
        _cuda.sgemm(a, b, trans_a=True, trans_b=True)


@needs_module
def test_bad_c_bias_and_activation_raise_value_error():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"c must have shape \(2, 4\)"):
        _cuda.sgemm(a, b, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        _cuda.sgemm(a, b, bias=np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        _cuda.sgemm(a, b, activation="gelu")
    with pytest.raises(ValueError, match="beta != 0"):
        _cuda.sgemm(a, b, beta=1.0)
    with pytest.raises(ValueError, match="2-D"):
        _cuda.sgemm(np.ones(3, np.float32), b)


@needs_module
def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError):
        _cuda.sgemm(np.array([["x"]]), np.ones((1, 1), np.float32))
    with pytest.raises(TypeError):
        _cuda.sgemm(np.ones((1, 1), np.float32), np.ones((1, 1), np.float32),
                    np.zeros((1, 1), np.float64))


# ---- on a GPU ----------------------------------------------------------------

@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_matches_cpu_and_oracle_over_odd_shapes(trans_a, trans_b):
    for m, n, k in itertools.product(SIZES, repeat=3):
        a, b = operands(m, n, k, trans_a, trans_b, seed=m * 10007 + n * 101 + k)
        got = _cuda.sgemm(a, b, trans_a=trans_a, trans_b=trans_b)
        assert got.shape == (m, n) and got.dtype == np.float32
        assert_matches_oracle_and_cpu(got, a, b, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m,n,k", [(128, 128, 16), (256, 128, 64), (64, 256, 48), (4, 4, 4),
                                   (300, 520, 1000)])
def test_matches_oracle_on_aligned_shapes_that_take_the_float4_paths(m, n, k, trans_a, trans_b):
    a, b = operands(m, n, k, trans_a, trans_b, seed=k)
    got = _cuda.sgemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_matches_oracle_and_cpu(got, a, b, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("activation", ["none", "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("m,n,k", [(33, 129, 31), (129, 64, 127), (1, 7, 1)])
def test_alpha_beta_bias_and_activation_match_cpu(m, n, k, trans_a, trans_b, activation):
    a, b = operands(m, n, k, trans_a, trans_b, seed=1)
    rng = np.random.default_rng(2)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    kw = dict(trans_a=trans_a, trans_b=trans_b, alpha=-1.5, beta=0.75, bias=bias,
              activation=activation)
    c = c0.copy()
    assert _cuda.sgemm(a, b, c, **kw) is c
    assert_matches_oracle_and_cpu(c, a, b, c0, **kw)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("m,n,k", [(7, 33, 129), (129, 4, 8)])
def test_beta_zero_never_reads_c(m, n, k):
    a, b = operands(m, n, k, False, False)
    c = np.full((m, n), np.nan, np.float32)
    _cuda.sgemm(a, b, c, alpha=2.0, beta=0.0, activation="tanh")
    assert np.isfinite(c).all()
    assert_matches_oracle_and_cpu(c, a, b, alpha=2.0, activation="tanh")


@pytest.mark.cuda
@needs_gpu
def test_k_zero_gives_activation_of_beta_c_plus_bias():
    a, b = np.zeros((5, 0), np.float32), np.zeros((0, 6), np.float32)
    c0 = np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 6)
    bias = np.arange(6, dtype=np.float32) - 3
    c = c0.copy()
    _cuda.sgemm(a, b, c, beta=0.5, bias=bias, activation="relu")
    np.testing.assert_allclose(c, np.maximum(0.5 * c0 + bias, 0), rtol=1e-6)


@pytest.mark.cuda
@needs_gpu
def test_empty_product_returns_an_empty_array():
    assert _cuda.sgemm(np.zeros((0, 3), np.float32), np.zeros((3, 5), np.float32)).shape == (0, 5)


@pytest.mark.cuda
@needs_gpu
def test_strided_views_and_other_dtypes_are_accepted():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((40, 50)).astype(np.float32)[:33, :31]  # rows 50 apart: pitched copy
    b = rng.standard_normal((31, 17))  # float64: converted once
    big_c = np.full((33, 24), 7.0, np.float32)
    c = big_c[:, :17]  # rows 24 apart: written back with a pitched copy
    _cuda.sgemm(a, b, c)
    assert_matches_oracle_and_cpu(c, a, b)
    assert (big_c[:, 17:] == 7.0).all()
    f = np.asfortranarray(rng.standard_normal((9, 5)).astype(np.float32))
    assert_matches_oracle_and_cpu(_cuda.sgemm(f, f, trans_a=True), f, f, trans_a=True)


@pytest.mark.cuda
@needs_gpu
def test_repeated_calls_are_bitwise_identical():
    a, b = operands(257, 130, 300, False, True)
    first = _cuda.sgemm(a, b, trans_b=True)
    for _ in range(3):
        np.testing.assert_array_equal(_cuda.sgemm(a, b, trans_b=True), first)


@pytest.mark.cuda
@needs_gpu
def test_device_info_describes_device_zero():
    info = _cuda.device_info(0)
    assert isinstance(info["name"], str) and info["name"]
    assert len(info["compute_capability"]) == 2 and info["compute_capability"][0] >= 1
    assert info["total_memory_bytes"] > 0 and info["multiprocessors"] > 0


@pytest.mark.cuda
@needs_gpu
def test_allocator_reuses_freed_blocks():
    a, b = operands(64, 64, 64, False, False)
    _cuda.sgemm(a, b)
    held = _cuda.cached_bytes()
    assert held > 0
    _cuda.sgemm(a, b)
    assert _cuda.cached_bytes() == held
    _cuda.empty_cache()
    assert _cuda.cached_bytes() == 0
