"""Tensor, Variable, the autograd engine, GradientTape, the K.* helpers, seeding,
initializers, regularizers, constraints and activation lookup."""
import numpy as np
import pytest

import pykern
from pykern import backend as K
from pykern import constraints, initializers, ops, regularizers
from pykern.backend import GradientTape, Tensor, Variable, gradients


# --- Variable ---------------------------------------------------------------------------------

def test_variable_holds_a_float32_copy_with_name_and_trainable_flag():
    src = np.arange(6, dtype=np.float64).reshape(2, 3)
    v = Variable(src, name="w", trainable=False)
    assert v.dtype == np.float32 and v.shape == (2, 3) and v.name == "w" and not v.trainable
    src[0, 0] = 100
    assert v.numpy()[0, 0] == 0
    copy = v.numpy()
    copy[:] = 5
    assert v.numpy()[0, 0] == 0


def test_variable_assign_updates_the_same_buffer_in_place():
    v = Variable(np.zeros(3))
    buffer = v._data  # the storage: native optimizer plans hold on to it
    v.assign([1, 2, 3])
    v.assign_add(np.ones(3))
    v.assign_sub(np.full(3, 0.5))
    assert v._data is buffer
    np.testing.assert_array_equal(v.numpy(), [1.5, 2.5, 3.5])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        v.assign(np.zeros(2))


def test_variable_from_initializer_and_shape():
    v = Variable(initializers.Ones(), shape=(2, 2))
    np.testing.assert_array_equal(v.numpy(), np.ones((2, 2)))


# --- autograd ----------------------------------------------------------------------------------

def test_gradient_accumulates_over_every_use_of_a_tensor():
    x = Variable([1.0, 2.0, 3.0])
    y = ops.sum(x * x + 3.0 * x + ops.exp(x))  # x used three times
    (g,) = gradients(y, [x])
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy() + 3 + np.exp(x.numpy()), rtol=1e-6)


def test_unconnected_sources_get_none():
    x, z = Variable([1.0]), Variable([2.0])
    assert gradients(ops.sum(x * 2.0), [x, z])[1] is None


def test_gradient_wrt_intermediate_tensor_and_constant():
    c = ops.convert_to_tensor([1.0, 2.0])
    h = c * 3.0
    y = ops.sum(ops.square(h))
    gh, gc = gradients(y, [h, c])
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(gc.numpy(), 6 * h.numpy())


def test_output_gradients_seed_the_backward_pass():
    x = Variable([1.0, 2.0])
    (g,) = gradients(x * 3.0, [x], output_gradients=[np.array([1.0, -2.0])])
    np.testing.assert_allclose(g.numpy(), [3.0, -6.0])


def test_returned_gradients_are_independent_writable_arrays():
    a, b = Variable(np.ones(3)), Variable(np.ones(3))
    ga, gb = gradients(ops.sum(a + b), [a, b])
    ga.numpy()[:] = 7  # must not change gb
    np.testing.assert_array_equal(gb.numpy(), np.ones(3))


def test_no_grad_records_nothing():
    x = Variable([1.0])
    with pykern.no_grad():
        y = x * 2.0
    assert gradients(y, [x]) == [None]


def test_deep_chains_do_not_hit_the_recursion_limit():
    x = Variable([1.0])
    y = x
    for _ in range(3000):
        y = y * 1.0
    np.testing.assert_allclose(gradients(ops.sum(y), [x])[0].numpy(), [1.0])


# --- GradientTape -------------------------------------------------------------------------------

def test_tape_returns_the_structure_of_the_sources():
    w, b = Variable(np.ones((2, 2))), Variable(np.zeros(2))
    with GradientTape() as tape:
        loss = ops.sum(ops.matmul(np.ones((1, 2), np.float32), w) + b)
    grads = tape.gradient(loss, {"w": w, "pair": [b, w]})
    assert set(grads) == {"w", "pair"} and grads["pair"][0].shape == (2,)


def test_non_persistent_tape_computes_once_and_persistent_many_times():
    x = Variable([2.0])
    with GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)
    with GradientTape(persistent=True) as tape:
        y = x * x
        z = x * 3.0
    assert float(tape.gradient(y, x).numpy()[0]) == 4.0
    assert float(tape.gradient(z, x).numpy()[0]) == 3.0


def test_tape_records_inside_no_grad_and_sums_a_list_of_targets():
    x = Variable([1.0, 2.0])
    with pykern.no_grad():
        with GradientTape() as tape:
            tape.watch(x)
            y1, y2 = ops.sum(x * 2.0), ops.sum(x * x)
    np.testing.assert_allclose(tape.gradient([y1, y2], x).numpy(), 2.0 + 2 * x.numpy())


def test_tape_matches_tensorflow_on_a_composite_function(tf):
    xv = np.array([[0.5, -1.0], [2.0, 0.3]], np.float32)
    x = Variable(xv)
    with GradientTape() as tape:
        y = ops.sum(ops.softmax(ops.matmul(x, x)) * ops.tanh(x))
    tx = tf.Variable(xv)
    with tf.GradientTape() as ttape:
        ty = tf.reduce_sum(tf.nn.softmax(tx @ tx) * tf.tanh(tx))
    np.testing.assert_allclose(float(y), float(ty), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), ttape.gradient(ty, tx).numpy(),
                               rtol=1e-5, atol=1e-6)


# --- K.* helpers ---------------------------------------------------------------------------------

def test_keras2_style_helpers():
    v = K.variable(np.array([[1.0, 2.0], [3.0, 4.0]]), name="v")
    assert isinstance(v, Variable) and v.name == "v"
    c = K.constant(2.0, shape=(2, 2))
    loss = K.sum(K.square(v * c)) + K.mean(v)
    np.testing.assert_allclose(K.eval(loss), 4 * 30 + 2.5)
    (g,) = K.gradients(loss, [v])
    np.testing.assert_allclose(K.eval(g), 8 * K.eval(v) + 0.25)
    assert K.int_shape(v) == (2, 2) and K.int_shape(pykern.Input((3,))) == (None, 3)
    assert K.floatx() == "float32" and K.epsilon() == 1e-7
    K.set_value(v, np.zeros((2, 2)))
    assert not K.get_value(v).any()
    assert K.eval(K.sum(v, axis=0, keepdims=True)).shape == (1, 2)


def test_k_function_extracts_intermediate_outputs():
    inp = pykern.Input((3,))
    hidden = pykern.layers.Dense(4, activation="relu")(inp)
    out = pykern.layers.Dense(2)(hidden)
    model = pykern.Model(inp, out)
    x = np.ones((5, 3), np.float32)
    h, o = K.function([model.input], [hidden, model.output])([x])
    assert isinstance(h, np.ndarray) and h.shape == (5, 4)
    np.testing.assert_allclose(o, model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(K.eval(K.concatenate([x, x])), np.ones((5, 6)))
    assert K.int_shape(K.transpose(x)) == (3, 5)


def test_clear_session_restarts_automatic_names():
    K.clear_session()
    assert pykern.layers.Dense(1).name == "dense"
    K.clear_session()
    assert pykern.layers.Dense(1).name == "dense"


def test_tensor_interoperates_with_numpy():
    t = Tensor(np.arange(3, dtype=np.float32))
    assert np.asarray(t).dtype == np.float32 and len(t) == 3
    r = np.ones(3, np.float32) * t
    assert isinstance(r, Tensor)
    assert float(ops.sum(t)) == 3.0
    np.testing.assert_allclose(np.exp(t), np.exp(np.arange(3)), rtol=1e-6)
    assert float(np.sum(t)) == 3.0 and float(t.mean()) == 1.0


# --- seeding and initializers -------------------------------------------------------------------

def test_set_random_seed_makes_unseeded_initializers_reproducible():
    pykern.utils.set_random_seed(5)
    a = initializers.GlorotUniform()((4, 3))
    pykern.utils.set_random_seed(5)
    b = initializers.GlorotUniform()((4, 3))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, initializers.GlorotUniform()((4, 3)))


def test_seeded_initializer_repeats_its_values():
    init = initializers.RandomNormal(seed=3)
    np.testing.assert_array_equal(init((5,)), init((5,)))


@pytest.mark.parametrize("name,scale,fan", [
    ("glorot_uniform", 1.0, "avg"), ("he_uniform", 2.0, "in"), ("lecun_uniform", 1.0, "in")])
def test_uniform_variance_scaling_limits(name, scale, fan):
    w = initializers.get(name)((200, 100))
    n = {"avg": 150, "in": 200}[fan]
    limit = np.sqrt(3 * scale / n)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.02 * limit


@pytest.mark.parametrize("name,scale,n", [
    ("glorot_normal", 1.0, 150), ("he_normal", 2.0, 200), ("lecun_normal", 1.0, 200)])
def test_truncated_normal_variance_scaling_has_the_target_std(name, scale, n):
    w = initializers.get(name)((200, 100))
    std = np.sqrt(scale / n)
    assert abs(w.std() - std) < 0.03 * std
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


def test_conv_kernel_fans_include_the_receptive_field():
    w = initializers.GlorotUniform()((3, 3, 4, 8))
    assert np.abs(w).max() <= np.sqrt(6 / (9 * 4 + 9 * 8))


def test_random_and_constant_initializers():
    u = initializers.RandomUniform(-0.2, 0.3)((1000,))
    assert u.min() >= -0.2 and u.max() < 0.3
    t = initializers.TruncatedNormal(stddev=1.0)((5000,))
    assert np.abs(t).max() <= 2.0
    np.testing.assert_array_equal(initializers.Constant(3.0)((2,)), [3.0, 3.0])
    np.testing.assert_array_equal(initializers.get("ones")((2,)), [1.0, 1.0])
    np.testing.assert_array_equal(initializers.Identity(2.0)((2, 3)), 2 * np.eye(2, 3))


@pytest.mark.parametrize("shape", [(4, 16), (16, 4), (3, 2, 5)])
def test_orthogonal_initializer_gives_orthonormal_rows_or_columns(shape):
    w = initializers.Orthogonal()(shape).reshape(-1, shape[-1])
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] == small else w.T @ w
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)


def test_initializer_lookup_accepts_keras_spellings():
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("he_normal"), initializers.HeNormal)
    cfg = {"module": "keras.initializers", "class_name": "RandomNormal",
           "config": {"mean": 1.0, "stddev": 0.0, "seed": None}, "registered_name": None}
    np.testing.assert_array_equal(initializers.get(cfg)((2,)), [1.0, 1.0])
    with pytest.raises(ValueError, match="'nope'"):
        initializers.get("nope")


# --- regularizers, constraints, activations ---------------------------------------------------

def test_regularizers_compute_keras_penalties(keras):
    w = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for ours, theirs in [(regularizers.L1(0.3), keras.regularizers.L1(0.3)),
                         (regularizers.L2(0.2), keras.regularizers.L2(0.2)),
                         (regularizers.L1L2(0.1, 0.4), keras.regularizers.L1L2(0.1, 0.4)),
                         (regularizers.get("l1l2"), keras.regularizers.get("l1l2")),
                         (regularizers.get("L2"), keras.regularizers.get("L2")),
                         (regularizers.get("l1_l2"), keras.regularizers.l1_l2())]:
        np.testing.assert_allclose(float(ours(w)), float(theirs(w)), rtol=1e-6)
        assert ours.get_config() == theirs.get_config()


@pytest.mark.parametrize("name,args", [("MaxNorm", {"max_value": 1.5, "axis": 0}),
                                       ("NonNeg", {}), ("UnitNorm", {"axis": 1}),
                                       ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.0,
                                                       "rate": 0.7})])
def test_constraints_match_keras(name, args, keras):
    w = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32) * 2
    ours = getattr(constraints, name)(**args)
    theirs = getattr(keras.constraints, name)(**args)
    np.testing.assert_allclose(ours(w), np.asarray(theirs(w)), rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config()


def test_activation_lookup_and_serialization():
    from pykern import activations
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.serialize(activations.get("swish")) == "silu"
    assert activations.serialize(None) == "linear"
    with pytest.raises(ValueError, match="'relux'"):
        activations.get("relux")


def test_custom_objects_register_by_name():
    from pykern.utils import (deserialize_keras_object, register_keras_serializable,
                              serialize_keras_object)

    @register_keras_serializable(package="Test")
    class Doubler(pykern.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    cfg = serialize_keras_object(Doubler(name="dbl"))
    assert cfg["registered_name"] == "Test>Doubler"
    again = deserialize_keras_object(cfg)
    assert isinstance(again, Doubler) and again.name == "dbl"
