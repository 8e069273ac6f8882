"""The native SGEMM against the NumPy oracle, the scalar twin, and its contract."""
import os
import subprocess
import sys

import numpy as np
import pytest

from pykern import _cpu, config
from reference import act_ref, assert_gemm_matches, gemm_operands

ODD = [1, 7, 31, 33, 127, 129]
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]


def operands(rng, m, n, k, trans_a, trans_b):
    return gemm_operands(m, n, k, trans_a, trans_b, seed=int(rng.integers(1 << 31)))


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m", ODD)
def test_core_odd_shapes_all_transposes(m, trans_a, trans_b):
    rng = np.random.default_rng(m)
    for n in ODD:
        for k in ODD:
            a, b = operands(rng, m, n, k, trans_a, trans_b)
            got = _cpu.sgemm(a, b, trans_a=trans_a, trans_b=trans_b)
            assert got.shape == (m, n) and got.dtype == np.float32
            assert_gemm_matches(got, a, b, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
@pytest.mark.parametrize("m,n,k", [(1000, 33, 129), (31, 1000, 127), (129, 7, 1000),
                                   (1003, 997, 1001), (40, 4000, 50), (300, 200, 450)])
def test_core_large_and_blocked_shapes(m, n, k, trans_a, trans_b):
    # Crosses every blocking loop: K > KC, M > MC, N > NC (4000), both threading splits.
    rng = np.random.default_rng(m * n + k)
    a, b = operands(rng, m, n, k, trans_a, trans_b)
    got = _cpu.sgemm(a, b, trans_a=trans_a, trans_b=trans_b)
    assert_gemm_matches(got, a, b, trans_a=trans_a, trans_b=trans_b)


@pytest.mark.parametrize("m,n,k", [(7, 33, 31), (129, 127, 300), (250, 64, 700)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (1.0, -1.0)])
def test_core_alpha_beta(m, n, k, alpha, beta):
    rng = np.random.default_rng(k)
    a, b = operands(rng, m, n, k, False, False)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    c = c0.copy()
    out = _cpu.sgemm(a, b, c, alpha=alpha, beta=beta)
    assert out is c
    assert_gemm_matches(c, a, b, c0, alpha=alpha, beta=beta)


@pytest.mark.parametrize("m,n,k", [(7, 33, 31), (300, 200, 450)])
def test_core_beta_zero_never_reads_c(m, n, k):
    rng = np.random.default_rng(1)
    a, b = operands(rng, m, n, k, False, True)
    c = np.full((m, n), np.nan, dtype=np.float32)
    _cpu.sgemm(a, b, c, trans_b=True, beta=0.0)
    assert np.isfinite(c).all()
    assert_gemm_matches(c, a, b, trans_b=True)


@pytest.mark.parametrize("activation", ["none", "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("m,n,k", [(32, 64, 20), (33, 129, 7), (300, 257, 260)])
def test_core_bias_and_activation_epilogue(m, n, k, activation):
    rng = np.random.default_rng(n)
    a, b = operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    got = _cpu.sgemm(a, b, bias=bias, activation=activation)
    assert_gemm_matches(got, a, b, bias=bias, activation=activation)


def test_core_epilogue_applies_once_after_all_k_blocks():
    # K spans several KC blocks: bias and activation must see the full sum.
    rng = np.random.default_rng(5)
    a, b = operands(rng, 200, 100, 1000, True, False)
    c0 = rng.standard_normal((200, 100)).astype(np.float32)
    c = c0.copy()
    bias = rng.standard_normal(100).astype(np.float32)
    _cpu.sgemm(a, b, c, trans_a=True, alpha=0.5, beta=2.0, bias=bias, activation="tanh")
    assert_gemm_matches(c, a, b, c0, trans_a=True, alpha=0.5, beta=2.0, bias=bias,
                        activation="tanh")


def test_core_k_zero_gives_scaled_c_plus_bias():
    c = np.arange(12, dtype=np.float32).reshape(3, 4)
    bias = np.ones(4, np.float32)
    _cpu.sgemm(np.zeros((3, 0), np.float32), np.zeros((0, 4), np.float32), c, beta=2.0,
               bias=bias, activation="relu")
    np.testing.assert_array_equal(c, np.arange(12, dtype=np.float32).reshape(3, 4) * 2 + 1)


def test_core_empty_outputs():
    assert _cpu.sgemm(np.zeros((0, 5), np.float32), np.zeros((5, 3), np.float32)).shape == (0, 3)
    assert _cpu.matmul(np.zeros((4, 5)), np.zeros((5, 0))).shape == (4, 0)


def test_core_leading_dimensions_are_honoured():
    # Row-strided views are used in place: A, B and C with ld > columns.
    rng = np.random.default_rng(2)
    big_a = rng.standard_normal((70, 90)).astype(np.float32)
    big_b = rng.standard_normal((60, 80)).astype(np.float32)
    big_c = np.full((70, 100), 7.0, np.float32)
    a, b, c = big_a[:, :60], big_b[:, :45], big_c[:, 10:55]
    _cpu.sgemm(a, b, c)
    assert_gemm_matches(c, a, b)
    assert (big_c[:, :10] == 7).all() and (big_c[:, 55:] == 7).all()


@pytest.mark.parametrize("m,n,k", [(7, 9, 5), (129, 33, 300), (260, 300, 200)])
def test_core_matches_scalar_twin(m, n, k):
    rng = np.random.default_rng(m)
    for ta, tb in TRANSPOSES:
        a, b = operands(rng, m, n, k, ta, tb)
        bias = rng.standard_normal(n).astype(np.float32)
        fast = _cpu.sgemm(a, b, trans_a=ta, trans_b=tb, bias=bias, activation="sigmoid")
        ref = _cpu.sgemm_ref(a, b, trans_a=ta, trans_b=tb, bias=bias, activation="sigmoid")
        assert_gemm_matches(ref, a, b, trans_a=ta, trans_b=tb, bias=bias, activation="sigmoid")
        np.testing.assert_allclose(fast, ref, rtol=2e-5, atol=2e-6)


@pytest.fixture
def restore_threads():
    n = config.num_threads()
    yield
    config.set_num_threads(n)


# every shape is large enough to be split over the two threads (a 32x64x64 product
# once listed here runs on one thread, so it could not show a difference)
@pytest.mark.parametrize("m,n,k", [(1000, 300, 500), (100, 2000, 300), (300, 300, 5000),
                                   (512, 64, 64), (64, 160, 512), (2000, 17, 33)])
def test_bitwise_identical_across_threads_and_runs(m, n, k, restore_threads):
    rng = np.random.default_rng(3)
    a, b = operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    results = []
    for threads in (1, 2, 2, 1):
        config.set_num_threads(threads)
        results.append(_cpu.sgemm(a, b, bias=bias, activation="tanh").tobytes())
    assert all(r == results[0] for r in results)


class TestMatmulNumpySemantics:
    @pytest.mark.parametrize("sa,sb", [((5, 7), (7, 3)), ((7,), (7, 3)), ((5, 7), (7,)),
                                       ((7,), (7,)), ((4, 5, 7), (4, 7, 3)), ((4, 5, 7), (7, 3)),
                                       ((5, 7), (4, 7, 3)), ((1, 5, 7), (4, 7, 3)),
                                       ((4, 5, 7), (1, 7, 3)), ((3, 7), (2, 7, 1)),
                                       ((6, 40, 33), (33, 129))])
    def test_shapes_and_values(self, sa, sb):
        rng = np.random.default_rng(len(sa) * 10 + len(sb))
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        got = _cpu.matmul(a, b)
        want = np.matmul(a, b)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

    def test_converts_dtype_and_order_once(self):
        a = np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))
        b = np.arange(8, dtype=np.float64).reshape(4, 2)[::-1]
        np.testing.assert_array_equal(_cpu.matmul(a, b), (a @ b).astype(np.float32))
        np.testing.assert_array_equal(_cpu.matmul([[1, 2]], [[3], [4]]), [[11]])

    def test_python_op_is_the_native_matmul(self):
        import pykern
        a = np.ones((2, 3), np.float32)
        np.testing.assert_array_equal(pykern.ops.matmul(a, a.T), np.full((2, 2), 3.0))


class TestBadInputRaises:
    def test_mismatched_inner_dimension(self):
        with pytest.raises(ValueError, match=r"sgemm: inner dimensions differ.*\(3, 4\).*\(5, 2\)"):
            _cpu.sgemm(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))
        with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned"):
            _cpu.matmul(np.ones((3, 4)), np.ones((5, 2)))

    def test_bad_ranks_and_batches(self):
        with pytest.raises(ValueError, match="2-D"):
            _cpu.sgemm(np.ones(3, np.float32), np.ones((3, 2), np.float32))
        with pytest.raises(ValueError, match="1-D to 3-D"):
            _cpu.matmul(np.ones((2, 2, 2, 2)), np.ones((2, 2)))
        with pytest.raises(ValueError, match="1-D to 3-D"):
            _cpu.matmul(np.float32(3.0), np.ones((2, 2)))
        with pytest.raises(ValueError, match="do not broadcast"):
            _cpu.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))

    def test_bad_output_and_bias(self):
        a, b = np.ones((3, 4), np.float32), np.ones((4, 5), np.float32)
        with pytest.raises(ValueError, match=r"c must have shape \(3, 5\)"):
            _cpu.sgemm(a, b, np.zeros((5, 3), np.float32))
        with pytest.raises(TypeError, match="float32"):
            _cpu.sgemm(a, b, np.zeros((3, 5), np.float64))
        with pytest.raises(ValueError, match="contiguous rows"):
            _cpu.sgemm(a, b, np.zeros((3, 10), np.float32)[:, ::2])
        with pytest.raises(ValueError, match=r"bias must have shape \(5,\)"):
            _cpu.sgemm(a, b, bias=np.ones(4, np.float32))
        with pytest.raises(ValueError, match="needs an output array"):
            _cpu.sgemm(a, b, beta=1.0)
        ro = np.zeros((3, 5), np.float32)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            _cpu.sgemm(a, b, ro)

    def test_bad_values(self):
        a = np.ones((2, 2), np.float32)
        with pytest.raises(ValueError, match="unknown activation 'gelu'"):
            _cpu.sgemm(a, a, activation="gelu")
        with pytest.raises(TypeError, match="non-numeric"):
            _cpu.matmul(np.array([["x", "y"]]), a)
        with pytest.raises(TypeError):
            _cpu.matmul(object(), a)


class TestActivations:
    X = np.concatenate([np.linspace(-100, 100, 2001), np.linspace(-1, 1, 2001),
                        [0.0, -0.0, 1e-30, -1e-30, 88.0, 89.0, -87.0, -104.0]]).astype(np.float32)

    @pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "linear"])
    def test_against_float64_reference(self, name):
        got = _cpu.activation(self.X, name)
        want = act_ref(self.X.astype(np.float64), name)
        # ~2 ulp relative, or absolute 1e-38 for results that underflow to subnormals.
        np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-38)

    @pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
    def test_nan_propagates(self, name):
        assert np.isnan(_cpu.activation(np.array([np.nan], np.float32), name)).all()

    def test_inplace_on_odd_lengths(self):
        for n in (1, 15, 16, 17, 4097, 10001):
            x = np.linspace(-5, 5, n).astype(np.float32)
            want = np.tanh(x.astype(np.float64))
            out = _cpu.activation(x, "tanh", inplace=True)
            assert out is x
            np.testing.assert_allclose(x, want, rtol=3e-7, atol=1e-7)



class TestBiasActGrad:
    """_cpu.bias_act_grad, the fused backward of act(z + bias): against its double
    oracle and NumPy, on odd shapes, and the same bits for any thread count."""

    @staticmethod
    def operands(rows, cols, act, seed=0):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((rows, cols)).astype(np.float32)
        y = _cpu.activation(z, "none" if act == "none" else act)
        g = rng.standard_normal((rows, cols)).astype(np.float32)
        return g, y

    @pytest.mark.parametrize("act", ["none", "relu", "sigmoid", "tanh"])
    @pytest.mark.parametrize("rows,cols", [(1, 1), (3, 7), (31, 33), (1000, 10), (57600, 32),
                                           (7, 16385)])
    def test_matches_oracle_and_numpy(self, act, rows, cols):
        g, y = self.operands(rows, cols, act, rows + cols)
        dz, db = _cpu.bias_act_grad(g, y, act, True)
        dz_ref, db_ref = _cpu.bias_act_grad(g, y, act, True, ref=True)
        d = {"none": np.ones_like(y, dtype=np.float64), "relu": (y > 0).astype(np.float64),
             "sigmoid": y * (1.0 - y.astype(np.float64)),
             "tanh": 1.0 - y.astype(np.float64) ** 2}[act]
        want = g * d
        if act == "none":
            assert dz is g  # nothing to multiply: the gradient itself
        # 1 - y*y (and y - y*y) cancel near |y| = 1: without FMA (the scalar path) the
        # rounding of y*y, ~6e-8, is an absolute error of 6e-8 * |g| in dz
        np.testing.assert_allclose(dz, want, rtol=1e-6, atol=3e-7 * np.abs(g).max())
        np.testing.assert_allclose(dz_ref, want, rtol=1e-6, atol=1e-7)
        # float32 partial sums over blocks of rows: relative to the sum of magnitudes
        scale = np.abs(want).sum(axis=0) + 1e-30
        assert np.all(np.abs(db - want.sum(axis=0)) <= 1e-6 * scale + 1e-30)
        assert np.all(np.abs(db_ref - want.sum(axis=0)) <= 1e-6 * scale + 1e-30)

    def test_without_bias_and_higher_rank(self):
        g, y = self.operands(6 * 5 * 4, 3, "relu")
        g4, y4 = g.reshape(6, 5, 4, 3), y.reshape(6, 5, 4, 3)
        dz, db = _cpu.bias_act_grad(g4, y4, "relu", False)
        assert db is None and dz.shape == (6, 5, 4, 3)
        np.testing.assert_array_equal(dz, g4 * (y4 > 0))
        _, db = _cpu.bias_act_grad(g4, y4, "relu", True)
        np.testing.assert_allclose(db, (g * (y > 0)).sum(0), rtol=1e-6, atol=1e-6)

    def test_bitwise_identical_across_threads(self, restore_threads):
        g, y = self.operands(64 * 30 * 30, 32, "relu", 5)
        results = []
        for threads in (1, 2, 1):
            config.set_num_threads(threads)
            results.append(_cpu.bias_act_grad(g, y, "relu", True))
        for dz, db in results[1:]:
            assert dz.tobytes() == results[0][0].tobytes()
            assert db.tobytes() == results[0][1].tobytes()

    def test_bad_input_raises(self):
        g = np.ones((4, 3), np.float32)
        with pytest.raises(ValueError, match="bias_act_grad: y has shape"):
            _cpu.bias_act_grad(g, np.ones((3, 4), np.float32), "relu", True)
        with pytest.raises(ValueError, match="bias_act_grad: activation must be"):
            _cpu.bias_act_grad(g, g, "elu", True)
        with pytest.raises(ValueError, match="bias_act_grad"):
            _cpu.bias_act_grad(g, g, "nonsense", True)
        with pytest.raises(ValueError, match="bias_act_grad: g"):
            _cpu.bias_act_grad(g.astype(np.float64), g, "relu", True)
        with pytest.raises(ValueError, match="bias_act_grad: g"):
            _cpu.bias_act_grad(np.ones((4, 6), np.float32)[:, ::2], g, "relu", True)
        with pytest.raises(ValueError, match="scalar"):
            _cpu.bias_act_grad(np.ones((), np.float32), None, "none", True)
        with pytest.raises(TypeError):
            _cpu.bias_act_grad([[1.0]], g, "relu", True)

def test_config_reports_isa_and_threads(restore_threads):
    assert config.cpu_isa() in ("avx512", "avx2", "scalar")
    config.set_num_threads(1)
    assert config.num_threads() == 1
    with pytest.raises(ValueError):
        config.set_num_threads(0)
    assert config.list_devices()[0] == "cpu"


HERE = os.path.dirname(os.path.abspath(__file__))


def run_python(args, drop=(), **env):
    """Runs `python args...` in tests/ with `env` added and the variables in `drop`
    removed: `python -c`/`-m` put the cwd on sys.path, and the repository root
    would shadow the installed package with the uncompiled sources."""
    env = dict({k: v for k, v in os.environ.items() if k not in drop}, **env)
    if env.get("PYTHONPATH"):  # keep a relative PYTHONPATH=. meaning the same from tests/
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p)
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          cwd=HERE)


ISAS = [isa for isa in ("avx2", "scalar")
        if ["scalar", "avx2", "avx512"].index(isa) <= ["scalar", "avx2", "avx512"].index(
            config.hardware_isa())]


# the capped re-runs are not themselves re-run
not_in_a_capped_run = pytest.mark.skipif(os.environ.get("PYKERN_ISA_SUBRUN") == "1",
                                         reason="already a capped sub-run")


def rerun_capped(isa, test_file, selector):
    """Re-runs the `selector` tests of `test_file` in a process whose kernels are capped
    at `isa` (PYKERN_MAX_ISA is read once per process) and checks they pass there."""
    env = dict(PYKERN_MAX_ISA=isa, PYKERN_ISA_SUBRUN="1")
    check = run_python(["-c", "from pykern import config; print(config.cpu_isa())"], **env)
    assert check.stdout.strip() == isa, check.stderr
    run = run_python(["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test_file,
                      "-k", selector], **env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout, run.stdout[-3000:]


@not_in_a_capped_run
@pytest.mark.parametrize("isa", ISAS)
def test_every_capped_isa_path(isa):
    rerun_capped(isa, "test_gemm.py", "test_core_ or bitwise or Activations or BiasActGrad")


def test_bad_isa_cap_is_reported():
    run = run_python(["-c", "from pykern import config; config.cpu_isa()"], PYKERN_MAX_ISA="sse9")
    assert run.returncode != 0 and "PYKERN_MAX_ISA must be avx512, avx2 or scalar" in run.stderr


def test_import_shortens_openmp_spin_unless_the_user_chose():
    show = ["-c", "import os, pykern; print(os.environ.get('GOMP_SPINCOUNT'))"]
    unset = ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    assert run_python(show, drop=unset).stdout.strip() == "10000"
    assert run_python(show, drop=unset, GOMP_SPINCOUNT="5").stdout.strip() == "5"
    assert run_python(show, drop=unset, OMP_WAIT_POLICY="passive").stdout.strip() == "None"
