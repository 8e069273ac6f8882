"""The Philox4x32-10 random kernels: Random123's known answers, the NumPy oracle
(bitwise), the serial twins, thread counts and splits, distribution sanity, the
fused dropout, bad inputs, and the CUDA fills against the CPU ones.

The normal fill is compared bitwise with a float64 NumPy Box-Muller rounded once
to float32: libm and NumPy differ by at most an ulp or so of float64, which changes
the float32 result only on a last-bit tie (~1e-8 per element; none in these draws).
"""
import numpy as np
import pytest

from pykern import _cpu
from test_gemm import ISAS, not_in_a_capped_run, rerun_capped
from reference import (dropout_mask_ref, philox4x32_10_ref, random_normal_ref,
                       random_uniform_ref)

try:
    from pykern import _cuda
except ImportError:
    _cuda = None

# Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key, expected.
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), (0xffffffff, 0xffffffff),
     (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]

ODD = [0, 1, 3, 7, 31, 33, 1001]
# (seed, offset): a small seed; one with both key words set; a counter that wraps past 2**64.
STREAMS = [(0, 0), (1234, 5), (0x0123456789ABCDEF, 2**33 + 1), (2**64 - 1, 2**64 - 3)]
RATE = 0.3

# name -> (fast, serial twin, NumPy oracle), each f(n, seed, offset)
FILLS = {
    "uniform": (_cpu.random_uniform, _cpu.random_uniform_ref, random_uniform_ref),
    "normal": (_cpu.random_normal, _cpu.random_normal_ref, random_normal_ref),
    "dropout_mask": (lambda n, s, o: _cpu.dropout_mask(n, RATE, s, o),
                     lambda n, s, o: _cpu.dropout_mask_ref(n, RATE, s, o),
                     lambda n, s, o: dropout_mask_ref(n, RATE, s, o)),
}


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def assert_bitwise(got, want):
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(bits(got), bits(want))


@pytest.fixture
def restore_threads():
    n = _cpu.num_threads()
    yield
    _cpu.set_num_threads(n)


# ---- the block function ----------------------------------------------------

@pytest.mark.parametrize("counter,key,want", KAT)
def test_block_function_matches_random123_known_answers(counter, key, want):
    assert _cpu.philox_block(counter, key) == want
    assert tuple(int(v) for v in philox4x32_10_ref(counter, key)) == want


def test_block_function_matches_the_numpy_oracle_on_random_words():
    rng = np.random.default_rng(0)
    for _ in range(20):
        counter = tuple(int(v) for v in rng.integers(0, 2**32, 4))
        key = tuple(int(v) for v in rng.integers(0, 2**32, 2))
        assert _cpu.philox_block(counter, key) == tuple(int(v) for v in
                                                        philox4x32_10_ref(counter, key))


def test_stream_block_j_is_philox_of_offset_plus_j_keyed_by_seed():
    seed, offset = 0x0123456789ABCDEF, 2**32 - 1  # block 1 carries into the high counter word
    u = bits(_cpu.random_uniform(8, seed, offset))
    for j in range(2):
        c = offset + j
        block = _cpu.philox_block((c & 0xFFFFFFFF, c >> 32, 0, 0), (seed & 0xFFFFFFFF, seed >> 32))
        want = np.array([(w >> 8) for w in block], np.float64) * 2.0 ** -24
        np.testing.assert_array_equal(u[4 * j:4 * j + 4], bits(want.astype(np.float32)))


# ---- the fills against the oracle, the twins, threads and splits ------------

@pytest.mark.parametrize("name", FILLS)
@pytest.mark.parametrize("seed,offset", STREAMS)
def test_fill_matches_numpy_oracle_and_serial_twin_bitwise(name, seed, offset):
    fast, ref, oracle = FILLS[name]
    for n in ODD:
        want = oracle(n, seed, offset)
        assert_bitwise(fast(n, seed, offset), want)
        assert_bitwise(ref(n, seed, offset), want)



@pytest.mark.parametrize("name", FILLS)
def test_fill_runs_of_the_vector_philox_match_the_oracle_bitwise(name):
    """Draws long enough for many runs of the per-ISA vector kernel (256 blocks a run,
    16/8/4 blocks a vector), with a block counter that carries into its high word
    and wraps past 2^64 - 1 inside a run."""
    fast, _, oracle = FILLS[name]
    for offset in (2**32 - 37, 2**64 - 300):
        for n in (4 * 256 * 3 + 7, 1001):
            assert_bitwise(fast(n, 2**63 + 5, offset), oracle(n, 2**63 + 5, offset))


@not_in_a_capped_run
@pytest.mark.parametrize("isa", ISAS)
def test_every_capped_isa_path(isa):
    rerun_capped(isa, "test_random_kernels.py", "matches_numpy_oracle or vector_philox or "
                                                 "dropout_apply_is_x_times")

@pytest.mark.parametrize("name", FILLS)
def test_fill_is_bitwise_identical_for_1_and_2_threads(name, restore_threads):
    fast, ref, _ = FILLS[name]
    n = 400_003  # large enough for threads_for to use two threads
    results = []
    for threads in (1, 2, 2, 1):
        _cpu.set_num_threads(threads)
        results.append(fast(n, 99, 12345).tobytes())
    assert all(r == results[0] for r in results)
    assert ref(n, 99, 12345).tobytes() == results[0]


@pytest.mark.parametrize("name", FILLS)
def test_element_i_is_the_same_drawn_alone_or_in_any_split(name):
    fast, _, _ = FILLS[name]
    seed, offset, n = 7, 40, 1001
    whole = bits(fast(n, seed, offset))
    for i in (0, 1, 2, 3, 5, 6, 499, 998, 999, 1000):
        # lane i%4 of block offset + i//4, drawing only up to that lane
        alone = bits(fast(i % 4 + 1, seed, offset + i // 4))[-1]
        assert alone == whole[i], i
    for k in (4, 8, 500, 996):  # a draw split at a block boundary, offset advanced by k/4
        parts = np.concatenate([bits(fast(k, seed, offset)),
                                bits(fast(n - k, seed, offset + k // 4))])
        np.testing.assert_array_equal(parts, whole)


def test_draws_differ_across_seeds_offsets_and_distributions():
    a = _cpu.random_uniform(64, 1, 0)
    assert not np.array_equal(a, _cpu.random_uniform(64, 2, 0))
    assert not np.array_equal(a, _cpu.random_uniform(64, 1 + 2**32, 0))  # the key's high word
    assert not np.array_equal(a, _cpu.random_uniform(64, 1, 16))
    np.testing.assert_array_equal(a[4:], _cpu.random_uniform(60, 1, 1))  # offset counts blocks


# ---- distribution sanity ----------------------------------------------------

def test_uniform_lies_in_unit_interval_with_mean_one_half():
    u = _cpu.random_uniform(1_000_000, 2024, 0)
    assert u.min() >= 0.0 and u.max() < 1.0
    # mean of 1e6 U(0,1): standard error 0.2887/1000; the bound is ~7 of them
    assert abs(u.mean(dtype=np.float64) - 0.5) < 2e-3
    assert abs(u.var(dtype=np.float64) - 1 / 12) < 1e-3
    assert np.array_equal(u * 2**24, np.floor(u * 2**24))  # 24-bit grid


def test_normal_has_mean_zero_and_unit_std():
    z = _cpu.random_normal(1_000_000, 2024, 0).astype(np.float64)
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) < 5e-3 and abs(z.std() - 1.0) < 5e-3  # standard errors 1e-3, 7e-4
    assert abs(np.mean(np.abs(z) < 1.0) - 0.6827) < 3e-3


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_dropout_mask_keeps_about_one_minus_rate_scaled_by_its_inverse(rate):
    m = _cpu.dropout_mask(1_000_000, rate, 11, 0)
    scale = np.float32(1) / (np.float32(1) - np.float32(rate))
    assert set(np.unique(m)) <= {np.float32(0), scale}
    assert abs(np.mean(m != 0) - (1 - rate)) < 3e-3  # standard error <= 5e-4


# ---- fused dropout ----------------------------------------------------------

@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (3, 11), (2, 5, 33)])
def test_dropout_apply_is_x_times_the_mask_of_the_same_stream(shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    mask = dropout_mask_ref(x.size, 0.4, 5, 9).reshape(shape)
    for fn in (_cpu.dropout_apply, _cpu.dropout_apply_ref):
        y = fn(x, 0.4, 5, 9)
        assert_bitwise(y, x * mask)


def test_dropout_apply_threads_and_conversion(restore_threads):
    x = np.random.default_rng(2).standard_normal((500, 801))  # float64: converted once
    want = _cpu.dropout_apply_ref(x, 0.25, 3, 0)
    for threads in (1, 2):
        _cpu.set_num_threads(threads)
        assert_bitwise(_cpu.dropout_apply(x, 0.25, 3, 0), want)
        assert_bitwise(_cpu.dropout_apply(np.asfortranarray(x), 0.25, 3, 0), want)


def test_dropout_apply_propagates_nan_in_dropped_elements_like_x_times_zero():
    x = np.full(64, np.nan, np.float32)
    assert np.all(np.isnan(_cpu.dropout_apply(x, 0.5, 1, 0)))


# ---- bad inputs -------------------------------------------------------------

@pytest.mark.parametrize("op", ["random_uniform", "random_normal", "random_uniform_ref",
                                "random_normal_ref"])
def test_fills_reject_negative_n_and_out_of_range_seed_or_offset(op):
    f = getattr(_cpu, op)
    with pytest.raises(ValueError, match=rf"{op}: need n >= 0, got -1"):
        f(-1, 0, 0)
    for seed, offset in [(-1, 0), (2**64, 0), (0, -1), (0, 2**64)]:
        with pytest.raises(ValueError, match=rf"{op}: (seed|offset) must be in \[0, 2\*\*64\)"):
            f(4, seed, offset)
    with pytest.raises(TypeError, match=f"{op}: seed must be an int"):
        f(4, 1.5, 0)


@pytest.mark.parametrize("op", ["dropout_mask", "dropout_mask_ref"])
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, 1 - 1e-9, float("nan")])
def test_dropout_mask_rejects_rate_outside_0_1(op, rate):
    # 1 - 1e-9 rounds to 1.0 in float32, the precision the kernel uses
    with pytest.raises(ValueError, match=f"{op}: need 0 <= rate < 1"):
        getattr(_cpu, op)(8, rate, 0, 0)


@pytest.mark.parametrize("op", ["dropout_apply", "dropout_apply_ref"])
def test_dropout_apply_rejects_bad_rate_seed_and_input(op):
    x = np.ones(8, np.float32)
    with pytest.raises(ValueError, match=f"{op}: need 0 <= rate < 1"):
        getattr(_cpu, op)(x, 1.0, 0, 0)
    with pytest.raises(ValueError, match=rf"{op}: offset must be in \[0, 2\*\*64\)"):
        getattr(_cpu, op)(x, 0.5, 0, -3)
    with pytest.raises(TypeError, match=op):
        getattr(_cpu, op)(["a", "b"], 0.5, 0, 0)


def test_philox_block_rejects_wrong_lengths_and_words_past_32_bits():
    with pytest.raises(ValueError, match="philox_block: need 4 counter words and 2 key words"):
        _cpu.philox_block((0, 0, 0), (0, 0))
    with pytest.raises(ValueError, match=r"philox_block: counter word must be in \[0, 2\*\*32\)"):
        _cpu.philox_block((0, 0, 2**32, 0), (0, 0))
    with pytest.raises(ValueError, match=r"philox_block: key word must be in \[0, 2\*\*32\)"):
        _cpu.philox_block((0, 0, 0, 0), (-1, 0))


# ---- CUDA -------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(_cuda is None or _cuda.device_count() == 0,
                               reason="pykern._cuda is not built or no CUDA device is visible")


@pytest.mark.skipif(_cuda is None, reason="pykern._cuda is not built")
def test_cuda_fills_check_arguments_before_touching_the_device():
    with pytest.raises(ValueError, match=r"random_uniform \(cuda\): need n >= 0"):
        _cuda.random_uniform(-1, 0, 0)
    with pytest.raises(ValueError, match=r"dropout_mask \(cuda\): need 0 <= rate < 1"):
        _cuda.dropout_mask(4, 1.0, 0, 0)


@pytest.mark.cuda
@needs_gpu
@pytest.mark.parametrize("seed,offset", STREAMS)
def test_cuda_fills_match_the_cpu_fills(seed, offset):
    for n in ODD + [1_000_003]:
        # uniform and dropout are integer arithmetic plus exact conversions: bitwise
        assert_bitwise(_cuda.random_uniform(n, seed, offset), _cpu.random_uniform(n, seed, offset))
        assert_bitwise(_cuda.dropout_mask(n, RATE, seed, offset),
                       _cpu.dropout_mask(n, RATE, seed, offset))
        # normal: CUDA's and glibc's float64 log/cos/sin may differ by an ulp of float64,
        # which flips the float32 rounding only on a tie: allow one float32 ulp
        np.testing.assert_array_max_ulp(_cuda.random_normal(n, seed, offset),
                                        _cpu.random_normal(n, seed, offset), maxulp=1)
