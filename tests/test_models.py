"""Sequential, functional and subclassed models against TensorFlow-Keras: outputs,
gradients, weight order, layer order, summary text; plus building, configs,
seeding and errors."""
import numpy as np
import pytest

import pykern
from pykern import layers
from parity import layer_parity
from seed_cnns import cifar_cnn, mnist_cnn

RNG = np.random.default_rng(11)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _mlp(L, M, **kw):
    return M.Sequential([L.Input((6,)), L.Dense(8, activation="relu", name="h1"),
                         L.Dropout(0.2, name="drop"), L.Dense(5, activation="gelu", name="h2"),
                         L.Dense(3, activation="softmax", name="out")], **kw)


def test_sequential_matches_keras_after_copying_weights(keras):
    layer_parity(_mlp(layers, pykern, name="mlp"), _mlp(keras.layers, keras, name="mlp"),
                 _x(4, 6), rtol=1e-5, atol=2e-6)


def _branching(L, M):
    """tokens -> d0 -> {a, b}; add(a, b(d0), c(tokens)) -> ln; cat(ln, e(d0)) -> out, aux."""
    tokens = L.Input((5,), name="tokens")
    side = L.Input((3,), name="side")
    d0 = L.Dense(6, activation="tanh", name="d0")(tokens)
    a = L.Dense(4, name="a")(d0)
    b = L.Dense(4, activation="relu", name="b")(d0)
    c = L.Dense(4, name="c")(tokens)
    s = L.Add(name="add")([a, b, c])
    ln = L.Dense(4, activation="sigmoid", name="ln")(s)
    e = L.Dense(2, name="e")(d0)
    cat = L.Concatenate(name="cat")([ln, e, side])
    out = L.Dense(3, name="out")(cat)
    aux = L.Dense(1, name="aux")(e)
    return M.Model([tokens, side], [out, aux], name="branchy")


def test_branching_functional_model_orders_layers_and_weights_as_keras(keras):
    ours, theirs = _branching(layers, pykern), _branching(keras.layers, keras)
    assert [l.name for l in ours.layers] == [l.name for l in theirs.layers]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]


def test_branching_functional_model_matches_keras(keras):
    layer_parity(_branching(layers, pykern), _branching(keras.layers, keras),
                 [_x(4, 5), _x(4, 3)], rtol=1e-5, atol=2e-6)


def _shared_and_nested(L, M):
    inner = M.Sequential([L.Dense(4, activation="relu", name="in1"), L.Dense(4, name="in2")],
                         name="inner")
    x1, x2 = L.Input((4,), name="x1"), L.Input((4,), name="x2")
    shared = L.Dense(4, activation="tanh", name="shared")
    h1, h2 = shared(x1), shared(x2)
    sub_in = L.Input((4,), name="sub_in")
    sub = M.Model(sub_in, L.Dense(2, name="sub_d")(sub_in), name="sub")
    y = L.Subtract(name="sub_op")([inner(h1), h2])
    return M.Model([x1, x2], sub(y), name="outer")


def test_shared_layers_and_models_as_layers_match_keras(keras):
    ours, theirs = _shared_and_nested(layers, pykern), _shared_and_nested(keras.layers, keras)
    assert [l.name for l in ours.layers] == [l.name for l in theirs.layers]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    layer_parity(ours, theirs, [_x(3, 4), _x(3, 4)], rtol=1e-5, atol=2e-6)


def test_sequential_weight_order_and_shapes_match_keras(keras):
    pykern.backend.clear_session()  # the paths hold the automatic model names
    keras.backend.clear_session()
    ours, theirs = _mlp(layers, pykern), _mlp(keras.layers, keras)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert len(ours.layers) == len(theirs.layers) == 4  # the InputLayer is not listed


def _capture_summary(model, **kwargs):
    lines = []
    model.summary(print_fn=lambda s, **_: lines.append(s), **kwargs)
    return "\n".join(lines).rstrip("\n")


@pytest.mark.parametrize("build", [
    lambda L, M: _mlp(L, M, name="mlp"),
    _branching,
    _shared_and_nested,
], ids=["sequential", "branching", "nested"])
def test_summary_text_equals_keras(build, keras):
    ours = _capture_summary(build(layers, pykern))
    theirs = _capture_summary(build(keras.layers, keras))
    assert ours == theirs


def test_summary_of_unbuilt_sequential_equals_keras(keras):
    ours = _capture_summary(pykern.Sequential([layers.Dense(2, name="d")], name="s"))
    theirs = _capture_summary(keras.Sequential([keras.layers.Dense(2, name="d")], name="s"))
    assert ours == theirs


def test_summary_with_frozen_layer_counts_non_trainable(keras):
    def build(L, M):
        m = _mlp(L, M, name="mlp")
        m.get_layer("h1").trainable = False
        return m
    ours = _capture_summary(build(layers, pykern), show_trainable=True)
    assert ours == _capture_summary(build(keras.layers, keras), show_trainable=True)
    assert "Non-trainable params: 56 (224.00 B)" in ours  # h1: 6*8 + 8


def test_summary_sizes_an_int64_counter_at_8_bytes(keras):
    def build(L, M):  # Normalization's `count` is an int64 scalar
        inputs = L.Input((3,))
        return M.Model(inputs, L.Dense(2)(L.Normalization()(inputs)), name="norm")
    ours = _capture_summary(build(layers, pykern))
    assert ours == _capture_summary(build(keras.layers, keras))
    assert "Non-trainable params: 7 (32.00 B)" in ours  # mean, variance: 3 float32 each


def _conv_zoo(L, M):
    """Every convolution, pooling and normalization layer kind: 1-D and 3-D, grouped,
    transposed, channels_first, BatchNormalization without beta."""
    a, b = L.Input((16, 4), name="steps"), L.Input((4, 6, 6, 2), name="volume")
    h = L.DepthwiseConv1D(3, depth_multiplier=2, name="dw1")(a)
    h = L.SeparableConv1D(6, 3, padding="same", name="sep1")(h)
    h = L.Conv1DTranspose(4, 3, strides=2, name="tr1")(h)
    h = L.Conv1D(4, 3, groups=2, padding="causal", name="grouped")(h)
    h = L.MaxPooling1D(2, name="mp1")(L.AveragePooling1D(2, name="ap1")(h))
    v = L.Conv3DTranspose(3, 2, strides=2, name="tr3")(b)
    v = L.Conv3D(4, 3, data_format="channels_first", name="c3")(v)
    v = L.MaxPooling3D((2, 2, 1), data_format="channels_first", name="mp3")(v)
    v = L.BatchNormalization(axis=1, center=False, name="bn")(v)
    v = L.LayerNormalization(axis=[2, 3], name="ln")(v)
    v = L.GroupNormalization(2, axis=1, scale=False, name="gn")(v)
    i = L.Input((9, 9, 3), name="image")
    g = L.SeparableConv2D(4, 3, depth_multiplier=2, name="sep2")(i)
    g = L.DepthwiseConv2D(2, strides=2, padding="same", name="dw2")(g)
    g = L.Conv2DTranspose(2, 3, strides=2, output_padding=1, name="tr2")(g)
    g = L.AveragePooling2D(3, name="ap2")(g)
    cat = L.Concatenate(name="cat")([L.Flatten()(h), L.Flatten()(v), L.Flatten()(g)])
    return M.Model([a, b, i], L.Dense(2, name="out")(cat), name="conv_zoo")


def _deferred_cnn(L, M):
    return M.Sequential([L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                         L.MaxPooling2D(), L.Dropout(0.2), L.Flatten(), L.Dense(2)],
                        name="deferred_cnn")


def _called_deferred_cnn(L, M):
    model = _deferred_cnn(L, M)
    model(np.zeros((2, 8, 8, 3), np.float32))
    return model


@pytest.mark.parametrize("build", [_conv_zoo, _deferred_cnn, _called_deferred_cnn, mnist_cnn,
                                   cifar_cnn])
def test_cnn_summary_equals_keras(build, keras):
    pykern.backend.clear_session()  # the rows show automatic layer names
    keras.backend.clear_session()
    ours, theirs = build(layers, pykern), build(keras.layers, keras)
    assert _capture_summary(ours) == _capture_summary(theirs)
    assert _capture_summary(ours, show_trainable=True) == \
        _capture_summary(theirs, show_trainable=True)


def test_trained_cnn_summary_counts_moving_statistics_and_optimizer_params(keras):
    x = _x(8, 8, 8, 3)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int32)
    texts = []
    for lib in (pykern, keras):
        lib.backend.clear_session()
        model = _called_deferred_cnn(lib.layers, lib)
        model.compile(lib.optimizers.Adam(name="adam"), "sparse_categorical_crossentropy",
                      run_eagerly=True)
        model.fit(x, y, batch_size=8, verbose=0)
        texts.append(_capture_summary(model))
    assert texts[0] == texts[1]
    assert "Non-trainable params: 8 (32.00 B)" in texts[0]  # moving mean and variance (4,)
    assert " Optimizer params: " in texts[0]


class _Sub:
    @staticmethod
    def make(L, M):
        class TwoTower(M.Model):
            def __init__(self):
                super().__init__(name="two_tower")
                self.left = L.Dense(5, activation="relu", name="left")
                self.right = L.Dense(5, activation="tanh", name="right")
                self.head = L.Dense(2, name="head")

            def call(self, inputs, training=None):
                return self.head(L.Concatenate()([self.left(inputs), self.right(inputs)]))
        return TwoTower()


def test_subclassed_model_with_own_call_matches_keras(keras):
    ours, theirs = _Sub.make(layers, pykern), _Sub.make(keras.layers, keras)
    layer_parity(ours, theirs, _x(3, 4), rtol=1e-5, atol=2e-6)
    assert [l.name for l in ours.layers] == ["left", "right", "head"]
    assert [w.path.split("/")[-1] for w in ours.weights] == ["kernel", "bias"] * 3


def test_custom_training_loop_with_gradient_tape_reduces_the_loss():
    pykern.utils.set_random_seed(0)
    model = _mlp(layers, pykern)
    x = _x(64, 6)
    y = np.eye(3, dtype=np.float32)[x[:, :3].argmax(1)]  # a learnable rule

    def loss_fn(training=False):
        p = model(x, training=training)
        return pykern.ops.mean(pykern.ops.negative(pykern.ops.sum(
            pykern.ops.multiply(y, pykern.ops.log(p)), axis=-1)))
    first = float(loss_fn())
    for _ in range(60):
        with pykern.GradientTape() as tape:
            loss = loss_fn(training=True)
        grads = tape.gradient(loss, model.trainable_weights)
        for w, g in zip(model.trainable_weights, grads):
            w.assign_sub(0.5 * g.numpy())
    assert float(loss_fn()) < 0.7 * first


def test_training_flag_reaches_nested_layers():
    inner = pykern.Sequential([layers.Dropout(0.5, seed=3)])
    inp = pykern.Input((100,))
    model = pykern.Model(inp, inner(inp))
    x = np.ones((2, 100), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), x)
    y = model(x, training=True).numpy()
    assert (y == 0).any() and (y == 2).any()


# --- Sequential building -------------------------------------------------------------------

def test_sequential_add_pop_and_deferred_build(fresh_names):
    model = pykern.Sequential()
    model.add(layers.Dense(4))
    assert not model.built
    model.add(layers.Dense(2))
    out = model(np.ones((3, 5), np.float32))
    assert out.shape == (3, 2) and model.built
    assert [w.shape for w in model.weights] == [(5, 4), (4,), (4, 2), (2,)]
    assert model.pop().name == "dense_1"
    assert [l.name for l in model.layers] == ["dense"]
    model.add(layers.Dense(7))
    assert model(np.ones((1, 5), np.float32)).shape == (1, 7)


def test_input_shape_on_first_layer_builds_immediately():
    model = pykern.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(1)])
    assert model.built and model.count_params() == 4 * 3 + 3 + 3 + 1
    model2 = pykern.Sequential([layers.Dense(3, input_dim=4)])
    assert model2.built and model2.input_shape == (None, 4)


def test_model_build_with_a_shape():
    model = pykern.Sequential([layers.Dense(3)])
    model.build((None, 6))
    assert model.layers[0].kernel.shape == (6, 3)


def test_get_layer_by_name_and_index():
    model = _mlp(layers, pykern)
    assert model.get_layer("h2") is model.layers[2] is model.get_layer(index=2)
    with pytest.raises(ValueError, match="nope"):
        model.get_layer("nope")


def test_set_weights_round_trip_between_models():
    a, b = _mlp(layers, pykern), _mlp(layers, pykern)
    b.set_weights(a.get_weights())
    x = _x(2, 6)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    with pytest.raises(ValueError, match="expects 6 weight arrays"):
        b.set_weights(a.get_weights()[:-1])


def test_sequential_config_round_trip_keeps_outputs():
    model = _mlp(layers, pykern, name="m")
    again = pykern.Sequential.from_config(model.get_config())
    again.set_weights(model.get_weights())
    x = _x(2, 6)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy())
    assert again.get_config() == model.get_config()


def test_functional_config_round_trip_keeps_structure_and_outputs():
    model = _branching(layers, pykern)
    again = pykern.Model.from_config(model.get_config())
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    again.set_weights(model.get_weights())
    xs = [_x(2, 5), _x(2, 3)]
    for p, q in zip(again(xs), model(xs)):
        np.testing.assert_allclose(p.numpy(), q.numpy())


def test_functional_config_has_keras_layout(keras):
    ours = _branching(layers, pykern).get_config()
    theirs = _branching(keras.layers, keras).get_config()
    assert ours["input_layers"] == [list(r) for r in theirs["input_layers"]]
    assert ours["output_layers"] == [list(r) for r in theirs["output_layers"]]
    for mine, ref in zip(ours["layers"], theirs["layers"]):
        assert mine["name"] == ref["name"] and mine["class_name"] == ref["class_name"]
        assert len(mine["inbound_nodes"]) == len(ref["inbound_nodes"])


# --- determinism -----------------------------------------------------------------------------

def _weights_and_mask(seed):
    pykern.utils.set_random_seed(seed)
    model = pykern.Sequential([layers.Input((5,)), layers.Dense(4), layers.Dropout(0.5),
                               layers.Dense(3, kernel_initializer="orthogonal")])
    mask = model.layers[1](np.ones((8, 4), np.float32), training=True).numpy()
    return model.get_weights(), mask


def test_same_seed_gives_identical_weights_and_dropout_masks():
    w1, m1 = _weights_and_mask(42)
    w2, m2 = _weights_and_mask(42)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m1, m2)
    w3, m3 = _weights_and_mask(43)
    assert not np.array_equal(w1[0], w3[0]) and not np.array_equal(m1, m3)


# --- errors -----------------------------------------------------------------------------

def test_model_call_with_wrong_input_shape_names_model_and_shapes():
    model = _branching(layers, pykern)
    with pytest.raises(ValueError, match=r"branchy.*\(None, 5\).*\(2, 6\)"):
        model([_x(2, 6), _x(2, 3)])
    with pytest.raises(ValueError, match="branchy.*expects 2 input"):
        model(_x(2, 5))
    seq = _mlp(layers, pykern, name="mlp")
    with pytest.raises(ValueError, match=r"mlp.*\(None, 6\).*\(2, 7\)"):
        seq(_x(2, 7))


def test_sequential_rejects_incompatible_layers_at_build():
    with pytest.raises(ValueError, match=r"perm.*rank 3.*\(None, 4\)"):
        pykern.Sequential([layers.Input((4,)), layers.Permute((2, 1), name="perm")])


def test_disconnected_graph_is_rejected():
    a, b = pykern.Input((2,)), pykern.Input((2,))
    out = layers.Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        pykern.Model(a, out)


def test_sequential_rejects_non_layers_and_duplicate_names():
    with pytest.raises(ValueError, match="Layer instance"):  # Keras raises ValueError too
        pykern.Sequential([lambda x: x])
    with pytest.raises(ValueError, match="unique names.*'same'"):
        pykern.Sequential([layers.Dense(2, name="same"), layers.Dense(2, name="same")])


def test_regularization_losses_reach_model_losses():
    model = pykern.Sequential([layers.Input((3,)),
                               layers.Dense(2, kernel_regularizer=pykern.regularizers.L2(0.1))])
    (penalty,) = model.losses
    k = model.layers[0].kernel.numpy()
    np.testing.assert_allclose(float(penalty), 0.1 * np.sum(k ** 2), rtol=1e-6)
    x = _x(2, 3)
    with pykern.GradientTape() as tape:
        loss = pykern.ops.add(pykern.ops.sum(model(x)), model.losses[0])
    g = tape.gradient(loss, model.layers[0].kernel)
    # d/dk [sum(x k + b) + 0.1 |k|^2] = column sums of x in every column + 0.2 k
    expected = np.repeat(x.sum(axis=0)[:, None], 2, axis=1) + 0.2 * k
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_predict_on_batch_returns_arrays_without_a_graph():
    model = _mlp(layers, pykern)
    out = model.predict_on_batch(_x(2, 6))
    assert isinstance(out, np.ndarray) and out.shape == (2, 3)


def _with_operators(L, M):
    a = L.Input((4,), name="a")
    y = L.Dense(3, name="d")(a) * 2.0 + a[:, :3]
    y = 1.0 - (-y) / 3.0
    return M.Model(a, y ** 2.0, name="ops_model")


def test_operators_on_symbolic_tensors_match_keras(keras):
    pykern.backend.clear_session()  # the ops take automatic names (add, multiply, ...)
    keras.backend.clear_session()
    ours, theirs = _with_operators(layers, pykern), _with_operators(keras.layers, keras)
    assert [l.name for l in ours.layers] == [l.name for l in theirs.layers] == ["a", "d"]
    assert _capture_summary(ours) == _capture_summary(theirs)
    layer_parity(ours, theirs, _x(3, 4), rtol=1e-5, atol=2e-6)


def test_operators_survive_a_config_round_trip():
    model = _with_operators(layers, pykern)
    again = pykern.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    x = _x(2, 4)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_summary_of_called_subclassed_model_equals_keras(keras):
    ours, theirs = _Sub.make(layers, pykern), _Sub.make(keras.layers, keras)
    x = np.ones((2, 4), np.float32)
    ours(x)
    theirs(x)
    assert _capture_summary(ours) == _capture_summary(theirs)


def test_models_report_input_and_output_shapes():
    model = _branching(layers, pykern)
    assert model.input_shape == [(None, 5), (None, 3)]
    assert model.output_shape == [(None, 3), (None, 1)]
    seq = _mlp(layers, pykern)
    assert seq.input_shape == (None, 6) and seq.output_shape == (None, 3)
    assert seq.input.shape == (None, 6) and seq.output.shape == (None, 3)
    assert model.input[1].shape == (None, 3) and model.output[1].shape == (None, 1)


def test_nested_models_round_trip_through_config(keras):
    model = _shared_and_nested(layers, pykern)
    ours = [(l["class_name"], l["module"]) for l in model.get_config()["layers"]]
    theirs = [(l["class_name"], l["module"])
              for l in _shared_and_nested(keras.layers, keras).get_config()["layers"]]
    assert ours == theirs
    again = pykern.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    xs = [_x(2, 4), _x(2, 4)]
    np.testing.assert_allclose(again(xs).numpy(), model(xs).numpy(), rtol=1e-6)


def test_deferred_sequential_summary_equals_keras(keras):
    def build(L, M):
        m = M.Sequential([L.Dense(4, name="a"), L.Dense(2, name="b")], name="s")
        m(np.ones((3, 5), np.float32))
        return m
    ours, theirs = build(layers, pykern), build(keras.layers, keras)
    assert _capture_summary(ours) == _capture_summary(theirs)
    assert [w.path for w in ours.weights] == [w.path for w in theirs.weights]
    assert ours(np.ones((7, 5), np.float32)).shape == (7, 2)  # other batch sizes still work
    with pytest.raises(ValueError, match=r"s.*\(3, 5\).*\(7, 6\)"):
        ours(np.ones((7, 6), np.float32))


def _with_ops(L, M, O):
    a = L.Input((4,), name="a")
    h = O.relu(L.Dense(6, name="d")(a))
    h = O.concatenate([h, a], axis=-1)
    y = O.sum(O.softmax(h), axis=-1, keepdims=True) * O.mean(a, axis=1, keepdims=True)
    return M.Model(a, O.tanh(y), name="ops_fn")


def test_ops_functions_on_symbolic_tensors_match_keras(keras):
    pykern.backend.clear_session()
    keras.backend.clear_session()
    ours, theirs = _with_ops(layers, pykern, pykern.ops), _with_ops(keras.layers, keras, keras.ops)
    assert _capture_summary(ours) == _capture_summary(theirs)
    layer_parity(ours, theirs, _x(3, 4), rtol=1e-5, atol=2e-6)
    again = pykern.Model.from_config(ours.get_config())
    again.set_weights(ours.get_weights())
    x = _x(2, 4)
    np.testing.assert_allclose(again(x).numpy(), ours(x).numpy(), rtol=1e-6)


def test_dict_inputs_and_outputs():
    a, b = pykern.Input((2,), name="in_a"), pykern.Input((3,), name="in_b")
    cat = layers.Concatenate()([a, b])
    model = pykern.Model({"first": a, "second": b},
                         {"sum": layers.Dense(1, name="s")(cat), "cat": cat})
    xa, xb = _x(4, 2), _x(4, 3)
    out = model({"second": xb, "first": xa})
    np.testing.assert_array_equal(out["cat"].numpy(), np.concatenate([xa, xb], 1))
    by_position = model([xa, xb])
    np.testing.assert_array_equal(by_position["sum"].numpy(), out["sum"].numpy())


@pytest.mark.parametrize("kwargs", [{"expand_nested": True}, {"layer_range": ("shared", "sub_op")},
                                    {"expand_nested": True, "show_trainable": True}])
def test_summary_options_equal_keras(kwargs, keras):
    ours = _capture_summary(_shared_and_nested(layers, pykern), **kwargs)
    theirs = _capture_summary(_shared_and_nested(keras.layers, keras), **kwargs)
    assert ours == theirs
