"""Every layer against TensorFlow-Keras: outputs and the gradients of a scalar
loss w.r.t. inputs and weights after copying Keras' weights; plus shapes,
configs and the errors bad input raises."""
import numpy as np
import pytest

import pykern
from pykern import layers
from parity import layer_parity

RNG = np.random.default_rng(3)


def _x(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


ACTIVATIONS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
               "hard_sigmoid", "tanh", "softmax", "softplus", "softsign", "swish", "silu",
               "exponential", "log_softmax", "hard_silu", "mish"]


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "gelu", "softmax",
                                        "elu", "selu", "swish"])
def test_dense_matches_keras(activation, keras):
    # 1e-5 relative on outputs: float32 GEMM with K=6 differs from Eigen's by a few ulps
    layer_parity(layers.Dense(5, activation=activation), keras.layers.Dense(5, activation=activation),
                 _x(4, 6), rtol=1e-5, atol=2e-6)


def test_dense_without_bias_on_3d_input_matches_keras(keras):
    layer_parity(layers.Dense(3, use_bias=False, activation="relu"),
                 keras.layers.Dense(3, use_bias=False, activation="relu"), _x(2, 5, 4),
                 rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_layer_matches_keras_for_every_name(name, keras):
    x = _x(3, 5, scale=2.0)
    layer_parity(layers.Activation(name), keras.layers.Activation(name), x,
                 rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["relu", "tanh", "gelu", "softmax"])
def test_activation_accepts_functions(name, keras):
    fn = getattr(pykern.activations, name)
    layer_parity(layers.Activation(fn), keras.layers.Activation(name), _x(3, 4))
    layer_parity(layers.Dense(2, activation=fn), keras.layers.Dense(2, activation=name),
                 _x(3, 4), atol=2e-6)


@pytest.mark.parametrize("make", [
    lambda L: L.ReLU(),
    lambda L: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2),
    lambda L: L.LeakyReLU(),
    lambda L: L.LeakyReLU(negative_slope=0.05),
    lambda L: L.Softmax(),
    lambda L: L.Softmax(axis=1),
    lambda L: L.ELU(),
    lambda L: L.ELU(alpha=0.5),
    lambda L: L.PReLU(),
    lambda L: L.PReLU(shared_axes=[1]),
], ids=["relu", "relu_args", "leaky", "leaky_slope", "softmax", "softmax_axis1", "elu",
        "elu_alpha", "prelu", "prelu_shared"])
def test_activation_layers_match_keras(make, keras):
    x = _x(2, 3, 4, scale=2.0)
    layer_parity(make(layers), make(keras.layers), x)


def test_dropout_is_identity_at_inference_and_matches_keras(keras):
    layer_parity(layers.Dropout(0.5), keras.layers.Dropout(0.5), _x(4, 6), training=False)


def test_dropout_training_is_inverted_and_its_gradient_is_the_mask():
    layer = layers.Dropout(0.25, seed=1)
    x = pykern.Variable(np.ones((64, 32), np.float32))
    with pykern.GradientTape() as tape:
        y = layer(x, training=True)
    g = tape.gradient(pykern.ops.sum(y), x).numpy()
    values = set(np.unique(y.numpy()))
    assert values <= {0.0, np.float32(1 / 0.75)}
    np.testing.assert_array_equal(g, y.numpy())  # dy/dx = mask / (1 - rate) with x = 1
    assert abs((y.numpy() == 0).mean() - 0.25) < 0.05


def test_dropout_noise_shape_broadcasts_the_mask():
    y = layers.Dropout(0.5, noise_shape=(None, 1, 5), seed=2)(np.ones((3, 4, 5), np.float32),
                                                             training=True).numpy()
    assert (y == y[:, :1, :]).all()


def test_dropout_seed_gives_reproducible_masks():
    x = np.ones((8, 8), np.float32)
    a = layers.Dropout(0.5, seed=7)(x, training=True).numpy()
    b = layers.Dropout(0.5, seed=7)(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)


def test_dropout_rate_one_gives_zeros():
    assert not layers.Dropout(1.0)(np.ones((2, 3)), training=True).numpy().any()


@pytest.mark.parametrize("make,shape", [
    (lambda L: L.Flatten(), (2, 3, 4, 5)),
    (lambda L: L.Flatten(data_format="channels_first"), (2, 3, 4, 5)),
    (lambda L: L.Reshape((4, -1)), (2, 3, 4)),
    (lambda L: L.Reshape((12,)), (2, 3, 4)),
    (lambda L: L.Permute((2, 1)), (2, 3, 4)),
    (lambda L: L.Permute((3, 1, 2)), (2, 3, 4, 5)),
    (lambda L: L.RepeatVector(3), (2, 4)),
    (lambda L: L.Identity(), (2, 4)),
], ids=["flatten", "flatten_cf", "reshape_infer", "reshape", "permute", "permute3", "repeat",
        "identity"])
def test_shape_layers_match_keras(make, shape, keras):
    layer_parity(make(layers), make(keras.layers), _x(*shape))


def test_lambda_layer_matches_keras(keras):
    layer_parity(layers.Lambda(lambda t: pykern.ops.square(t) * 2.0),
                 keras.layers.Lambda(lambda t: keras.ops.square(t) * 2.0), _x(3, 4))


@pytest.mark.parametrize("name", ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                  "Minimum"])
def test_elementwise_merge_layers_match_keras(name, keras):
    n = 2 if name == "Subtract" else 3
    xs = [_x(4, 5) for _ in range(n)]
    layer_parity(getattr(layers, name)(), getattr(keras.layers, name)(), xs)


def test_add_broadcasts_like_keras(keras):
    layer_parity(layers.Add(), keras.layers.Add(), [_x(4, 3, 5), _x(4, 1, 5)])


@pytest.mark.parametrize("axis", [-1, 1])
def test_concatenate_matches_keras(axis, keras):
    xs = [_x(2, 3, 4), _x(2, 3, 4)]
    layer_parity(layers.Concatenate(axis=axis), keras.layers.Concatenate(axis=axis), xs)


@pytest.mark.parametrize("axes,shapes,normalize", [
    (1, [(4, 5), (4, 5)], False),
    (-1, [(4, 5), (4, 5)], True),
    ((2, 1), [(2, 3, 4), (2, 4, 5)], False),
    (1, [(2, 3, 4), (2, 3, 5)], False),
    ((2, 2), [(2, 3, 4), (2, 5, 4)], True),
])
def test_dot_matches_keras(axes, shapes, normalize, keras):
    xs = [_x(*s) for s in shapes]
    layer_parity(layers.Dot(axes, normalize=normalize),
                 keras.layers.Dot(axes, normalize=normalize), xs, rtol=1e-5, atol=2e-6)


def test_functional_merge_helpers_build_layers():
    a, b = pykern.Input((3,)), pykern.Input((3,))
    for fn in (layers.add, layers.subtract, layers.multiply, layers.average, layers.maximum,
               layers.minimum, layers.concatenate):
        assert isinstance(fn([a, b])._keras_history[0], layers.Layer)
    assert layers.dot([a, b], axes=1).shape == (None, 1)


# --- contracts: names, weights, configs --------------------------------------------------

def test_automatic_names_follow_keras(fresh_names):
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.LeakyReLU().name == "leaky_re_lu"
    assert layers.PReLU().name == "p_re_lu"
    assert layers.Input((2,))._keras_history[0].name == "input_layer"


def test_dense_weights_have_keras_shapes_names_and_initializers():
    layer = layers.Dense(7)
    layer.build((None, 5))
    kernel, bias = layer.weights
    assert (kernel.shape, bias.shape) == ((5, 7), (7,))
    assert (kernel.name, bias.name) == ("kernel", "bias")
    limit = np.sqrt(6 / (5 + 7))
    assert np.abs(kernel.numpy()).max() <= limit and not bias.numpy().any()
    assert layer.count_params() == 42


def test_freezing_keeps_weight_order_and_empties_trainable_weights():
    layer = layers.Dense(2)
    layer.build((None, 3))
    before = layer.weights
    layer.trainable = False
    assert layer.weights == before and layer.trainable_weights == []
    assert layer.non_trainable_weights == before
    layer.trainable = True
    assert layer.trainable_weights == before


def test_set_weights_checks_count_and_shapes():
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError, match="dense.*expects 2 weight arrays"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_add_weight_with_regularizer_reaches_losses():
    layer = layers.Dense(2, kernel_regularizer="l2", bias_regularizer=pykern.regularizers.L1(0.5),
                         activity_regularizer=pykern.regularizers.L2(0.1))
    x = _x(4, 3)
    y = layer(x)
    kernel, bias = layer.get_weights()
    expected = [0.1 * np.sum(y.numpy() ** 2) / 4, 0.01 * np.sum(kernel ** 2),
                0.5 * np.sum(np.abs(bias))]
    got = sorted(float(v) for v in layer.losses)
    np.testing.assert_allclose(got, sorted(expected), rtol=1e-5)
    total = pykern.ops.add(layer.losses[1], layer.losses[2])
    g = pykern.backend.gradients(total, [layer.kernel])[0].numpy()
    np.testing.assert_allclose(g, 2 * 0.01 * kernel, rtol=1e-5)


def test_custom_layer_with_add_weight_trains_through_the_tape():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, inputs):
            return pykern.ops.multiply(inputs, self.w)

    layer = Scale()
    x = _x(3, 4)
    with pykern.GradientTape() as tape:
        loss = pykern.ops.sum(layer(x))
    (g,) = tape.gradient(loss, layer.trainable_weights)
    np.testing.assert_allclose(g.numpy(), x.sum(0), rtol=1e-6)
    assert layer.compute_output_shape((None, 4)) == (None, 4)


CONFIG_LAYERS = [
    lambda: layers.Dense(3, activation="relu", kernel_regularizer="l1",
                         kernel_constraint="max_norm", kernel_initializer="he_normal"),
    lambda: layers.Activation("gelu"), lambda: layers.Dropout(0.3, noise_shape=(None, 1), seed=4),
    lambda: layers.Flatten(), lambda: layers.Reshape((2, -1)), lambda: layers.Permute((2, 1)),
    lambda: layers.RepeatVector(2), lambda: layers.ReLU(max_value=6.0), lambda: layers.LeakyReLU(),
    lambda: layers.Softmax(axis=1), lambda: layers.ELU(0.7), lambda: layers.PReLU(shared_axes=[1]),
    lambda: layers.Add(), lambda: layers.Subtract(), lambda: layers.Multiply(),
    lambda: layers.Average(), lambda: layers.Maximum(), lambda: layers.Minimum(),
    lambda: layers.Concatenate(axis=1), lambda: layers.Dot(axes=(1, 2), normalize=True),
    lambda: layers.Identity(), lambda: layers.ActivityRegularization(l1=0.1),
    lambda: layers.InputLayer(shape=(3, 4), name="inp"), lambda: layers.Masking(-1.0),
]


@pytest.mark.parametrize("make", CONFIG_LAYERS)
def test_every_layer_round_trips_through_its_config(make):
    from pykern.utils import deserialize_keras_object, serialize_keras_object
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert deserialize_keras_object(serialize_keras_object(layer)).get_config() == config


def test_dense_config_matches_keras_keys(keras):
    ours = layers.Dense(3, activation="relu").get_config()
    theirs = keras.layers.Dense(3, activation="relu").get_config()
    for key in ("units", "activation", "use_bias", "kernel_regularizer", "bias_constraint"):
        assert ours[key] == theirs[key]
    assert ours["dtype"] == theirs["dtype"]
    assert ours["kernel_initializer"]["class_name"] == theirs["kernel_initializer"]["class_name"]
    assert set(ours) <= set(theirs)


def test_lambda_config_needs_unsafe_opt_in_to_load():
    from pykern.utils import SafeModeScope
    layer = layers.Lambda(lambda t: t * 3.0)
    config = layer.get_config()
    with pytest.raises(ValueError, match="safe mode"):
        layers.Lambda.from_config(config)
    with SafeModeScope(False):
        again = layers.Lambda.from_config(config)
    np.testing.assert_allclose(again(np.ones((1, 2), np.float32)).numpy(), 3.0)


# --- bad input --------------------------------------------------------------------------

def test_dense_called_on_wrong_feature_size_names_layer_and_shapes():
    layer = layers.Dense(2, name="head")
    layer(np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"head.*\(\.\.\., 3\).*\(1, 4\)"):
        layer(np.ones((1, 4), np.float32))


def test_dense_on_rank_1_input_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"head.*rank >= 2.*\(3,\)"):
        layers.Dense(2, name="head")(np.ones(3, np.float32))


def test_connecting_incompatible_shapes_names_layer_and_shapes():
    a, b = pykern.Input((3,)), pykern.Input((4,))
    with pytest.raises(ValueError, match=r"add_x.*\(None, 3\).*\(None, 4\)"):
        layers.Add(name="add_x")([a, b])
    with pytest.raises(ValueError, match=r"cat.*\(None, 2, 3\).*\(None, 4, 3\)"):
        layers.Concatenate(axis=-1, name="cat")([pykern.Input((2, 3)), pykern.Input((4, 3))])
    d = layers.Dense(2, name="d1")
    d(a)
    with pytest.raises(ValueError, match=r"d1.*\(None, 4\)"):
        d(b)
    with pytest.raises(ValueError, match=r"r1.*\(None, 3\).*\(2, 2\)"):
        layers.Reshape((2, 2), name="r1")(a)
    with pytest.raises(ValueError, match=r"dd.*3.*4"):
        layers.Dot(axes=1, name="dd")([a, b])


def test_merge_layers_reject_a_single_input():
    with pytest.raises(ValueError, match="add_one.*list"):
        layers.Add(name="add_one")(pykern.Input((3,)))
    with pytest.raises(ValueError, match="sub.*exactly 2"):
        layers.Subtract(name="sub")([pykern.Input((3,))] * 3)


def test_unknown_activation_and_initializer_names_are_quoted():
    with pytest.raises(ValueError, match="'relux'"):
        layers.Dense(2, activation="relux")
    with pytest.raises(ValueError, match="'glorot_unifrom'"):
        layers.Dense(2, kernel_initializer="glorot_unifrom")
    with pytest.raises(ValueError, match="'l3'"):
        layers.Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match="'maxnorm2'"):
        layers.Dense(2, kernel_constraint="maxnorm2")


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="units.*-1"):
        layers.Dense(-1)
    with pytest.raises(ValueError, match="rate.*1.5"):
        layers.Dropout(1.5)
    with pytest.raises(TypeError, match="Dense.*unexpected.*'foo'"):
        layers.Dense(2, foo=1)
    with pytest.raises(ValueError, match="float64"):
        layers.Dense(2, dtype="float64")
    with pytest.raises(ValueError, match="Permute.*permutation"):
        layers.Permute((1, 3))


# --- masks ----------------------------------------------------------------------------------

def _masked_input():
    x = _x(2, 4, 3)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    return x


def _mask_graph(L, M):
    inp = L.Input((4, 3))
    m = L.Masking(0.0, name="mask")(inp)
    a = L.Dense(5, activation="relu", name="a")(m)
    b = L.Activation("tanh", name="b")(L.Dropout(0.1, name="drop")(a))
    s = L.Add(name="add")([a, b])
    c = L.Concatenate(name="cat")([s, L.Dense(2, name="plain")(inp)])
    return M.Model(inp, c, name="masked")


def test_masks_propagate_like_keras(keras):
    ours, theirs = _mask_graph(layers, pykern), _mask_graph(keras.layers, keras)
    ours.set_weights(theirs.get_weights())
    x = _masked_input()
    for name in ("mask", "a", "drop", "b", "add", "cat"):
        sub_o = pykern.Model(ours.inputs[0], ours.get_layer(name).output)
        sub_t = keras.Model(theirs.inputs[0], theirs.get_layer(name).output)
        out_o, out_t = sub_o(x), sub_t(x)
        np.testing.assert_allclose(out_o.numpy(), np.asarray(out_t), rtol=1e-5, atol=1e-6)
        mask_t = getattr(out_t, "_keras_mask", None)
        mask_o = getattr(out_o, "_keras_mask", None)
        assert (mask_o is None) == (mask_t is None), name
        if mask_t is not None:
            np.testing.assert_array_equal(mask_o.numpy(), np.asarray(mask_t), err_msg=name)


def test_softmax_uses_the_mask_like_keras(keras):
    x = _x(2, 5)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], bool)
    ours = layers.Softmax()(x, mask=mask).numpy()
    theirs = np.asarray(keras.layers.Softmax()(x, mask=mask))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 5\)"):
        layers.Softmax()(x, mask=np.ones(3, bool))


def test_masking_layer_matches_keras_and_passes_gradients(keras):
    layer_parity(layers.Masking(0.0), keras.layers.Masking(0.0), _masked_input())


def test_layers_without_mask_support_drop_the_mask():
    y = layers.Flatten()(layers.Masking()(_masked_input()))
    assert getattr(y, "_keras_mask", None) is None


def test_prelu_called_on_another_shape_names_layer_and_shapes():
    layer = layers.PReLU(name="pr")
    layer(_x(2, 3, 4))
    with pytest.raises(ValueError, match=r"pr.*\(3, 4\).*\(2, 5, 4\)"):
        layer(_x(2, 5, 4))


@pytest.mark.parametrize("activation,fused", [("relu", "relu"), ("tanh", "tanh"), (None, "none"),
                                              ("gelu", "none")])
def test_dense_layer_forward_is_one_gemm_with_fused_epilogue(activation, fused, sgemm_calls):
    calls = sgemm_calls
    layer = layers.Dense(3, activation=activation)
    layer(_x(4, 5))
    assert len(calls) == 1
    assert calls[0]["activation"] == fused and calls[0]["bias"] is not None
