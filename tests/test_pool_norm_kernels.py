"""Native pooling and normalization kernels against NumPy oracles and their scalar twins.

Pooling has per-ISA cell kernels (cpu/kernels/<isa>/pool_*.cpp): the pooling tests run again
under each lower PYKERN_MAX_ISA. Normalization is plain code for the baseline ISA.
"""
import itertools

import numpy as np
import pytest

from pykern import _cpu, config
from test_gemm import ISAS, not_in_a_capped_run, rerun_capped
from reference import (avg_pool_backward_ref, avg_pool_ref, batch_norm_backward_ref,
                       batch_norm_ref, layer_norm_backward_ref, layer_norm_ref,
                       max_pool_backward_ref, max_pool_ref, numeric_gradients, same_pads)

EPS32 = float(np.finfo(np.float32).eps)
SIZES = [1, 3, 7, 31, 33]
# spatial shapes per rank: every odd size appears, the 3-D ones stay small
SPATIAL = {1: [(s,) for s in SIZES],
           2: [(1, 3), (7, 31), (33, 7), (3, 33)],
           3: [(1, 3, 7), (7, 3, 1), (3, 7, 3), (5, 9, 11)]}


@pytest.fixture
def restore_threads():
    n = config.num_threads()
    yield
    config.set_num_threads(n)


def pool_args(spatial, pool, stride, padding):
    s = len(spatial)
    pools, strides = (pool,) * s, (stride,) * s
    if padding == "valid":
        return pools, strides, (0,) * s, (0,) * s
    pads = [same_pads(n, pool, stride) for n in spatial]
    return pools, strides, tuple(p[0] for p in pads), tuple(p[1] for p in pads)


def pool_cases(rank, pool, stride, padding):
    """(x, pool, strides, pad_begin, pad_end) for every spatial shape a valid window fits."""
    rng = np.random.default_rng(100 * rank + 10 * pool + stride)
    for i, spatial in enumerate(SPATIAL[rank]):
        if padding == "valid" and min(spatial) < pool:
            continue
        c = [1, 3, 33, 70][i % 4]  # 70 crosses the kernels' 64-channel chunks
        x = rng.standard_normal((2, *spatial, c)).astype(np.float32)
        yield (x, *pool_args(spatial, pool, stride, padding))


def sum_bound(x, terms):
    """Absolute error of a float32 sum of `terms` values of x's magnitude, with margin."""
    return 2.0 * terms * EPS32 * float(np.abs(x).max(initial=0.0)) + 1e-30


GRID = list(itertools.product([1, 2, 3], [1, 2, 3], [1, 2, 3], ["valid", "same"]))


@pytest.mark.parametrize("rank,pool,stride,padding", GRID)
def test_max_pool_matches_oracle_and_twin(rank, pool, stride, padding):
    for x, *args in pool_cases(rank, pool, stride, padding):
        y, argmax = _cpu.max_pool_forward(x, *args)
        want_y, want_idx = max_pool_ref(x, *args)
        assert y.dtype == np.float32 and argmax.dtype == np.int32
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(argmax, want_idx)
        ref_y, ref_idx = _cpu.max_pool_forward_ref(x, *args)
        np.testing.assert_array_equal(ref_y, y)
        np.testing.assert_array_equal(ref_idx, argmax)

        dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        dx = _cpu.max_pool_backward(dy, argmax, x.shape)
        want = max_pool_backward_ref(dy, argmax, x.shape)
        # a cell that wins several overlapping windows sums their dy in float32
        windows = int(np.ceil(pool / stride)) ** rank
        np.testing.assert_allclose(dx, want, rtol=0, atol=sum_bound(dy, windows))
        np.testing.assert_allclose(_cpu.max_pool_backward_ref(dy, argmax, x.shape), want,
                                   rtol=EPS32, atol=0)


@pytest.mark.parametrize("rank,pool,stride,padding", GRID)
def test_avg_pool_matches_oracle_and_twin(rank, pool, stride, padding):
    for x, *args in pool_cases(rank, pool, stride, padding):
        y = _cpu.avg_pool_forward(x, *args)
        want = avg_pool_ref(x, *args)
        assert y.shape == want.shape and y.dtype == np.float32
        np.testing.assert_allclose(y, want, rtol=0, atol=sum_bound(x, pool ** rank))
        np.testing.assert_allclose(_cpu.avg_pool_forward_ref(x, *args), want, rtol=EPS32, atol=0)

        dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
        dx = _cpu.avg_pool_backward(dy, x.shape, *args)
        want_dx = avg_pool_backward_ref(dy, x.shape, *args)
        np.testing.assert_allclose(dx, want_dx, rtol=0, atol=sum_bound(dy, pool ** rank))
        np.testing.assert_allclose(_cpu.avg_pool_backward_ref(dy, x.shape, *args), want_dx,
                                   rtol=EPS32, atol=1e-30)


def test_avg_pool_gradient_is_the_adjoint_of_the_forward():
    # <avg(x), dy> == <x, avg_backward(dy)> for a linear map; exact up to float32 sums
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 10, 9, 5)).astype(np.float32)
    args = ((3, 2), (2, 2), (1, 0), (1, 1))
    dy = rng.standard_normal(_cpu.avg_pool_forward(x, *args).shape).astype(np.float32)
    lhs = np.vdot(_cpu.avg_pool_forward(x, *args).astype(np.float64), dy)
    rhs = np.vdot(x.astype(np.float64), _cpu.avg_pool_backward(dy, x.shape, *args))
    assert abs(lhs - rhs) <= 1e-5 * np.abs(dy).sum()


def test_max_pool_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 5 * 4 * 3).reshape(2, 5, 4, 3).astype(np.float32)  # no ties
    args = ((2, 3), (2, 1), (0, 1), (1, 1))
    y, argmax = _cpu.max_pool_forward(x, *args)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    def loss(v):
        return np.vdot(_cpu.max_pool_forward(v, *args)[0].astype(np.float64), dy)

    # integer inputs 1 apart and a step of 0.25: the differences are exact
    (num,) = numeric_gradients(loss, [x], eps=0.25)
    np.testing.assert_allclose(_cpu.max_pool_backward(dy, argmax, x.shape), num, rtol=1e-6)


def test_mixed_pool_sizes_strides_and_pads_per_dim():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 9, 8, 4)).astype(np.float32)
    args = ((3, 1, 2), (1, 3, 2), (2, 0, 1), (0, 0, 1))
    y, argmax = _cpu.max_pool_forward(x, *args)
    want_y, want_idx = max_pool_ref(x, *args)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(argmax, want_idx)
    np.testing.assert_allclose(_cpu.avg_pool_forward(x, *args), avg_pool_ref(x, *args),
                               rtol=0, atol=sum_bound(x, 6))


def test_same_padding_puts_extra_cell_at_the_end_and_averages_real_cells():
    # Keras: AveragePooling1D(2, 2, 'same') on [1..5] -> [1.5, 3.5, 5.0]
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    pb, pe = same_pads(5, 2, 2)
    assert (pb, pe) == (0, 1)
    np.testing.assert_array_equal(_cpu.avg_pool_forward(x, (2,), (2,), (pb,), (pe,)).ravel(),
                                  [1.5, 3.5, 5.0])
    y, argmax = _cpu.max_pool_forward(-x, (2,), (2,), (pb,), (pe,))
    np.testing.assert_array_equal(y.ravel(), [-1, -3, -5])  # padding never wins, even over -5
    np.testing.assert_array_equal(argmax.ravel(), [0, 2, 4])


def test_max_pool_ties_route_to_the_first_cell_and_nan_wins():
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, 1, 1, 1] = np.nan
    y, argmax = _cpu.max_pool_forward(x, (2, 2), (2, 2), (0, 0), (0, 0))
    # channel 0: all zero, the window's first cell wins; channel 1: the NaN wins its window
    np.testing.assert_array_equal(argmax[..., 0].ravel(), [0, 4, 16, 20])
    assert np.isnan(y[0, 0, 0, 1]) and argmax[0, 0, 0, 1] == (1 * 4 + 1) * 2 + 1
    np.testing.assert_array_equal(argmax, _cpu.max_pool_forward_ref(x, (2, 2), (2, 2),
                                                                     (0, 0), (0, 0))[1])
    dx = _cpu.max_pool_backward(np.ones_like(y), argmax, x.shape)
    assert dx.sum() == y.size and dx[0, 0, 0, 0] == 1 and dx[0, 1, 1, 1] == 1


def test_max_pool_backward_takes_int64_argmax():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 7, 7, 3)).astype(np.float32)
    args = ((3, 3), (2, 2), (1, 1), (1, 1))
    y, argmax = _cpu.max_pool_forward(x, *args)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_array_equal(_cpu.max_pool_backward(dy, argmax.astype(np.int64), x.shape),
                                  _cpu.max_pool_backward(dy, argmax, x.shape))


def test_int64_argmax_on_request_matches_int32():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 9, 8, 70)).astype(np.float32)
    args = ((3, 2), (2, 2), (1, 0), (1, 0))
    y32, a32 = _cpu.max_pool_forward(x, *args)
    for fn in (_cpu.max_pool_forward, _cpu.max_pool_forward_ref):
        y64, a64 = fn(x, *args, argmax_dtype=np.int64)
        assert a64.dtype == np.int64
        np.testing.assert_array_equal(y64, y32)
        np.testing.assert_array_equal(a64, a32)
    assert _cpu.max_pool_forward(x, *args, argmax_dtype="int32")[1].dtype == np.int32
    with pytest.raises(ValueError, match="max_pool_forward: argmax_dtype must be int32, int64 or "
                                         "None, got int16"):
        _cpu.max_pool_forward(x, *args, argmax_dtype=np.int16)


@pytest.mark.parametrize("c", [1, 5, 16, 67, 150])
def test_pool_channels_do_not_depend_on_their_vector_block(c):
    # the cell kernels take channels in register blocks, then single vectors, then scalars:
    # identical data in every channel must give identical results in every channel
    rng = np.random.default_rng(c)
    x = np.repeat(rng.standard_normal((2, 7, 6, 1)).astype(np.float32), c, axis=-1)
    args = ((3, 3), (2, 1), (1, 1), (1, 1))
    y, argmax = _cpu.max_pool_forward(x, *args)
    a = _cpu.avg_pool_forward(x, *args)
    dx = _cpu.avg_pool_backward(a, x.shape, *args)
    for out in (y, a, dx):
        assert (out == out[..., :1]).all()
    assert (argmax - np.arange(c) == argmax[..., :1]).all()


@pytest.mark.parametrize("shape", [(0, 5, 3), (2, 5, 0), (0, 4, 4, 0)])
def test_pooling_empty_batch_or_channels(shape):
    x = np.zeros(shape, np.float32)
    s = len(shape) - 2
    args = ((2,) * s, (2,) * s, (0,) * s, (1,) * s)
    y, argmax = _cpu.max_pool_forward(x, *args)
    assert y.shape == (shape[0], *([3] * s if s == 1 else [2, 2]), shape[-1])
    assert _cpu.max_pool_backward(y, argmax, shape).shape == shape
    assert _cpu.avg_pool_backward(_cpu.avg_pool_forward(x, *args), shape, *args).shape == shape


@not_in_a_capped_run
@pytest.mark.parametrize("isa", ISAS)
def test_every_capped_isa_path_of_the_pooling_kernels(isa):
    rerun_capped(isa, "test_pool_norm_kernels.py", "pool and not Bad and not Keras")


# --- normalization -------------------------------------------------------------------------------
def bn_inputs(shape, affine, seed):
    rng = np.random.default_rng(seed)
    c = shape[-2]
    x = (rng.standard_normal(shape) * 2 + rng.standard_normal((c, 1)) * 3).astype(np.float32)
    gamma = rng.uniform(0.5, 2, c).astype(np.float32) if affine else None
    beta = rng.standard_normal(c).astype(np.float32) if affine else None
    return x, gamma, beta


def as4(x):
    return x if x.ndim == 4 else x[None]


BN_SHAPES = [(a, c, b) for a in SIZES for c, b in [(1, 1), (3, 7), (33, 1), (7, 31), (3, 33)]]
BN_SHAPES += [(3, 7, 5, 3), (2, 31, 4, 33), (5, 1, 3, 1)]  # (P, A, C, B): GroupNorm's view


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_train_matches_oracle_and_twin(shape, affine):
    x, gamma, beta = bn_inputs(shape, affine, sum(shape))
    y, mean, var, inv_std = _cpu.batch_norm_train(x, gamma, beta, 1e-3)
    want_y, want_mean, want_var, want_is = batch_norm_ref(as4(x), gamma, beta, 1e-3)
    stat = want_mean.shape if x.ndim == 4 else want_mean.shape[1:]
    assert y.shape == x.shape and mean.shape == var.shape == inv_std.shape == stat
    # statistics: double sums, one rounding to float32
    np.testing.assert_allclose(mean, want_mean.reshape(stat), rtol=EPS32,
                               atol=1e-9 * np.abs(x).max(initial=0.0))
    np.testing.assert_allclose(var, want_var.reshape(stat), rtol=2 * EPS32)
    np.testing.assert_allclose(inv_std, want_is.reshape(stat), rtol=2 * EPS32)
    # y: a few roundings of values of size |x - mean| * |gamma * inv_std| + |beta|
    scale = np.abs(as4(x) - want_mean[:, None, :, None]).max() * np.abs(want_is).max() * 2 + 3
    np.testing.assert_allclose(as4(y), want_y, rtol=0, atol=8 * EPS32 * scale)
    ref = _cpu.batch_norm_train_ref(x, gamma, beta, 1e-3)
    for got, r in zip((y, mean, var, inv_std), ref):
        np.testing.assert_allclose(got, r, rtol=2 * EPS32, atol=8 * EPS32 * scale)


@pytest.mark.parametrize("shape", [(7, 3, 1), (33, 5, 31), (3, 7, 2, 5)])
def test_batch_norm_inference_uses_given_statistics(shape):
    x, gamma, beta = bn_inputs(shape, True, 7)
    rng = np.random.default_rng(8)
    stat = (shape[-2],) if len(shape) == 3 else (shape[0], shape[2])
    mean = rng.standard_normal(stat).astype(np.float32)
    var = rng.uniform(0.1, 3, stat).astype(np.float32)
    y = _cpu.batch_norm_inference(x, mean, var, gamma, beta, 1e-3)
    m4 = mean.reshape(-1, 1, shape[-2], 1)
    v4 = var.reshape(-1, 1, shape[-2], 1).astype(np.float64)
    want = (as4(x) - m4) * (gamma[:, None] / np.sqrt(v4 + 1e-3)) + beta[:, None]
    np.testing.assert_allclose(as4(y), want, rtol=0, atol=1e-5 * np.abs(want).max())
    np.testing.assert_allclose(y, _cpu.batch_norm_inference_ref(x, mean, var, gamma, beta, 1e-3),
                               rtol=0, atol=1e-5 * np.abs(want).max())
    np.testing.assert_array_equal(_cpu.batch_norm_inference(x, mean, var, None, None, 1e-3),
                                  _cpu.batch_norm_inference(x, mean, var, np.ones_like(gamma),
                                                            np.zeros_like(beta), 1e-3))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_backward_matches_formula_and_twin(shape, affine):
    x, gamma, _ = bn_inputs(shape, affine, sum(shape) + 1)
    _, mean, _, inv_std = _cpu.batch_norm_train(x, gamma, None, 1e-3)
    dy = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    dx, dgamma, dbeta = _cpu.batch_norm_backward(dy, x, mean, inv_std, gamma)
    want_dx, want_dg, want_db = batch_norm_backward_ref(as4(dy), as4(x), gamma, 1e-3)
    n = shape[-3] * shape[-1]
    # dx is O(|gamma| inv_std |dy|); its three terms cancel to about n ulps of that
    g = 1.0 if gamma is None else np.abs(gamma).max()
    tol = 16 * EPS32 * np.sqrt(n) * g * np.abs(inv_std).max() * np.abs(dy).max()
    np.testing.assert_allclose(as4(dx), want_dx, rtol=0, atol=tol)
    sum_tol = 4 * EPS32 * np.abs(as4(dy)).sum(axis=(0, 1, 3)).max() * 4
    np.testing.assert_allclose(dgamma, want_dg, rtol=0, atol=sum_tol)
    np.testing.assert_allclose(dbeta, want_db, rtol=0, atol=sum_tol)
    for got, r in zip((dx, dgamma, dbeta), _cpu.batch_norm_backward_ref(dy, x, mean, inv_std,
                                                                        gamma)):
        np.testing.assert_allclose(got, r, rtol=0, atol=max(tol, sum_tol))


def test_batch_norm_gradients_match_finite_differences():
    x, gamma, beta = bn_inputs((5, 3, 4), True, 10)
    dy = np.random.default_rng(11).standard_normal(x.shape).astype(np.float32)

    def loss(x, gamma, beta):
        return np.vdot(_cpu.batch_norm_train(x, gamma, beta, 1e-3)[0].astype(np.float64), dy)

    num = numeric_gradients(loss, [x, gamma, beta], eps=1e-2)
    _, mean, _, inv_std = _cpu.batch_norm_train(x, gamma, beta, 1e-3)
    for got, want in zip(_cpu.batch_norm_backward(dy, x, mean, inv_std, gamma), num):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


def test_batch_norm_variance_is_stable_far_from_zero():
    # E[x^2] - E[x]^2 in float32 would lose every digit here; two passes in double keep them
    rng = np.random.default_rng(12)
    x = (1e4 + rng.standard_normal((4096, 3, 1)) * 1e-2).astype(np.float32)
    _, mean, var, _ = _cpu.batch_norm_train(x, None, None, 0.0)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=EPS32)
    np.testing.assert_allclose(var, x64.var(axis=(0, 2)), rtol=2 * EPS32)


def test_batch_norm_with_no_values_gives_nan_statistics():
    y, mean, var, inv_std = _cpu.batch_norm_train(np.zeros((0, 3, 2), np.float32), None, None,
                                                  1e-3)
    assert y.shape == (0, 3, 2) and np.isnan(mean).all() and np.isnan(var).all()


LN_SHAPES = [(m, f) for m in (1, 3, 33) for f in SIZES + [129]]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("m,f", LN_SHAPES)
def test_layer_norm_matches_oracle_and_twin(m, f, affine):
    rng = np.random.default_rng(m * 1000 + f)
    x = (rng.standard_normal((m, f)) * 3 + rng.standard_normal((m, 1)) * 5).astype(np.float32)
    gamma = rng.uniform(0.5, 2, f).astype(np.float32) if affine else None
    beta = rng.standard_normal(f).astype(np.float32) if affine else None
    y, mean, inv_std = _cpu.layer_norm_forward(x, gamma, beta, 1e-3)
    want_y, want_mean, want_is = layer_norm_ref(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(mean, want_mean, rtol=EPS32, atol=1e-9 * np.abs(x).max())
    np.testing.assert_allclose(inv_std, want_is, rtol=2 * EPS32)
    scale = np.abs(x - want_mean[:, None]).max() * want_is.max() * 2 + 3
    np.testing.assert_allclose(y, want_y, rtol=0, atol=8 * EPS32 * scale)
    for got, r in zip((y, mean, inv_std), _cpu.layer_norm_forward_ref(x, gamma, beta, 1e-3)):
        np.testing.assert_allclose(got, r, rtol=2 * EPS32, atol=8 * EPS32 * scale)

    dy = rng.standard_normal((m, f)).astype(np.float32)
    dx, dgamma, dbeta = _cpu.layer_norm_backward(dy, x, mean, inv_std, gamma)
    want_dx, want_dg, want_db = layer_norm_backward_ref(dy, x, gamma, 1e-3)
    g = 1.0 if gamma is None else np.abs(gamma).max()
    tol = 16 * EPS32 * np.sqrt(f) * g * inv_std.max() * np.abs(dy).max()
    np.testing.assert_allclose(dx, want_dx, rtol=0, atol=tol)
    sum_tol = 16 * EPS32 * np.abs(dy).sum(axis=0).max() * max(1.0, np.abs(x).max())
    np.testing.assert_allclose(dgamma, want_dg, rtol=0, atol=sum_tol)
    np.testing.assert_allclose(dbeta, want_db, rtol=0, atol=sum_tol)
    for got, r in zip((dx, dgamma, dbeta),
                      _cpu.layer_norm_backward_ref(dy, x, mean, inv_std, gamma)):
        np.testing.assert_allclose(got, r, rtol=0, atol=max(tol, sum_tol))


def test_layer_norm_gradients_match_finite_differences():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 6)).astype(np.float32)
    gamma = rng.uniform(0.5, 2, 6).astype(np.float32)
    beta = rng.standard_normal(6).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)

    def loss(x, gamma, beta):
        return np.vdot(_cpu.layer_norm_forward(x, gamma, beta, 1e-3)[0].astype(np.float64), dy)

    num = numeric_gradients(loss, [x, gamma, beta], eps=1e-2)
    _, mean, inv_std = _cpu.layer_norm_forward(x, gamma, beta, 1e-3)
    for got, want in zip(_cpu.layer_norm_backward(dy, x, mean, inv_std, gamma), num):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)


# --- determinism ---------------------------------------------------------------------------------
def run_all_kernels(seed):
    """Outputs of every kernel on shapes big enough for two threads, as bytes."""
    rng = np.random.default_rng(seed)
    out = []
    x = rng.standard_normal((8, 64, 64, 32)).astype(np.float32)
    args = ((3, 3), (2, 2), (0, 0), (1, 1))
    y, argmax = _cpu.max_pool_forward(x, *args)
    out += [y, argmax, _cpu.max_pool_backward(y, argmax, x.shape)]
    a = _cpu.avg_pool_forward(x, *args)
    out += [a, _cpu.avg_pool_backward(a, x.shape, *args)]
    for shape in [(40000, 64, 1), (16, 40, 4096), (512, 300, 8, 2)]:
        xb, gamma, beta = bn_inputs(shape, True, 1)
        res = _cpu.batch_norm_train(xb, gamma, beta, 1e-3)
        out += list(res) + list(_cpu.batch_norm_backward(res[0], xb, res[1], res[3], gamma))
    xl = rng.standard_normal((20000, 129)).astype(np.float32)
    gl = rng.standard_normal(129).astype(np.float32)
    y, mean, inv_std = _cpu.layer_norm_forward(xl, gl, gl, 1e-3)
    out += [y, mean, inv_std, *_cpu.layer_norm_backward(y, xl, mean, inv_std, gl)]
    return [o.tobytes() for o in out]


def test_bitwise_identical_for_one_and_two_threads(restore_threads):
    results = []
    for threads in (1, 2, 1):
        config.set_num_threads(threads)
        results.append(run_all_kernels(0))
    assert results[0] == results[1] == results[2]


# --- bad inputs ----------------------------------------------------------------------------------
X4 = np.zeros((2, 5, 5, 3), np.float32)
P2 = ((2, 2), (2, 2), (0, 0), (0, 0))


class TestBadPoolingInputsRaise:
    @pytest.mark.parametrize("op", ["max_pool_forward", "avg_pool_forward"])
    def test_window_larger_than_padded_input(self, op):
        with pytest.raises(ValueError, match=rf"{op}: the window is larger than the padded input "
                                             r"\(x of shape \(2, 5, 5, 3\), pool \(6, 2\)"):
            getattr(_cpu, op)(X4, (6, 2), (1, 1), (0, 0), (0, 0))

    def test_wrong_rank_and_argument_lengths(self):
        with pytest.raises(ValueError, match=r"max_pool_forward: x of shape \(5, 3\) must have "
                                             "rank 3, 4 or 5"):
            _cpu.max_pool_forward(np.zeros((5, 3), np.float32), (2,), (2,), (0,), (0,))
        with pytest.raises(ValueError, match=r"avg_pool_forward: strides \(2,\) must have 2 "
                                             r"entries.*\(2, 5, 5, 3\)"):
            _cpu.avg_pool_forward(X4, (2, 2), (2,), (0, 0), (0, 0))
        with pytest.raises(ValueError, match="pool must be a sequence of ints"):
            _cpu.max_pool_forward(X4, "ab", (2, 2), (0, 0), (0, 0))

    @pytest.mark.parametrize("args,what", [
        (((2, 2), (0, 2), (0, 0), (0, 0)), "strides must be >= 1"),
        (((0, 2), (1, 2), (0, 0), (0, 0)), "pool sizes must be >= 1"),
        (((2, 2), (1, 1), (-1, 0), (0, 0)), "padding must be >= 0"),
        (((2, 2), (1, 1), (0, 0), (2, 0)), "padding must be smaller than the pool size")])
    def test_bad_geometry(self, args, what):
        with pytest.raises(ValueError, match=f"max_pool_forward: {what}"):
            _cpu.max_pool_forward(X4, *args)
        with pytest.raises(ValueError, match=f"avg_pool_backward: {what}"):
            _cpu.avg_pool_backward(np.zeros((2, 2, 2, 3), np.float32), X4.shape, *args)

    def test_wrong_dtype_and_layout(self):
        with pytest.raises(ValueError, match=r"max_pool_forward: x of shape \(2, 5, 5, 3\) must "
                                             "be float32, got float64"):
            _cpu.max_pool_forward(X4.astype(np.float64), *P2)
        with pytest.raises(ValueError, match=r"avg_pool_forward: x of shape \(2, 5, 5, 3\) must "
                                             "be C-contiguous"):
            _cpu.avg_pool_forward(np.zeros((2, 5, 10, 3), np.float32)[:, :, ::2], *P2)
        with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
            _cpu.avg_pool_forward(X4.tolist(), *P2)

    def test_dy_that_does_not_match_the_forward(self):
        with pytest.raises(ValueError, match=r"avg_pool_backward: dy of shape \(2, 3, 2, 3\) "
                                             r"does not match the forward output \(2, 2, 2, 3\)"):
            _cpu.avg_pool_backward(np.zeros((2, 3, 2, 3), np.float32), X4.shape, *P2)
        y, argmax = _cpu.max_pool_forward(X4, *P2)
        with pytest.raises(ValueError, match=r"max_pool_backward: dy of shape \(2, 2, 2, 4\) is "
                                             r"not a pooled output of x_shape \(2, 5, 5, 3\)"):
            _cpu.max_pool_backward(np.zeros((2, 2, 2, 4), np.float32), argmax, X4.shape)
        with pytest.raises(ValueError, match=r"max_pool_backward: argmax of shape \(2, 2, 1, 3\) "
                                             r"does not match dy of shape \(2, 2, 2, 3\)"):
            _cpu.max_pool_backward(y, argmax[:, :, :1].copy(), X4.shape)
        with pytest.raises(ValueError, match=r"max_pool_backward: argmax .* must be int32, got "
                                             "int16"):
            _cpu.max_pool_backward(y, argmax.astype(np.int16), X4.shape)

    @pytest.mark.parametrize("bad", [-1, 75, 2 ** 31 - 1])
    def test_argmax_out_of_range_is_refused_without_a_wild_write(self, bad):
        y, argmax = _cpu.max_pool_forward(X4, *P2)
        argmax[1, 1, 0, 2] = bad  # flat position ((1*2 + 1)*2 + 0)*3 + 2 = 20
        for fn in (_cpu.max_pool_backward, _cpu.max_pool_backward_ref):
            with pytest.raises(ValueError, match=rf"max_pool_backward: argmax\[20\] \(flat\) = "
                                                 rf"{bad} is not an index into the 75 cells"):
                fn(y, argmax, X4.shape)


class TestBadNormInputsRaise:
    X = np.zeros((4, 3, 2), np.float32)

    def test_wrong_rank(self):
        with pytest.raises(ValueError, match=r"batch_norm_train: x of shape \(4, 3\) must be 3-D "
                                             r"\(A, C, B\) or 4-D"):
            _cpu.batch_norm_train(np.zeros((4, 3), np.float32), None, None, 1e-3)
        with pytest.raises(ValueError, match=r"layer_norm_forward: x of shape \(4, 3, 2\) must be "
                                             r"2-D \(M, F\)"):
            _cpu.layer_norm_forward(self.X, None, None, 1e-3)

    def test_shape_mismatches(self):
        with pytest.raises(ValueError, match=r"batch_norm_train: gamma has shape \(2,\), "
                                             r"expected \(3,\)"):
            _cpu.batch_norm_train(self.X, np.ones(2, np.float32), None, 1e-3)
        _, mean, var, inv_std = _cpu.batch_norm_train(self.X, None, None, 1e-3)
        with pytest.raises(ValueError, match=r"batch_norm_inference: var has shape \(1, 3\), "
                                             r"expected \(3,\)"):
            _cpu.batch_norm_inference(self.X, mean, var[None], None, None, 1e-3)
        with pytest.raises(ValueError, match=r"batch_norm_backward: dy has shape \(4, 3, 1\), "
                                             r"expected \(4, 3, 2\)"):
            _cpu.batch_norm_backward(self.X[..., :1].copy(), self.X, mean, inv_std, None)
        x2 = np.zeros((4, 5), np.float32)
        _, m, s = _cpu.layer_norm_forward(x2, None, None, 1e-3)
        with pytest.raises(ValueError, match=r"layer_norm_backward: inv_std has shape \(3,\), "
                                             r"expected \(4,\)"):
            _cpu.layer_norm_backward(x2, x2, m, s[:3].copy(), None)
        with pytest.raises(ValueError, match=r"layer_norm_forward: beta has shape \(4,\), "
                                             r"expected \(5,\)"):
            _cpu.layer_norm_forward(x2, None, np.zeros(4, np.float32), 1e-3)

    def test_wrong_dtype_and_layout(self):
        with pytest.raises(ValueError, match=r"batch_norm_train: x of shape \(4, 3, 2\) must be "
                                             "float32, got float64"):
            _cpu.batch_norm_train(self.X.astype(np.float64), None, None, 1e-3)
        with pytest.raises(ValueError, match="layer_norm_forward: gamma of shape .* must be "
                                             "C-contiguous"):
            _cpu.layer_norm_forward(np.zeros((2, 3), np.float32), np.zeros(6, np.float32)[::2],
                                    None, 1e-3)


# --- Keras semantics (the kernels as the layers will call them) ----------------------------------
class TestKerasSemantics:
    def test_pooling_layers(self, keras):
        rng = np.random.default_rng(14)
        layers = keras.layers
        for layer, kind, shape in [(layers.MaxPooling1D(3, 2, "same"), "max", (2, 9, 4)),
                                   (layers.AveragePooling2D(3, 2, "same"), "avg", (2, 8, 7, 3)),
                                   (layers.MaxPooling2D(2, 3, "valid"), "max", (2, 8, 7, 3)),
                                   (layers.AveragePooling3D(2, 2, "same"), "avg", (1, 5, 4, 3, 2))]:
            x = rng.standard_normal(shape).astype(np.float32)
            spatial = shape[1:-1]
            pool, stride = layer.pool_size, layer.strides
            if layer.padding == "same":
                pads = [same_pads(n, p, s) for n, p, s in zip(spatial, pool, stride)]
            else:
                pads = [(0, 0)] * len(spatial)
            args = (pool, stride, [p[0] for p in pads], [p[1] for p in pads])
            got = (_cpu.max_pool_forward(x, *args)[0] if kind == "max"
                   else _cpu.avg_pool_forward(x, *args))
            np.testing.assert_allclose(got, np.asarray(layer(x)), rtol=1e-6, atol=1e-6)

    def test_max_pool_gradient_routes_ties_as_tensorflow(self, tf):
        rng = np.random.default_rng(17)
        x = rng.integers(0, 3, (2, 9, 8, 3)).astype(np.float32)  # many equal maxima
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            want_y = tf.nn.max_pool2d(xt, 3, 2, "SAME")
        dy = rng.standard_normal(want_y.shape).astype(np.float32)
        want_dx = tape.gradient(want_y, xt, output_gradients=tf.constant(dy))
        pads = [same_pads(n, 3, 2) for n in (9, 8)]
        y, argmax = _cpu.max_pool_forward(x, (3, 3), (2, 2), [p[0] for p in pads],
                                          [p[1] for p in pads])
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(_cpu.max_pool_backward(dy, argmax, x.shape), want_dx)

    @staticmethod
    def keras_grads(tf, layer, x, dy, **kw):
        """(y, dx, dgamma, dbeta) of a Keras layer by tf.GradientTape."""
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt, **kw)
        grads = tape.gradient(y, [xt, layer.gamma, layer.beta], output_gradients=tf.constant(dy))
        return [np.asarray(v) for v in (y, *grads)]

    def test_normalization_layers(self, tf, keras):
        rng = np.random.default_rng(15)
        x = (rng.standard_normal((6, 5, 4, 8)) + 2).astype(np.float32)
        dy = rng.standard_normal(x.shape).astype(np.float32)
        bn = keras.layers.BatchNormalization(axis=1)
        bn.build(x.shape)
        bn.gamma.assign(rng.uniform(0.5, 2, 5).astype(np.float32))
        bn.beta.assign(rng.standard_normal(5).astype(np.float32))
        want = self.keras_grads(tf, bn, x, dy, training=True)
        x3, gamma = x.reshape(6, 5, 32), bn.gamma.numpy()
        y, mean, _, inv_std = _cpu.batch_norm_train(x3, gamma, bn.beta.numpy(), bn.epsilon)
        dx, dgamma, dbeta = _cpu.batch_norm_backward(dy.reshape(x3.shape), x3, mean, inv_std,
                                                     gamma)
        for got, w in zip((y.reshape(x.shape), dx.reshape(x.shape), dgamma, dbeta), want):
            np.testing.assert_allclose(got, w, atol=1e-4)

        ln = keras.layers.LayerNormalization(axis=[-2, -1])
        ln.build(x.shape)
        ln.gamma.assign(rng.uniform(0.5, 2, (4, 8)).astype(np.float32))
        want = self.keras_grads(tf, ln, x, dy)
        x2, gamma = x.reshape(30, 32), ln.gamma.numpy().reshape(-1)
        y, mean, inv_std = _cpu.layer_norm_forward(x2, gamma, ln.beta.numpy().reshape(-1),
                                                   ln.epsilon)
        dx, dgamma, dbeta = _cpu.layer_norm_backward(dy.reshape(x2.shape), x2, mean, inv_std,
                                                     gamma)
        for got, w in zip((y, dx, dgamma, dbeta), want):
            np.testing.assert_allclose(got.reshape(w.shape), w, atol=1e-4)

    def test_group_normalization_runs_on_the_batch_norm_view(self, tf, keras):
        # channels-last x (N, S..., G*Cg) viewed as (N, S, G, Cg): (N, G) statistics, then the
        # per-channel affine (the recipe documented in register_norm.cpp), forward and backward
        rng = np.random.default_rng(16)
        x = (rng.standard_normal((3, 5, 6, 8)) * 2 + 1).astype(np.float32)
        dy = rng.standard_normal(x.shape).astype(np.float32)
        gn = keras.layers.GroupNormalization(groups=4)
        gn.build(x.shape)
        gn.gamma.assign(rng.uniform(0.5, 2, 8).astype(np.float32))
        gn.beta.assign(rng.standard_normal(8).astype(np.float32))
        gamma, beta = gn.gamma.numpy(), gn.beta.numpy()
        x4 = x.reshape(3, 30, 4, 2)
        xhat, mean, _, inv_std = _cpu.batch_norm_train(x4, None, None, gn.epsilon)
        assert mean.shape == inv_std.shape == (3, 4)
        xhat = xhat.reshape(x.shape)
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            want = gn(xt)
        want_dx, want_dg, want_db = tape.gradient(want, [xt, gn.gamma, gn.beta],
                                                  output_gradients=tf.constant(dy))
        np.testing.assert_allclose(xhat * gamma + beta, want, atol=2e-5)
        dx = _cpu.batch_norm_backward((dy * gamma).reshape(x4.shape), x4, mean, inv_std, None)[0]
        np.testing.assert_allclose(dx.reshape(x.shape), want_dx, atol=1e-4)
        np.testing.assert_allclose((dy * xhat).sum(axis=(0, 1, 2)), want_dg, atol=1e-4)
        np.testing.assert_allclose(dy.sum(axis=(0, 1, 2)), want_db, atol=1e-4)
