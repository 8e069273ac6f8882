"""Every core method of the CUDA kernel table against the CPU table (the reference),
on odd shapes, through the table (so the bindings' argument handling is covered),
and bitwise repeatability. Tolerances, where results are not bitwise equal:

- element-wise transcendental ops: CUDA's expf/logf/tanhf/sinf/powf are within
  2-4 ulp, NumPy's (and the CPU's Cephes sigmoid/tanh) within 1-2, so results
  differ by up to ~6 ulp: rtol 2e-6 (17 ulp), atol 1e-7 near zero crossings;
  +, -, *, / and comparisons are IEEE-exact on both sides (no FMA in a lone op);
- sums: the device adds in a fixed tree, NumPy pairwise; each errs by at most
  ~log2(R) eps sum|x| here, so |got - exact| <= R_eff * eps * sum|x| is checked
  against the float64 sum (reduce_bound);
- softmax and the crossentropies add along the row in another order: rtol 1e-5;
- Philox uniform and dropout masks are bitwise equal; normal draws to rtol 1e-6
  (Box-Muller's logf/sincosf differ by an ulp between the two libms).
"""
import numpy as np
import pytest

from gpu_table import CPU, FAKE, GPU, assert_same, check, cuda, dev, host, rand, real_gpu_only

pytestmark = pytest.mark.cuda

F32 = np.float32
EPS = float(np.finfo(np.float32).eps)
TR = dict(rtol=2e-6, atol=1e-7)  # transcendental element-wise ops (module docstring)
SHAPES = [(1,), (7,), (33, 5), (129, 7), (3, 1, 33)]


# --- arrays and transfers -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7, 3), (2, 0, 5), (3, 1, 33)])
def test_arrays_round_trip_with_their_shape_and_dtype(dtype, shape):
    v = rand(shape, seed=1, dtype=dtype, low=0, high=200)
    x = cuda.to_device(v)
    assert x.shape == shape and x.dtype == np.dtype(dtype) and x.ndim == len(shape)
    assert x.size == v.size and x.device == 0
    back = cuda.to_host(x)
    assert back.dtype == v.dtype and back.shape == shape
    np.testing.assert_array_equal(back, v)


def test_dtype_is_numpys_singleton_and_reshape_shares_the_buffer():
    x = cuda.to_device(np.arange(12, dtype=F32))
    assert x.dtype is np.dtype(np.float32)
    y = x.reshape(3, -1)
    assert y.shape == (3, 4) and x.reshape((2, 6)).shape == (2, 6)
    if not FAKE:
        assert y.data_ptr == x.data_ptr
        assert "shape=(12,)" in repr(x) and "float32" in repr(x) and "cuda:0" in repr(x)
    with pytest.raises(ValueError):
        x.reshape(5, -1)
    with pytest.raises(TypeError):
        np.asarray(x)


def test_a_strided_host_view_is_copied_in_order():
    v = np.arange(60, dtype=F32).reshape(6, 10)[::2, 1::3]
    np.testing.assert_array_equal(cuda.to_host(cuda.to_device(v)), v)
    f = np.asfortranarray(rand((5, 4)))
    np.testing.assert_array_equal(cuda.to_host(cuda.to_device(f)), f)


@real_gpu_only
def test_empty_full_synchronize_and_memory_stats():
    x = cuda.full((129, 7), 2.5, "float32")
    np.testing.assert_array_equal(cuda.to_host(x), np.full((129, 7), 2.5, F32))
    b = cuda.full((5,), True, "bool")
    assert cuda.to_host(b).all()
    assert cuda.empty((3, 4), "int64").dtype == np.int64
    cuda.synchronize()
    cuda.synchronize(0)
    stats = cuda.memory_stats(0)
    assert stats["allocated_bytes"] >= 129 * 7 * 4 and stats["reserved_bytes"] >= \
        stats["allocated_bytes"] + stats["cached_bytes"] - 1
    cuda.reset_peak_memory_stats(0)
    assert cuda.memory_stats(0)["peak_allocated_bytes"] == cuda.memory_stats(0)["allocated_bytes"]
    free, total = cuda.mem_get_info(0)
    assert 0 < free <= total


@real_gpu_only
def test_out_of_memory_is_a_memory_error_naming_the_request_and_the_free_bytes():
    request = 1 << 50  # 1 PiB of float32: more than any GPU
    with pytest.raises(MemoryError, match=r"out of memory.*4503599627370496 bytes.*free"):
        cuda.empty((request,), "float32")
    assert cuda.memory_stats(0)["oom_retries"] >= 1
    x = cuda.full((1000,), 1.0)  # the device still works
    assert cuda.to_host(x).sum() == 1000


@real_gpu_only
def test_dlpack_hands_the_buffer_to_torch_without_a_copy():
    torch = pytest.importorskip("torch")
    x = cuda.to_device(np.arange(24, dtype=F32).reshape(4, 6))
    assert x.__dlpack_device__() == (2, 0)
    t = torch.from_dlpack(x)
    assert t.is_cuda and tuple(t.shape) == (4, 6) and t.dtype == torch.float32
    assert t.data_ptr() == x.data_ptr
    t.mul_(2)  # writes through to our buffer
    torch.cuda.synchronize()
    np.testing.assert_array_equal(cuda.to_host(x), 2 * np.arange(24, dtype=F32).reshape(4, 6))
    del x  # the capsule keeps the buffer alive for torch
    cuda.full((4, 6), -1.0)  # a new allocation must not reuse it
    np.testing.assert_array_equal(t.cpu().numpy(), 2 * np.arange(24, dtype=F32).reshape(4, 6))
    for dtype, tdtype in (("int64", torch.int64), ("bool", torch.bool), ("uint8", torch.uint8),
                          ("float64", torch.float64), ("int32", torch.int32)):
        y = cuda.full((3,), 1, dtype)
        assert torch.from_dlpack(y).dtype == tdtype


@real_gpu_only
def test_dlpack_to_cupy_when_it_is_installed():
    cupy = pytest.importorskip("cupy")
    x = cuda.to_device(np.arange(10, dtype=np.int32))
    c = cupy.from_dlpack(x)
    assert int(c.data.ptr) == x.data_ptr
    np.testing.assert_array_equal(cupy.asnumpy(c), np.arange(10))


@pytest.mark.parametrize("src", ["float32", "float64", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("to", ["float32", "float64", "int32", "int64", "uint8", "bool"])
def test_cast_matches_astype(src, to):
    v = rand((33, 5), seed=2, dtype=src, low=0, high=120)
    if np.dtype(src).kind == "f":
        v[0, :3] = [0.0, 2.75, 119.5]
    check("cast", v, to)


def test_copy_assign_owned_and_full_from_a_device_scalar():
    v = rand((7, 3))
    x = GPU.from_host(v)
    c = GPU.copy(x)
    GPU.assign(x, GPU.from_host(np.zeros((1, 3), F32)))  # broadcast into x
    np.testing.assert_array_equal(host(c), v)
    np.testing.assert_array_equal(host(x), np.zeros((7, 3), F32))
    GPU.assign(x, GPU.from_host(np.ones((7, 3), np.float64)))  # cast into x
    np.testing.assert_array_equal(host(x), np.ones((7, 3), F32))
    assert GPU.owned(x) is x and GPU.owned(GPU.from_host(np.ones(3))).dtype == F32
    s = GPU.from_host(np.float32(1.5))
    assert s.shape == () and host(s) == F32(1.5)
    np.testing.assert_array_equal(host(GPU.full((2, 3), s)), np.full((2, 3), 1.5, F32))
    np.testing.assert_array_equal(host(GPU.full((2,), 7, "int32")), [7, 7])
    assert GPU.from_host(np.arange(3, dtype=np.int16)).dtype == np.int32


# --- element-wise -----------------------------------------------------------------------------------
_POSITIVE = {"sqrt", "log", "reciprocal"}
_ABOVE_MINUS_ONE = {"log1p"}
_PARAMS = {"leaky_relu": 0.2, "elu": 1.3, "round": 0, "relu_general": (0.1, 6.0, 0.0)}
UNARY = ["negative", "abs", "square", "sqrt", "reciprocal", "exp", "expm1", "log", "log1p",
         "sign", "floor", "round", "logical_not", "relu", "relu_general", "relu6", "leaky_relu",
         "elu", "selu", "gelu", "gelu_erf", "erf", "sigmoid", "hard_sigmoid", "hard_silu", "tanh",
         "softplus", "softsign", "silu", "exponential", "sin", "cos", "tan"]
# Bitwise equal: IEEE-exact operations only, none that the compiler may fuse into an FMA
# (relu_general's kept - slope * below and tanh's 1 - y*y are contracted on the device).
_EXACT = {"negative", "abs", "square", "sign", "floor", "round", "logical_not", "relu", "relu6",
          "leaky_relu", "hard_sigmoid", "hard_silu", "reciprocal", "sqrt", "softsign"}


def _unary_input(op, shape, seed=0):
    low, high = (0.05, 4.0) if op in _POSITIVE else (-0.9, 4.0) if op in _ABOVE_MINUS_ONE \
        else (-1.5, 1.5) if op == "tan" else (-8.0, 8.0)
    return rand(shape, seed, low=low, high=high)


def test_the_unary_table_lists_every_cpu_op():
    from pykern.backend.devices import cpu
    assert sorted(UNARY) == sorted(cpu._UNARY)


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_matches_cpu(op, shape):
    x = _unary_input(op, shape)
    tol = {} if op in _EXACT else TR
    check("unary", op, x, _PARAMS.get(op), **tol)


@pytest.mark.parametrize("op", UNARY)
def test_unary_agrees_at_kinks_zeros_infinities_and_nan(op):
    x = np.array([0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, -0.5, 2.5, 1e-30, 80.0, -80.0,
                  np.inf, -np.inf, np.nan], F32)
    if op == "tan":
        x = x[np.isfinite(x) & (np.abs(x) < 1.5)]
    with np.errstate(all="ignore"):
        check("unary", op, x, _PARAMS.get(op), **({} if op in _EXACT else TR))


@pytest.mark.parametrize("p", [(0.0, None, 0.0), (0.3, 6.0, 0.0), (0.0, 4.0, 1.0),
                               (0.2, None, -1.0)])
def test_relu_general_parameters(p):
    x = np.concatenate([rand((129,), 3, low=-8, high=8), np.array([0, 1, -1, 4, 6], F32)])
    check("unary", "relu_general", x, p, **TR)
    g = rand(x.shape, 4)
    y = CPU.unary("relu_general", x, p)
    check("unary_grad", "relu_general", g, x, y, p)


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_halves_to_even_with_decimals(decimals):
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 0.375, 1.25, 15.0, 25.0, 3.14159], F32)
    check("unary", "round", x, decimals)


def test_unary_on_float64_and_integers():
    check("unary", "exp", rand((33,), dtype=np.float64), rtol=1e-14)
    for dtype in (np.int32, np.int64):
        v = rand((33,), dtype=dtype, low=-5, high=5)
        for op in ("negative", "abs", "sign", "logical_not"):
            check("unary", op, v)
        got = GPU.unary("exp", dev(v))  # float ops compute integers in float32 (the meta rule)
        assert got.dtype == F32
        np.testing.assert_allclose(host(got), np.exp(v.astype(F32)), **TR)
    check("unary", "logical_not", rand((7,), dtype=bool))


@pytest.mark.parametrize("op", sorted(set(UNARY) - {"sign", "floor", "round", "logical_not",
                                                     "erf"}))
@pytest.mark.parametrize("shape", [(7,), (129, 7)])
def test_unary_grad_matches_cpu(op, shape):
    x = _unary_input(op, shape, seed=5)
    p = _PARAMS.get(op)
    y = CPU.unary(op, x, p)
    g = rand(shape, 6)
    tol = {} if op in _EXACT | {"relu", "relu_general", "sigmoid", "exp", "expm1"} else TR
    check("unary_grad", op, g, x, y, p, **tol)


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh"])
def test_unary_grad_of_epilogue_activations_reads_only_y(op):
    x = rand((33, 5), 7)
    y, g = CPU.unary(op, x), rand((33, 5), 8)
    want = CPU.unary_grad(op, g, x, y)
    assert_same(GPU.unary_grad(op, dev(g), None, dev(y)), want)
    with pytest.raises(ValueError, match="needs y"):
        GPU.unary_grad(op, dev(g), dev(x), None)


BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "equal",
          "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and",
          "logical_or"]
BROADCASTS = [((7,), (7,)), ((33, 5), (5,)), ((33, 1), (1, 5)), ((3, 1, 33), (7, 1)),
              ((129,), ()), ((), (3, 4)), ((2, 1, 3, 1, 2, 1, 2, 3), (1, 2, 1, 3, 1, 2, 1, 3)),
              ((0, 3), (1, 3))]


def test_the_binary_table_lists_every_cpu_op():
    from pykern.backend.devices import cpu
    assert sorted(BINARY) == sorted(cpu._BINARY)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("sa,sb", BROADCASTS)
def test_binary_broadcasts_like_numpy(op, sa, sb):
    a, b = rand(sa, 1, low=0.5, high=3), rand(sb, 2, low=0.5, high=3)
    if op not in ("power",) and a.size and b.size:
        a.flat[0] = b.flat[0]  # a tie for the comparisons
    check("binary", op, a, b, **(TR if op == "power" else {}))


@pytest.mark.parametrize("op", BINARY)
def test_binary_with_python_numbers_and_mixed_dtypes(op):
    f = rand((33, 5), 3, low=0.5, high=3)
    i32 = rand((33, 5), 4, dtype=np.int32, low=1, high=5)
    i64 = rand((5,), 5, dtype=np.int64, low=1, high=5)
    u8 = rand((5,), 6, dtype=np.uint8, low=1, high=5)
    bo = rand((33, 5), 7, dtype=bool)
    tol = TR if op == "power" else {}
    with np.errstate(all="ignore"):
        check("binary", op, f, 2.0, **tol)        # float32 with a weak float: float32
        check("binary", op, 2, f, **tol)          # weak int: float32
        check("binary", op, f, F32(0.5), **tol)   # a NumPy float32 scalar
        check("binary", op, i32, 3, **tol)        # int32 with a weak int: int32
        check("binary", op, i32, 1.5, **tol)      # int32 with a weak float: float64
        check("binary", op, i32, i64, **tol)      # int32 with int64: int64
        check("binary", op, f, i32, **tol)        # float32 with int32: float64
        check("binary", op, u8, f[0], **tol)      # uint8 with float32: float32
        if op not in ("subtract", "power", "divide"):
            check("binary", op, bo, bo)           # bool with bool
        check("binary", op, f.astype(np.float64), f, **tol)


def test_binary_of_shapes_that_do_not_broadcast_names_them():
    with pytest.raises(ValueError, match=r"add: shapes \(3, 4\) and \(5,\) cannot be broadcast"):
        GPU.binary("add", dev(np.ones((3, 4), F32)), dev(np.ones(5, F32)))


def test_binary_nan_and_division_edges():
    a = np.array([np.nan, 1.0, -1.0, 0.0, np.inf, 2.0], F32)
    b = np.array([1.0, np.nan, 0.0, 0.0, np.inf, -np.inf], F32)
    with np.errstate(all="ignore"):
        for op in ("maximum", "minimum", "divide", "equal", "less", "not_equal", "power"):
            check("binary", op, a, b, **(TR if op == "power" else {}))
        check("binary", "divide", np.array([1, -3, 4], np.int32), np.array([2, 2, 0], np.int32))


@pytest.mark.parametrize("sc,sa,sb", [((33, 5), (33, 5), (33, 5)), ((33, 1), (5,), ()),
                                      ((7,), (), ()), ((3, 1, 33), (7, 1), (1, 1, 1))])
def test_where_broadcasts_and_promotes(sc, sa, sb):
    c = rand(sc, 1, dtype=bool)
    a = rand(sa, 2) if sa else 1.5
    b = rand(sb, 3) if sb else 0
    check("where", c, a, b)
    check("where", c, rand(sa or (1,), 4, dtype=np.int32), 2.5)


def test_clip_and_clip_mask_with_numbers_and_nan():
    x = np.concatenate([rand((129,), 1), np.array([np.nan, -1.0, 1.0], F32)])
    check("clip", x, -1.0, 1.0)
    check("clip_mask", x, -1.0, 1.0)
    check("clip", x, F32(0.0), 2)
    check("clip", x.reshape(12, 11)[:, :5].copy(), rand((5,), 2, low=-2, high=0),
          rand((5,), 3, low=0, high=2))


# --- reductions ------------------------------------------------------------------------------------
def reduce_bound(x, axes, keepdims):
    """Per-output bound on a float32 sum's error: R * eps * sum|x| in float64."""
    n = x.size // max(np.asarray(CPU.reduce("sum", np.abs(x), axes, keepdims)).size, 1)
    return max(n, 1) * EPS * np.add.reduce(np.abs(x).astype(np.float64), axis=axes,
                                           keepdims=keepdims) + 1e-30


REDUCE_CASES = [((7,), (0,)), ((33, 5), (0,)), ((33, 5), (1,)), ((33, 5), (0, 1)),
                ((3, 7, 33), (0, 2)), ((3, 7, 33), (1,)), ((3, 7, 33), ()),
                ((2000, 50), (1,)), ((5, 20), (1,)), ((1, 100000), (1,)),
                ((3, 70000, 2), (1,)), ((0, 4), (0,)), ((4, 0), (1,)),
                ((2, 3, 4, 5), (0, 1, 2, 3))]


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod", "any", "all"])
@pytest.mark.parametrize("shape,axes", REDUCE_CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_matches_cpu(op, shape, axes, keepdims):
    x = rand(shape, 1, low=-1, high=1) if op != "prod" else rand(shape, 1, low=0.9, high=1.1)
    kept = int(np.prod([d for i, d in enumerate(shape) if i not in axes]))
    if op in ("max", "min") and 0 in [shape[a] for a in axes] and kept > 0:
        with pytest.raises(ValueError, match="zero-size"):
            GPU.reduce(op, dev(x), axes, keepdims)
        return
    if op in ("any", "all"):
        x = (x > 0.8).astype(F32)
    want = CPU.reduce(op, x, axes, keepdims)
    got = GPU.reduce(op, dev(x), axes, keepdims)
    if op in ("sum", "mean"):
        g, w = host(got), np.asarray(want)
        assert g.shape == w.shape and g.dtype == w.dtype
        exact = np.add.reduce(x.astype(np.float64), axis=axes, keepdims=keepdims)
        bound = reduce_bound(x, axes, keepdims)
        if op == "mean":
            count = max(x.size // max(exact.size, 1), 1)
            exact, bound = exact / count, bound / count
        with np.errstate(invalid="ignore"):
            assert np.all((np.abs(g - exact) <= bound) | (np.isnan(g) & np.isnan(w)))
    elif op == "prod":  # a product of R factors errs by up to R eps relatively
        r = x.size // max(host(got).size, 1)
        if r > 2000:
            return  # 1e5 factors in [0.9, 1.1] underflow, each order differently
        assert_same(got, want, rtol=4 * r * EPS + 1e-6)
    else:
        assert_same(got, want)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float64", "uint8"])
def test_reduce_dtypes_follow_numpy(dtype):
    x = rand((33, 7), 2, dtype=dtype, low=0, high=9)
    for op in ("sum", "max", "min", "any", "all", "mean"):
        if dtype == "uint8" and op == "sum":
            continue  # NumPy gives uint64, which the device does not hold (int64 here)
        check("reduce", op, x, (0,), **({"rtol": 1e-12} if op == "mean" or dtype == "float64"
                                         else {}))


@pytest.mark.parametrize("shape,axes", [((33, 5), (0,)), ((1, 100000), (1,)),
                                        ((3, 70000, 2), (0, 1)), ((7,), None)])
def test_precise_sums_accumulate_in_float64(shape, axes):
    x = rand(shape, 3, low=-1, high=1) * 1000
    for op in ("sum", "mean"):
        got = GPU.reduce(op, dev(x), axes if axes is not None else tuple(range(len(shape))),
                         False, True)
        want = CPU.reduce(op, x, axes if axes is not None else tuple(range(len(shape))),
                          False, True)
        assert_same(got, want, rtol=1e-12)


def test_reduce_max_propagates_nan_and_sums_are_repeatable_bit_for_bit():
    x = rand((129, 70), 4)
    x[5, 3] = np.nan
    check("reduce", "max", x, (1,))
    check("reduce", "min", x, (0,))
    big = dev(rand((3, 70000, 2), 5))
    first = host(GPU.reduce("sum", big, (1,)))
    for _ in range(3):
        assert host(GPU.reduce("sum", big, (1,))).tobytes() == first.tobytes()


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("shape,axis", [((7,), 0), ((33, 5), 0), ((33, 5), 1), ((3, 7, 33), 1),
                                        ((3, 7, 33), None), ((1, 100000), 1), ((2000, 50), -1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_arg_reduce_takes_the_first_index(op, shape, axis, keepdims):
    x = np.round(rand(shape, 6) * 2)  # many ties
    check("arg_reduce", op, x, axis, keepdims)
    x.flat[min(5, x.size - 1)] = np.nan
    check("arg_reduce", op, x, axis, keepdims)
    check("arg_reduce", op, np.round(x).astype(np.int32) if op == "argmax" else
          rand(shape, 7, dtype=np.int64, low=-3, high=3), axis, keepdims)


def test_extreme_share_splits_ties():
    x = np.round(rand((33, 5), 8))
    y = CPU.reduce("max", x, (1,), keepdims=True)
    check("extreme_share", x, y, (1,))
    y0 = CPU.reduce("min", x, (0,), keepdims=True)
    check("extreme_share", x, y0, (0,))


# --- layout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axes", [((33, 5), (1, 0)), ((3, 7, 33), (2, 0, 1)),
                                        ((3, 7, 33), None), ((2, 3, 1, 4, 5, 1, 2, 3),
                                                             (7, 0, 6, 1, 5, 2, 4, 3)),
                                        ((0, 3), (1, 0))])
def test_transpose(shape, axes):
    for dtype in ("float32", "int64", "bool", "uint8"):
        check("transpose", rand(shape, 1, dtype=dtype), axes)


@pytest.mark.parametrize("shape,to", [((5,), (33, 5)), ((33, 1), (33, 5)), ((), (3, 4)),
                                      ((1, 7, 1), (2, 3, 7, 4)), ((7,), (7,))])
def test_broadcast_to(shape, to):
    check("broadcast_to", rand(shape, 2), to)
    with pytest.raises(ValueError):
        GPU.broadcast_to(dev(np.ones((3,), F32)), (4,))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack(axis):
    a, b, c = rand((3, 7, 5), 1), rand((3, 7, 5), 2), rand((3, 7, 5), 3)
    check("concat", [a, b[:2].copy() if axis == 0 else b, c], axis)
    check("stack", [a, b, c], axis)
    check("concat", [a.astype(np.int32), b], axis)  # promoted to float64 like NumPy


@pytest.mark.parametrize("index", [
    0, -1, slice(None), slice(1, 5), slice(None, None, 2), slice(None, None, -1),
    slice(5, 1, -2), (slice(None), 3), (Ellipsis, 2), (None, slice(None), None),
    (1, slice(2, 30, 3), Ellipsis), (slice(2, 2),), (Ellipsis,), (-2, None, slice(1, None), 4),
    np.int64(2), (slice(None, None, -3), Ellipsis, None)])
def test_basic_getitem_and_its_scatter(index):
    x = rand((6, 33, 5), 4)
    got = check("getitem", x, index)
    g = rand(host(got).shape, 5)
    check("scatter_add", x.shape, index, g, True)


def test_getitem_errors_are_numpys():
    x = dev(rand((6, 33), 4))
    with pytest.raises(IndexError, match="out of bounds"):
        GPU.getitem(x, 6)
    with pytest.raises(IndexError, match="too many indices"):
        GPU.getitem(x, (0, 0, 0))


def test_advanced_getitem_and_scatter_go_through_the_host():
    x = rand((6, 5), 4)
    idx = np.array([0, 2, 2, 5])
    check("getitem", x, idx)
    check("getitem", x, (idx, slice(1, 3)))
    check("getitem", x, x > 0)
    check("scatter_add", x.shape, idx, rand((4, 5), 5), False)


@pytest.mark.parametrize("pads,value", [(((1, 2), (0, 3)), 0.0), (((0, 0), (5, 0)), -1.5),
                                        (((3, 3), (3, 3)), 2.0)])
def test_pad(pads, value):
    check("pad", rand((33, 5), 6), pads, value)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_take_with_negative_and_int32_indices(axis):
    x = rand((7, 33, 5), 7)
    n = x.size if axis is None else x.shape[axis]
    for idx in (np.array([0, n - 1, -1, -n, 2]), np.array([[1, 0], [2, -2]], np.int32)):
        check("take", x, idx, axis)
    with pytest.raises(IndexError):
        GPU.take(dev(x), dev(np.array([0, n])), axis)


def test_one_hot():
    idx = np.array([[0, 3, -1], [9, 2, -10]])
    check("one_hot", idx, 10)
    check("one_hot", idx.astype(np.int32), 10, "int32")
    with pytest.raises(IndexError):
        GPU.one_hot(dev(np.array([10])), 10)


def test_reshape_keeps_the_buffer_and_fills_minus_one():
    x = GPU.from_host(rand((6, 4), 1))
    y = GPU.reshape(x, (3, -1))
    assert y.shape == (3, 8)
    np.testing.assert_array_equal(host(y), host(x).reshape(3, 8))


# --- softmax and losses -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((7, 33), -1), ((7, 33, 5), 1), ((7, 33, 5), 0),
                                        ((129, 1), -1), ((3, 1000), -1), ((4, 10), (1,))])
def test_softmax_and_log_softmax(shape, axis):
    x = rand(shape, 9, low=-20, high=20)
    check("softmax", x, axis, rtol=1e-5, atol=1e-7)
    check("log_softmax", x, axis, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("shape", [(7, 1), (33, 5), (3, 7, 33)])
def test_binary_crossentropy(from_logits, shape):
    z = rand(shape, 1, low=-5, high=5) if from_logits else rand(shape, 1, low=0, high=1)
    if not from_logits:
        z.flat[0], z.flat[-1] = 0.0, 1.0  # clipped: no gradient
    y = rand(shape, 2, low=0, high=1)
    check("binary_crossentropy", y, z, from_logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("shape", [(7, 1), (33, 10), (3, 7, 33), (4, 1000)])
def test_categorical_crossentropy(from_logits, shape):
    z = rand(shape, 3, low=-5, high=5) if from_logits else rand(shape, 3, low=0, high=1)
    labels = np.random.default_rng(4).integers(0, shape[-1], shape[:-1])
    y = np.eye(shape[-1], dtype=F32)[labels] * F32(0.9) + F32(0.1 / shape[-1])
    check("categorical_crossentropy", y, z, from_logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ldtype", ["int32", "int64", "float32"])
@pytest.mark.parametrize("ignore", [None, 2])
def test_sparse_categorical_crossentropy(from_logits, ldtype, ignore):
    z = rand((33, 10), 5, low=-5, high=5) if from_logits else rand((33, 10), 5, low=0, high=1)
    labels = np.random.default_rng(6).integers(0, 10, 33).astype(ldtype)
    check("sparse_categorical_crossentropy", labels, z, from_logits, ignore, rtol=1e-5,
          atol=1e-6)
    check("sparse_categorical_crossentropy", labels.reshape(3, 11), z.reshape(3, 11, 10),
          from_logits, ignore, rtol=1e-5, atol=1e-6)


def test_sparse_labels_out_of_range_are_a_value_error_naming_them():
    z = dev(rand((4, 10), 5, low=0, high=1))
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 10\).*12"):
        GPU.sparse_categorical_crossentropy(dev(np.array([1, 12, 3, 0])), z, True)
    with pytest.raises(ValueError, match=r"labels must be integers"):
        GPU.sparse_categorical_crossentropy(dev(np.array([1.5, 2, 3, 0], F32)), z, False)
    labels = np.array([1, -1, 3, -1])  # ignored labels may be anything
    check("sparse_categorical_crossentropy", labels, host(z), True, -1, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_reduce_loss(reduction, weighted):
    v = rand((129, 7), 7, low=0, high=3)
    w = rand((129, 7), 8, low=0, high=1) if weighted else None
    check("reduce_loss", v, w, reduction, rtol=1e-6)
    if weighted:
        check("reduce_loss", v, np.zeros_like(v), reduction, rtol=1e-6)


def test_accumulate_with_device_scalars_and_numbers():
    t, c = np.asarray(2.5, F32), np.asarray(4.0, np.float64)
    state = CPU.accumulate(None, t, 3.0, 2.0)
    got = GPU.accumulate(None, dev(t), 3.0, 2.0)
    assert_same(got, state)
    assert_same(GPU.accumulate(got, dev(t), dev(c)), CPU.accumulate(state, t, c))
    assert_same(GPU.accumulate(None, 1.5, 2), CPU.accumulate(None, 1.5, 2))


# --- random numbers and packing ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1,), (7,), (33, 5), (129, 7, 3)])
@pytest.mark.parametrize("seed,offset", [(0, 0), (1234567, 99), (2 ** 63 + 5, 2 ** 40)])
def test_philox_draws_are_the_cpus(shape, seed, offset):
    check("random_uniform", shape, seed, offset)
    check("dropout_mask", shape, 0.3, seed, offset)
    check("random_normal", shape, seed, offset, rtol=1e-6, atol=1e-6)


def test_pack_and_unpack():
    xs = [rand((3, 5), 1), rand((7,), 2), rand((1, 1), 3)]
    buf = np.zeros(40, F32)
    offsets = [0, 20, 39]
    CPU.pack_(buf, xs, offsets, 0.5)
    gbuf = dev(np.zeros(40, F32))
    GPU.pack_(gbuf, dev(xs), offsets, 0.5)
    assert_same(gbuf, buf)
    outs = [np.zeros_like(x) for x in xs]
    CPU.unpack_(buf, outs, offsets, 4.0)
    gouts = dev([np.zeros_like(x) for x in xs])
    GPU.unpack_(gbuf, gouts, offsets, 4.0)
    for g, w in zip(gouts, outs):
        assert_same(g, w)


def test_collectives_name_the_missing_nccl_support():
    with pytest.raises(RuntimeError, match="NCCL"):
        GPU.allreduce_sum_(dev(np.ones(3, F32)))


# --- host fallbacks and repeatability -------------------------------------------------------------------
def test_host_fallbacks_match_cpu():
    p = rand((33, 10), 1)
    check("kth_largest", p, 3)
    check("top_k_hit", p, np.arange(33) % 10, 5)
    keys, values = np.array([1, 4, 9]), np.array([10, 40, 90])
    check("lookup", np.array([[1, 2], [9, 4]]), keys, values, -1)
    x = rand((2, 7, 9, 3), 2)
    t = np.array([[1, 0.1, 0.5, -0.1, 1, 0.2, 0, 0]], F32)
    check("affine_transform", x, t, "bilinear", "reflect", 0.0, rtol=1e-6, atol=1e-6)
    check("affine_transform_backward", x, t, "nearest", "constant", x.shape, rtol=1e-6)


def test_a_pipeline_of_kernels_is_bitwise_repeatable():
    x = dev(rand((257, 130), 3))
    labels = dev(np.random.default_rng(1).integers(0, 130, 257))

    def run():
        s = GPU.softmax(x, -1)
        v, g = GPU.sparse_categorical_crossentropy(labels, x, True)
        loss, _ = GPU.reduce_loss(v, None, "sum_over_batch_size")
        red = GPU.reduce("sum", GPU.binary("multiply", g, s), (0,))
        return [host(a).tobytes() for a in (s, v, g, loss, red)]
    first = run()
    for _ in range(2):
        assert run() == first


def test_sizes_past_two_to_the_31_elements_are_rejected_or_handled():
    if FAKE:
        pytest.skip("needs the real device")
    # 2^31 + 8 bytes of uint8: indices past int32 in the grid-stride loops
    n = (1 << 31) + 8
    try:
        x = cuda.full((n,), 1, "uint8")
    except MemoryError:
        pytest.skip("not enough device memory")
    s = GPU.reduce("sum", x, (0,))
    assert int(host(s)) == n
    tail = GPU.getitem(x, slice(n - 3, None))
    np.testing.assert_array_equal(host(tail), np.ones(3, np.uint8))
    del x, tail
    cuda.empty_cache()

