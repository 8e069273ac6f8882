"""Each differentiable op: forward and gradient against finite differences and
against TensorFlow-Keras (keras.ops), plus the NumPy fast path and op errors."""
import numpy as np
import pytest

import pykern
from pykern import ops
from reference import numeric_gradients
from parity import op_parity

RNG = np.random.default_rng(0)


def _normal(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _away(*shape, low=0.2):
    """Values with |x| >= low, away from the kinks of relu-like functions."""
    x = _normal(*shape)
    return (np.sign(x) * (low + np.abs(x))).astype(np.float32)


def _positive(*shape):
    return (0.5 + RNG.random(shape)).astype(np.float32)


def _distinct(*shape):
    """No ties (max/min/maximum gradients are unambiguous)."""
    return (RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 1.5).astype(np.float32)


# name: (pykern fn, keras.ops fn name or lambda(ko, tf), inputs)
UNARY = {
    "square": (ops.square, lambda k: k.ops.square, [_normal(3, 4)]),
    "sqrt": (ops.sqrt, lambda k: k.ops.sqrt, [_positive(3, 4)]),
    "exp": (ops.exp, lambda k: k.ops.exp, [_normal(3, 4)]),
    "log": (ops.log, lambda k: k.ops.log, [_positive(3, 4)]),
    "abs": (ops.abs, lambda k: k.ops.abs, [_away(3, 4)]),
    "negative": (ops.negative, lambda k: k.ops.negative, [_normal(3, 4)]),
    "relu": (ops.relu, lambda k: k.activations.relu, [_away(3, 4)]),
    "relu_general": (lambda x: ops.relu(x, negative_slope=0.1, max_value=1.5, threshold=0.3),
                     lambda k: lambda x: k.activations.relu(x, negative_slope=0.1, max_value=1.5,
                                                            threshold=0.3),
                     [_away(3, 4) + np.float32(0.05)]),
    "relu6": (ops.relu6, lambda k: k.activations.relu6, [_away(3, 4) * 4]),
    "leaky_relu": (ops.leaky_relu, lambda k: k.activations.leaky_relu, [_away(3, 4)]),
    "elu": (ops.elu, lambda k: k.activations.elu, [_away(3, 4)]),
    "elu_alpha": (lambda x: ops.elu(x, alpha=0.5), lambda k: lambda x: k.activations.elu(x, 0.5),
                  [_away(3, 4)]),
    "selu": (ops.selu, lambda k: k.activations.selu, [_away(3, 4)]),
    "gelu": (lambda x: ops.gelu(x, approximate=False), lambda k: k.activations.gelu,
             [_normal(3, 4) * 2]),
    "gelu_tanh": (lambda x: ops.gelu(x, approximate=True),
                  lambda k: lambda x: k.activations.gelu(x, approximate=True),
                  [_normal(3, 4) * 2]),
    "sigmoid": (ops.sigmoid, lambda k: k.activations.sigmoid, [_normal(3, 4) * 3]),
    "hard_sigmoid": (ops.hard_sigmoid, lambda k: k.activations.hard_sigmoid,
                     [_away(3, 4) * 2]),
    "hard_silu": (ops.hard_silu, lambda k: k.activations.hard_silu, [_away(3, 4) * 2]),
    "tanh": (ops.tanh, lambda k: k.activations.tanh, [_normal(3, 4)]),
    "softmax": (ops.softmax, lambda k: k.activations.softmax, [_normal(3, 5)]),
    "softmax_axis1": (lambda x: ops.softmax(x, axis=1), lambda k: lambda x: k.ops.softmax(x, 1),
                      [_normal(2, 3, 4)]),
    "log_softmax": (ops.log_softmax, lambda k: k.ops.log_softmax, [_normal(3, 5)]),
    "softplus": (ops.softplus, lambda k: k.activations.softplus, [_normal(3, 4) * 3]),
    "softsign": (ops.softsign, lambda k: k.activations.softsign, [_normal(3, 4)]),
    "silu": (ops.silu, lambda k: k.activations.silu, [_normal(3, 4) * 2]),
    "exponential": (ops.exponential, lambda k: k.activations.exponential, [_normal(3, 4)]),
    "clip": (lambda x: ops.clip(x, -0.5, 0.7), lambda k: lambda x: k.ops.clip(x, -0.5, 0.7),
             [_away(3, 4) + np.float32(0.03)]),
    "sum_all": (ops.sum, lambda k: k.ops.sum, [_normal(3, 4)]),
    "sum_axis": (lambda x: ops.sum(x, axis=1), lambda k: lambda x: k.ops.sum(x, axis=1),
                 [_normal(2, 3, 4)]),
    "sum_keepdims": (lambda x: ops.sum(x, axis=(0, 2), keepdims=True),
                     lambda k: lambda x: k.ops.sum(x, axis=(0, 2), keepdims=True),
                     [_normal(2, 3, 4)]),
    "mean": (lambda x: ops.mean(x, axis=-1), lambda k: lambda x: k.ops.mean(x, axis=-1),
             [_normal(2, 3, 4)]),
    "mean_all": (ops.mean, lambda k: k.ops.mean, [_normal(2, 3)]),
    "max": (lambda x: ops.max(x, axis=1), lambda k: lambda x: k.ops.max(x, axis=1),
            [_distinct(2, 3, 4)]),
    "max_all": (ops.max, lambda k: k.ops.max, [_distinct(3, 4)]),
    "min": (lambda x: ops.min(x, axis=0), lambda k: lambda x: k.ops.min(x, axis=0),
            [_distinct(3, 4)]),
    "var": (lambda x: ops.var(x, axis=-1), lambda k: lambda x: k.ops.var(x, axis=-1),
            [_normal(3, 5)]),
    "reshape": (lambda x: ops.reshape(x, (4, -1)), lambda k: lambda x: k.ops.reshape(x, (4, -1)),
                [_normal(2, 3, 4)]),
    "transpose": (lambda x: ops.transpose(x, (2, 0, 1)),
                  lambda k: lambda x: k.ops.transpose(x, (2, 0, 1)), [_normal(2, 3, 4)]),
    "transpose_default": (ops.transpose, lambda k: k.ops.transpose, [_normal(2, 3)]),
    "slice_basic": (lambda x: x[1:, ::2, -1], lambda k: lambda x: x[1:, ::2, -1],
                    [_normal(3, 4, 5)]),
    "slice_gather": (lambda x: x[np.array([2, 0, 2])], lambda k: lambda x: k.ops.take(
        x, np.array([2, 0, 2]), axis=0), [_normal(3, 4)]),
    "expand_dims": (lambda x: ops.expand_dims(x, 1), lambda k: lambda x: k.ops.expand_dims(x, 1),
                    [_normal(3, 4)]),
    "squeeze": (lambda x: ops.squeeze(x, 1), lambda k: lambda x: k.ops.squeeze(x, 1),
                [_normal(3, 1, 4)]),
    "repeat": (lambda x: ops.repeat(x, 3, axis=1), lambda k: lambda x: k.ops.repeat(x, 3, axis=1),
               [_normal(2, 3)]),
    "tile": (lambda x: ops.tile(x, (2, 1, 3)), lambda k: lambda x: k.ops.tile(x, (2, 1, 3)),
             [_normal(2, 3)]),
    "prod": (lambda x: ops.prod(x, axis=1), lambda k: lambda x: k.ops.prod(x, axis=1),
             [_positive(3, 4)]),
    "std": (lambda x: ops.std(x, axis=0), lambda k: lambda x: k.ops.std(x, axis=0),
            [_normal(5, 3)]),
    "reciprocal": (ops.reciprocal, lambda k: k.ops.reciprocal, [_positive(3, 4)]),
    "split": (lambda x: ops.concatenate(ops.split(x, 2, axis=1)[::-1], axis=1),
              lambda k: lambda x: k.ops.concatenate(k.ops.split(x, 2, axis=1)[::-1], axis=1),
              [_normal(3, 4)]),
    "unstack": (lambda x: ops.unstack(x, axis=1)[2], lambda k: lambda x: k.ops.unstack(x, axis=1)[2],
                [_normal(2, 3, 4)]),
    "slice_op": (lambda x: ops.slice(x, (1, 0), (2, 3)),
                 lambda k: lambda x: k.ops.slice(x, (1, 0), (2, 3)), [_normal(3, 4)]),
    "flatten": (ops.flatten, lambda k: lambda x: k.ops.reshape(x, (2, -1)), [_normal(2, 3, 4)]),
    # keras.ops.pad documents NumPy's short forms (an int, one pair for every axis), which
    # its TF backend hands to tf.pad unbroadcast and fails on: the Keras side spells them out
    "pad_pairs": (lambda x: ops.pad(x, ((1, 2), (0, 3))),
                  lambda k: lambda x: k.ops.pad(x, ((1, 2), (0, 3))), [_normal(3, 4)]),
    "pad_int_value": (lambda x: ops.pad(x, 2, constant_values=1.5),
                      lambda k: lambda x: k.ops.pad(x, ((2, 2), (2, 2)), constant_values=1.5),
                      [_normal(2, 3)]),
    "pad_one_pair": (lambda x: ops.pad(x, (0, 2)),
                     lambda k: lambda x: k.ops.pad(x, ((0, 2),) * 3), [_normal(2, 3, 2)]),
    "pad_singletons": (lambda x: ops.pad(x, [[1], [2]]),
                       lambda k: lambda x: k.ops.pad(x, [[1], [2]]), [_normal(2, 3)]),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (2, 3, 4)),
                     lambda k: lambda x: k.ops.broadcast_to(x, (2, 3, 4)), [_normal(3, 1)]),
}

BINARY = {
    "add_broadcast": (ops.add, lambda k: k.ops.add, [_normal(2, 3, 4), _normal(3, 1)]),
    "subtract": (ops.subtract, lambda k: k.ops.subtract, [_normal(3, 4), _normal(4)]),
    "multiply": (ops.multiply, lambda k: k.ops.multiply, [_normal(3, 4), _normal(1, 4)]),
    "divide": (ops.divide, lambda k: k.ops.divide, [_normal(3, 4), _positive(3, 1)]),
    "power": (ops.power, lambda k: k.ops.power, [_positive(3, 4), _normal(4)]),
    "maximum": (ops.maximum, lambda k: k.ops.maximum, [_distinct(3, 4), _distinct(3, 4) + np.float32(0.1)]),
    "minimum": (ops.minimum, lambda k: k.ops.minimum, [_distinct(3, 4), _distinct(4) + np.float32(0.1)]),
    "where": (lambda a, b: ops.where(a > 0, a, b), lambda k: lambda a, b: k.ops.where(a > 0, a, b),
              [_away(3, 4), _normal(3, 4)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1),
                    lambda k: lambda a, b: k.ops.concatenate([a, b], axis=1),
                    [_normal(2, 3), _normal(2, 5)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1),
              lambda k: lambda a, b: k.ops.stack([a, b], axis=1), [_normal(2, 3), _normal(2, 3)]),
    "matmul_2d": (ops.matmul, lambda k: k.ops.matmul, [_normal(3, 4), _normal(4, 5)]),
    "matmul_batched": (ops.matmul, lambda k: k.ops.matmul, [_normal(2, 3, 4), _normal(2, 4, 5)]),
    "matmul_broadcast": (ops.matmul, lambda k: k.ops.matmul, [_normal(2, 3, 4), _normal(4, 5)]),
    "matmul_vec_mat": (ops.matmul, lambda k: k.ops.matmul, [_normal(4), _normal(4, 5)]),
    "matmul_mat_vec": (ops.matmul, lambda k: k.ops.matmul, [_normal(3, 4), _normal(4)]),
    "matmul_4d": (ops.matmul, lambda k: k.ops.matmul, [_normal(2, 1, 3, 4), _normal(3, 4, 2)]),
}


def _fd_check(fn, inputs, rtol=2e-3, atol=2e-3):
    r = np.random.default_rng(7).standard_normal(
        np.shape(fn(*[pykern.Tensor(x) for x in inputs]).numpy())).astype(np.float32)

    def scalar(*xs):
        return float(np.sum(fn(*[pykern.Tensor(x) for x in xs]).numpy().astype(np.float64) * r))
    variables = [pykern.Variable(x) for x in inputs]
    with pykern.GradientTape() as tape:
        loss = ops.sum(ops.multiply(fn(*variables), r))
    analytic = tape.gradient(loss, variables)
    numeric = numeric_gradients(scalar, inputs)
    for a, n in zip(analytic, numeric):
        # float32 forward: differences carry ~1e-7*|f|/eps of round-off (see numeric_gradients)
        np.testing.assert_allclose(a.numpy(), n, rtol=rtol, atol=atol)


CASES = {**UNARY, **BINARY}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    fn, _, inputs = CASES[name]
    _fd_check(fn, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_gradient_match_keras(name, keras):
    fn, kfn, inputs = CASES[name]
    # gelu: our erf fit errs < 1.2e-7 absolute, far below the float32 tolerance used here
    op_parity(fn, kfn(keras), inputs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_op_matches_keras(activation, use_bias, keras):
    x, w, b = _normal(5, 7), _normal(7, 3), _normal(3)
    kact = keras.activations.get(activation)

    def ours(x, w, *b):
        return ops.dense(x, w, b[0] if b else None, activation=activation)

    def theirs(x, w, *b):
        y = keras.ops.matmul(x, w)
        return kact(y + b[0] if b else y)
    inputs = [x, w, b] if use_bias else [x, w]
    op_parity(ours, theirs, inputs, rtol=1e-5, atol=1e-5)
    _fd_check(ours, inputs)


def test_dense_op_acts_on_last_axis_of_3d_input(keras):
    op_parity(lambda x, w, b: ops.dense(x, w, b, "relu"),
              lambda x, w, b: keras.activations.relu(keras.ops.matmul(x, w) + b),
              [_normal(2, 4, 6), _normal(6, 3), _normal(3)], rtol=1e-5, atol=1e-5)


def test_dense_op_is_one_fused_gemm_call(sgemm_calls):
    calls = sgemm_calls
    x, w, b = pykern.Variable(_normal(4, 3)), pykern.Variable(_normal(3, 2)), \
        pykern.Variable(_normal(2))
    y = ops.dense(x, w, b, "tanh")
    assert len(calls) == 1 and calls[0]["activation"] == "tanh" and calls[0]["bias"] is not None
    pykern.backend.gradients(ops.sum(y), [x, w, b])
    assert len(calls) == 3  # dx and dW, each one GEMM


def test_dense_op_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5, 2\)"):
        ops.dense(_normal(4, 3), _normal(5, 2))
    with pytest.raises(ValueError, match="gelu"):
        ops.dense(_normal(4, 3), _normal(3, 2), activation="gelu")


def test_matmul_of_plain_arrays_is_a_tensor_on_the_current_device():
    a, b = _normal(3, 4), _normal(4, 2)
    out = ops.matmul(a, b)
    assert isinstance(out, pykern.Tensor) and out.dtype == np.float32
    assert out.device.name == "cpu"
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-5, atol=1e-6)
    assert isinstance(ops.matmul(pykern.Tensor(a), b), pykern.Tensor)


def test_matmul_rejects_mismatched_inner_dimensions():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        ops.matmul(pykern.Tensor(_normal(3, 4)), _normal(5, 2))


def test_ops_accept_arrays_scalars_and_tensors_alike():
    x = _normal(2, 3)
    for y in (ops.add(x, 1), ops.add(pykern.Tensor(x), 1.0), ops.add(1, pykern.Tensor(x)),
              pykern.Tensor(x) + 1, 1 + pykern.Tensor(x), x.astype(np.float64) + pykern.Tensor(1.0)):
        assert isinstance(y, pykern.Tensor) and y.dtype == np.float32
        np.testing.assert_allclose(y.numpy(), x + 1, rtol=1e-6)


def test_tensor_operators_are_differentiable():
    a, b = pykern.Variable(_positive(2, 3)), pykern.Variable(_positive(3, 2))
    y = ops.sum(((a * 2 - 1) / a) ** 2 @ b + (-a)[:, :2].sum())
    ga, gb = pykern.backend.gradients(y, [a, b])
    num = numeric_gradients(
        lambda av, bv: float(np.sum(((((av * 2 - 1) / av) ** 2) @ bv) + (-av)[:, :2].sum())),
        [a.numpy(), b.numpy()])
    np.testing.assert_allclose(ga.numpy(), num[0], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(gb.numpy(), num[1], rtol=2e-3, atol=2e-3)


def test_reshape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, -1\)|\(2, 3\).*\(4, 5\)"):
        ops.reshape(_normal(2, 3), (4, 5))


def test_pad_errors_quote_the_bad_argument():
    x = _normal(2, 3)
    with pytest.raises(ValueError, match=r"pad widths must be >= 0.*\(1, -1\)"):
        ops.pad(x, ((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="one entry per axis.*rank 2"):
        ops.pad(x, ((1, 1), (0, 0), (2, 2)))
    with pytest.raises(ValueError, match="mode must be one of.*'mirror'"):
        ops.pad(x, 1, mode="mirror")
    with pytest.raises(ValueError, match="constant_values.*'reflect'"):
        ops.pad(x, 1, mode="reflect", constant_values=2.0)
    with pytest.raises(NotImplementedError, match="'reflect'"):
        ops.pad(x, 1, mode="reflect")


def test_concatenate_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)"):
        ops.concatenate([_normal(2, 3), _normal(3, 3)], axis=1)


def test_convert_to_numpy_and_tensor_round_trip():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = ops.convert_to_tensor(x)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(ops.convert_to_numpy(t), x)
    assert ops.convert_to_tensor(np.arange(3)).dtype.kind == "i"


def test_dropout_op_is_inverted_and_seeded():
    from pykern.backend.random import SeedGenerator
    x = np.ones((200, 50), np.float32)
    y = ops.dropout(x, 0.5, seed=SeedGenerator(3)).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert abs(y.mean() - 1.0) < 0.05
    y2 = ops.dropout(x, 0.5, seed=SeedGenerator(3)).numpy()
    np.testing.assert_array_equal(y, y2)
    ns = ops.dropout(x, 0.5, noise_shape=(1, None), seed=SeedGenerator(4)).numpy()
    assert (ns == ns[0]).all()
    assert not ops.dropout(x, 1.0).numpy().any()
