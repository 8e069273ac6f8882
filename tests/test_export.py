"""ONNX export: the exported graph (opset >= 17) gives pykern's outputs under
onnxruntime, for any batch size, over the layers that exist today."""

import numpy as np
import pytest

import pykern
from pykern import layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(31)


pytestmark = pytest.mark.usefixtures("forget_automatic_names")


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _randomize(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.5
                       for w in model.get_weights()])
    return model


def _run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, dict(zip(names, feeds)))


def _check(model, path, batch_sizes=(1, 5), rtol=1e-5, atol=1e-5):
    model.export(path, format="onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    inputs = [model.input_shape] if isinstance(model, pykern.Sequential) or \
        len(model.inputs) == 1 else [t.shape for t in model.inputs]
    for batch in batch_sizes:
        feeds = [_x(batch, *shape[1:]) for shape in inputs]
        ours = model.predict_on_batch(feeds if len(feeds) > 1 else feeds[0])
        ours = ours if isinstance(ours, list) else [ours]
        theirs = _run_onnx(path, feeds)
        assert len(theirs) == len(ours)
        for a, b in zip(theirs, ours):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


ACTIVATIONS = ["linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
               "hard_sigmoid", "hard_silu", "tanh", "softmax", "log_softmax", "softplus",
               "softsign", "silu", "exponential", "mish", "swish", "hard_swish", "celu",
               "hard_shrink", "soft_shrink", "hard_tanh", "log_sigmoid", "sparse_plus",
               "sparse_sigmoid", "squareplus", "tanh_shrink"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_with_every_activation_matches_under_onnxruntime(tmp_path, activation):
    model = _randomize(pykern.Sequential([pykern.Input((5,)),
                                          layers.Dense(7, activation=activation)]))
    _check(model, tmp_path / "m.onnx")


def test_sequential_of_core_and_activation_layers(tmp_path):
    model = _randomize(pykern.Sequential([
        pykern.Input((3, 4)), layers.Dense(6, activation="relu"), layers.Dropout(0.5),
        layers.Permute((2, 1)), layers.Flatten(), layers.Reshape((3, 6)),
        layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2), layers.LeakyReLU(0.2),
        layers.ELU(0.7), layers.PReLU(shared_axes=[1]), layers.Softmax(axis=1),
        layers.Activation("tanh"), layers.Flatten(), layers.RepeatVector(2),
        layers.Identity(), layers.Softmax(axis=(1, 2)), layers.Dense(2)]))
    _check(model, tmp_path / "seq.onnx")


def test_branching_functional_with_every_merge_and_two_outputs(tmp_path):
    a, b = pykern.Input((5,), name="a"), pykern.Input((4,), name="b")
    h = layers.Dense(4, activation="elu")(a)
    g = layers.Dense(4, activation="sigmoid")(b)
    s = layers.Add()([h, g])
    d = layers.Subtract()([h, g])
    m = layers.Multiply()([s, d, g])
    avg = layers.Average()([h, g, m])
    mx, mn = layers.Maximum()([h, g]), layers.Minimum()([h, g])
    dot = layers.Dot(axes=1, normalize=True)([h, g])
    seq_a = layers.Reshape((2, 2))(h)
    seq_b = layers.Reshape((2, 2))(g)
    dot3 = layers.Flatten()(layers.Dot(axes=(2, 1))([seq_a, seq_b]))
    cat = layers.Concatenate()([avg, mx, mn, dot, dot3, b])
    out = layers.Dense(3, activation="softmax", name="out")(cat)
    aux = layers.Dense(1, name="aux")(m)
    model = _randomize(pykern.Model([a, b], [out, aux]))
    _check(model, tmp_path / "fn.onnx")


def test_nested_models_and_graph_ops(tmp_path):
    inner = pykern.Sequential([pykern.Input((4,)), layers.Dense(4, activation="relu"),
                               layers.Dense(4)], name="inner")
    x = pykern.Input((4,), name="x")
    y = layers.Dense(4, activation="tanh")(x)
    z = inner(y) * 2.0 + y - x / 4.0
    inner_fn = pykern.Model(x, layers.Concatenate()([z, -y]), name="inner_fn")
    model = _randomize(pykern.Sequential([pykern.Input((4,)), inner_fn, layers.Dense(2)]))
    _check(model, tmp_path / "nested.onnx")


def test_ops_on_symbolic_tensors_export(tmp_path):
    from pykern import ops
    x = pykern.Input((3, 4), name="x")
    h = layers.Dense(4)(x)
    a = ops.exp(ops.tanh(h)) + ops.sqrt(ops.abs(h)) - ops.square(ops.sigmoid(h))
    b = ops.maximum(ops.relu(h), ops.negative(h)) * ops.softplus(h)
    c = ops.sum(a, axis=1) + ops.mean(b, axis=1) + ops.max(h, axis=1)
    d = ops.softmax(ops.transpose(h, (0, 2, 1)), axis=1)
    e = ops.sum(d, axis=(1, 2), keepdims=True) * ops.min(h)
    model = _randomize(pykern.Model(x, [c, layers.Flatten()(d), e]))
    _check(model, tmp_path / "ops.onnx")


CF = {"data_format": "channels_first"}


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_image_layers_2d_export(tmp_path, data_format):
    kw = {"data_format": data_format}
    model = _randomize(pykern.Sequential([
        pykern.Input((3, 5, 7) if kw == CF else (5, 7, 3)),
        layers.ZeroPadding2D(((1, 2), (0, 3)), **kw), layers.Cropping2D(((2, 0), (1, 1)), **kw),
        layers.UpSampling2D((2, 3), interpolation="bilinear", **kw),
        layers.UpSampling2D((3, 1), **kw), layers.SpatialDropout2D(0.4, **kw),
        layers.UnitNormalization(axis=[1, 2]), layers.GlobalAveragePooling2D(keepdims=True, **kw),
        layers.Flatten(), layers.Dense(2)]))
    _check(model, tmp_path / "img2d.onnx")


def test_image_layers_1d_and_3d_export(tmp_path):
    x = pykern.Input((6, 4), name="x")
    a = layers.UpSampling1D(3)(layers.Cropping1D((0, 2))(layers.ZeroPadding1D((2, 1))(x)))
    v = layers.Reshape((2, 3, 4, 1))(layers.Dense(24)(layers.Flatten()(x)))
    v = layers.UpSampling3D((2, 1, 3))(layers.ZeroPadding3D(((1, 0), (0, 2), (1, 1)))(v))
    v = layers.SpatialDropout3D(0.3)(layers.Cropping3D(((0, 1), (1, 1), (2, 0)))(v))
    w = layers.ZeroPadding3D(1, **CF)(layers.Permute((4, 1, 2, 3))(v))
    outs = [layers.GlobalAveragePooling1D()(layers.SpatialDropout1D(0.2)(a)),
            layers.GlobalMaxPooling1D(keepdims=True, **CF)(a),
            layers.GlobalMaxPooling3D()(v), layers.GlobalAveragePooling3D(**CF)(w),
            layers.UnitNormalization()(layers.GlobalMaxPooling2D()(layers.Reshape((3, 6, 4))(
                layers.Cropping1D((2, 1))(a))))]
    model = _randomize(pykern.Model(x, outs))
    _check(model, tmp_path / "img13d.onnx")


def test_unit_normalization_of_zeros_exports_zeros(tmp_path):
    model = pykern.Sequential([pykern.Input((3,)), layers.UnitNormalization()])
    model.export(tmp_path / "u.onnx")
    feed = np.zeros((2, 3), np.float32)
    np.testing.assert_array_equal(_run_onnx(tmp_path / "u.onnx", [feed])[0], feed)


def test_pad_op_on_symbolic_tensors_exports(tmp_path):
    from pykern import ops
    x = pykern.Input((3, 4), name="x")
    model = pykern.Model(x, [ops.pad(x, ((0, 0), (1, 2), (3, 0))),
                             ops.pad(x, 1, constant_values=-2.5)])
    _check(model, tmp_path / "pad.onnx")


def test_graph_inputs_keep_the_model_input_names_and_a_symbolic_batch(tmp_path):
    a, b = pykern.Input((5,), name="tokens"), pykern.Input((4,), name="side")
    model = pykern.Model([a, b], layers.Concatenate()([layers.Dense(2)(a), b]))
    model.export(tmp_path / "m.onnx")
    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [i.name for i in graph.input] == ["tokens", "side"]
    assert [o.name for o in graph.output] == ["output_0"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 5


def test_layers_without_an_onnx_mapping_are_refused_by_name(tmp_path):
    model = pykern.Sequential([pykern.Input((3,)), layers.Lambda(lambda t: t * 2, name="lam")])
    with pytest.raises(NotImplementedError, match="'lam'"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()

    class Custom(pykern.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)
    sub = Custom()
    sub(_x(1, 3))
    with pytest.raises(NotImplementedError, match="subclassed"):
        sub.export(tmp_path / "sub.onnx")


def test_export_rejects_other_formats_and_unbuilt_models(tmp_path):
    model = pykern.Sequential([pykern.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="tf_saved_model"):
        model.export(tmp_path / "m", format="litert")
    with pytest.raises(ValueError, match="not built"):
        pykern.Sequential([layers.Dense(2)]).export(tmp_path / "m.onnx")


def test_a_model_loaded_from_a_keras_file_exports(keras, tmp_path):
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu")],
                             name="inner")
    x = keras.Input((4,), name="x")
    k_model = keras.Model(x, keras.layers.Add()([inner(x), keras.layers.Dense(3)(x)]))
    k_model.save(tmp_path / "k.keras")
    model = pykern.models.load_model(tmp_path / "k.keras")
    _check(model, tmp_path / "k.onnx")
    feed = _x(2, 4)
    np.testing.assert_allclose(_run_onnx(tmp_path / "k.onnx", [feed])[0],
                               k_model(feed).numpy(), rtol=1e-5, atol=1e-5)


# --- convolution, pooling and normalization layers ---------------------------------------------
def _seq(input_shape, *stack):
    return pykern.Sequential([pykern.Input(input_shape), *stack])


def _moving_statistics(model):
    """BatchNormalization's moving statistics away from 0 and 1, so that the export
    shows it uses them."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.moving_mean.assign(_x(*layer.moving_mean.shape))
            layer.moving_variance.assign(np.abs(_x(*layer.moving_variance.shape)) + 0.5)
    return model


IMAGE_LAYERS = {
    "conv2d_strided_same_relu": ((9, 9, 3), [layers.Conv2D(4, 3, strides=2, padding="same",
                                                           activation="relu")]),
    "conv2d_grouped_dilated_softmax": ((8, 8, 4), [layers.Conv2D(6, 3, dilation_rate=2, groups=2,
                                                                 padding="same",
                                                                 activation="softmax")]),
    "conv2d_channels_first": ((3, 7, 7), [layers.Conv2D(4, (2, 3), data_format="channels_first",
                                                        padding="same")]),
    "conv1d_causal_dilated": ((12, 3), [layers.Conv1D(4, 3, padding="causal", dilation_rate=2,
                                                      activation="tanh")]),
    "conv3d_same_gelu": ((5, 6, 7, 2), [layers.Conv3D(3, (2, 3, 2), strides=(1, 2, 2),
                                                      padding="same", activation="gelu")]),
    "conv2d_transpose_same": ((5, 6, 2), [layers.Conv2DTranspose(3, 3, strides=2,
                                                                 padding="same")]),
    "conv2d_transpose_valid_output_padding": ((5, 6, 2), [layers.Conv2DTranspose(
        3, 4, strides=3, output_padding=2, activation="sigmoid")]),
    "conv2d_transpose_kernel_below_stride": ((4, 4, 2), [layers.Conv2DTranspose(2, 1,
                                                                                strides=3)]),
    "conv1d_transpose_dilated": ((6, 2), [layers.Conv1DTranspose(3, 3, dilation_rate=2,
                                                                 padding="same")]),
    "conv3d_transpose": ((3, 4, 5, 2), [layers.Conv3DTranspose(3, 2, strides=2, padding="same",
                                                               activation="relu")]),
    "depthwise_conv2d": ((8, 8, 3), [layers.DepthwiseConv2D(3, depth_multiplier=3,
                                                            padding="same", activation="relu")]),
    "depthwise_conv1d": ((10, 3), [layers.DepthwiseConv1D(3, strides=2, depth_multiplier=2)]),
    "separable_conv2d": ((8, 8, 3), [layers.SeparableConv2D(5, 3, depth_multiplier=2, strides=2,
                                                            activation="elu")]),
    "separable_conv1d": ((10, 3), [layers.SeparableConv1D(5, 3, padding="same")]),
    "max_and_average_pooling2d": ((9, 9, 3), [layers.MaxPooling2D(3, 2, padding="same"),
                                              layers.AveragePooling2D(2, padding="same"),
                                              layers.MaxPooling2D(2)]),
    "pooling1d": ((11, 2), [layers.AveragePooling1D(3, 2, padding="same"),
                            layers.MaxPooling1D(2)]),
    "pooling3d": ((4, 5, 5, 3), [layers.MaxPooling3D(2, padding="same"),
                                 layers.AveragePooling3D(3, 1, padding="same")]),
    "batch_normalization": ((6, 6, 4), [layers.BatchNormalization(),
                                        layers.BatchNormalization(axis=1, center=False)]),
    "batch_normalization_dense": ((5,), [layers.BatchNormalization(scale=False)]),
    "layer_normalization": ((6, 6, 4), [layers.LayerNormalization(),
                                        layers.LayerNormalization(axis=[1, 2], scale=False)]),
    "layer_normalization_rms_scaling": ((6, 4), [layers.LayerNormalization(rms_scaling=True)]),
    "group_normalization": ((6, 6, 4), [layers.GroupNormalization(2),
                                        layers.GroupNormalization(3, axis=1, center=False)]),
}


@pytest.mark.parametrize("case", sorted(IMAGE_LAYERS))
def test_image_layer_matches_under_onnxruntime(tmp_path, case):
    shape, stack = IMAGE_LAYERS[case]
    model = _moving_statistics(_randomize(_seq(shape, *stack)))
    _check(model, tmp_path / "m.onnx")


def test_unknown_lengths_pad_as_the_layers_do(tmp_path):
    model = _randomize(_seq((None, 3), layers.Conv1D(4, 3, padding="same", dilation_rate=2),
                            layers.Conv1D(4, 3, strides=2, padding="same"),
                            layers.MaxPooling1D(3, 2, padding="same"),
                            layers.Conv1DTranspose(2, 3, strides=2, padding="same")))
    model.export(tmp_path / "m.onnx")
    for steps in (9, 12):
        x = _x(2, steps, 3)
        np.testing.assert_allclose(_run_onnx(tmp_path / "m.onnx", [x])[0],
                                   model.predict_on_batch(x), rtol=1e-5, atol=1e-5)


def test_a_conv_stack_is_transposed_once_in_and_once_out(tmp_path):
    model = _randomize(_seq((12, 12, 3), layers.Conv2D(8, 3, activation="relu"),
                            layers.BatchNormalization(), layers.MaxPooling2D(),
                            layers.SeparableConv2D(8, 3, activation="relu"),
                            layers.DepthwiseConv2D(3, padding="same"),
                            layers.AveragePooling2D(2), layers.Flatten(), layers.Dense(3)))
    _check(model, tmp_path / "m.onnx")
    ops_used = [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    assert ops_used.count("Transpose") == 2


def test_batch_normalization_exports_its_moving_statistics_after_training(tmp_path):
    model = _seq((6, 6, 2), layers.Conv2D(3, 3), layers.BatchNormalization(momentum=0.5),
                 layers.GroupNormalization(3), layers.Flatten(), layers.Dense(2))
    model.compile("adam", "mse")
    model.fit(_x(16, 6, 6, 2) * 3 + 1, _x(16, 2), epochs=2, batch_size=8, verbose=0)
    assert np.abs(model.layers[1].moving_mean.numpy()).max() > 0.1
    _check(model, tmp_path / "m.onnx")


def test_a_subclass_of_an_image_layer_is_refused_by_name(tmp_path):
    class Doubled(layers.Conv2D):
        def call(self, inputs):
            return super().call(inputs) * 2.0
    model = _seq((5, 5, 1), Doubled(2, 3, name="doubled"))
    with pytest.raises(NotImplementedError, match="'doubled'"):
        model.export(tmp_path / "m.onnx")


@pytest.mark.parametrize("build", ["mnist_cnn", "cifar_cnn"])
def test_seed_cnns_match_under_onnxruntime(tmp_path, build):
    import seed_cnns
    model = getattr(seed_cnns, build)(layers, pykern)
    _check(model, tmp_path / "m.onnx", batch_sizes=(1, 3))


def test_a_residual_cnn_saved_by_keras_exports_and_matches_keras(keras, tmp_path):
    L = keras.layers
    block = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(4, 3, padding="same"),
                              L.BatchNormalization(), L.Activation("relu")], name="block")
    x = keras.Input((8, 8, 3), name="image")
    h = L.SeparableConv2D(4, 3, padding="same", activation="relu")(x)
    h = L.Add()([h, block(h)])
    h = L.MaxPooling2D()(L.GroupNormalization(2)(h))
    out = L.Dense(3, activation="softmax")(L.Flatten()(L.LayerNormalization()(h)))
    k_model = keras.Model(x, out)
    for v in k_model.weights:
        v.assign(np.abs(_x(*v.shape)) * 0.5 + 0.1 if "variance" in v.path else _x(*v.shape))
    k_model.save(tmp_path / "k.keras")
    model = pykern.models.load_model(tmp_path / "k.keras")
    _check(model, tmp_path / "k.onnx")
    feed = _x(2, 8, 8, 3)
    np.testing.assert_allclose(_run_onnx(tmp_path / "k.onnx", [feed])[0],
                               k_model(feed).numpy(), rtol=1e-5, atol=1e-5)


# --- recurrent layers: every return variant, and Keras' masks ---------------------------------
RECURRENT = {
    "lstm_sequences_and_states": lambda L: L.LSTM(4, return_sequences=True, return_state=True),
    "lstm_states_backwards": lambda L: L.LSTM(3, return_state=True, go_backwards=True),
    "lstm_gelu_runs_as_a_scan": lambda L: L.LSTM(3, activation="gelu", return_sequences=True),
    "gru_reset_after_states": lambda L: L.GRU(4, return_state=True),
    "gru_reset_before_sequences": lambda L: L.GRU(4, reset_after=False, return_sequences=True,
                                                  return_state=True),
    "gru_mish_reset_before": lambda L: L.GRU(3, reset_after=False, activation="mish"),
    "simple_rnn_states_backwards": lambda L: L.SimpleRNN(3, return_sequences=True,
                                                         return_state=True, go_backwards=True),
    "bidirectional_lstm_states": lambda L: L.Bidirectional(L.LSTM(3, return_state=True)),
    "bidirectional_gru_unmerged": lambda L: L.Bidirectional(
        L.GRU(2, return_sequences=True, return_state=True), merge_mode=None),
    "bidirectional_selu_rnn_mul": lambda L: L.Bidirectional(
        L.SimpleRNN(3, activation="selu", return_sequences=True), merge_mode="mul"),
}


@pytest.mark.parametrize("case", sorted(RECURRENT))
def test_recurrent_outputs_and_states_match_under_onnxruntime(tmp_path, case):
    x = pykern.Input((None, 5), name="steps")
    out = RECURRENT[case](layers)(x)
    model = _randomize(pykern.Model(x, out))
    model.export(tmp_path / "m.onnx")
    for steps in (1, 6):
        feed = _x(3, steps, 5)
        want = model.predict_on_batch(feed)
        want = want if isinstance(want, list) else [want]
        got = _run_onnx(tmp_path / "m.onnx", [feed])
        assert len(got) == len(want)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def _ids(*shape, zeros=0.3, seed=0):
    """Token ids in [1, 20) with about `zeros` of them 0 (masked) anywhere: before,
    inside and after the tokens; the last row is all zeros."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 20, shape)
    ids[rng.random(shape) < zeros] = 0
    ids[-1] = 0
    return ids.astype(np.float32)


MASKED = {
    "lstm": lambda L, e: L.LSTM(4)(e),
    "lstm_sequences_backwards": lambda L, e: L.LSTM(3, return_sequences=True,
                                                    go_backwards=True)(e),
    "gru_reset_after_states": lambda L, e: L.GRU(3, return_state=True)(e),
    "gru_reset_before_sequences": lambda L, e: L.GRU(3, reset_after=False,
                                                     return_sequences=True)(e),
    "simple_rnn_zero_output": lambda L, e: L.SimpleRNN(3, return_sequences=True,
                                                       zero_output_for_mask=True)(e),
    "bidirectional_stack": lambda L, e: L.Bidirectional(L.GRU(2))(
        L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode="sum")(e)),
    "sequence_through_dense_to_masked_average": lambda L, e: L.GlobalAveragePooling1D()(
        L.TimeDistributed(L.Dense(3))(L.Dense(4, activation="relu")(
            L.LSTM(4, return_sequences=True)(e)))),
    "concatenated_masks": lambda L, e: L.LSTM(3)(L.Concatenate()(
        [e, L.Dense(2)(e)])),
    "added_masks": lambda L, e: L.SimpleRNN(2)(L.Add()([e, L.Dropout(0.5)(e)])),
}


@pytest.mark.parametrize("case", sorted(MASKED))
def test_masked_recurrent_models_match_under_onnxruntime(tmp_path, case):
    ids = pykern.Input((7,), name="ids")
    model = _randomize(pykern.Model(ids, MASKED[case](layers, layers.Embedding(
        20, 5, mask_zero=True)(ids))))
    model.export(tmp_path / "m.onnx")
    for feed in (_ids(6, 7), _ids(1, 7, zeros=0.0)):
        want = model.predict_on_batch(feed)
        want = want if isinstance(want, list) else [want]
        got = _run_onnx(tmp_path / "m.onnx", [feed])
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_masking_layer_masks_steps_of_mask_value(tmp_path):
    model = _randomize(pykern.Sequential([pykern.Input((6, 3)), layers.Masking(-1.0),
                                          layers.LSTM(4, return_sequences=True),
                                          layers.GRU(2)]))
    x = _x(4, 6, 3)
    x[0, :2] = x[1, 3:] = x[2, 2] = x[3] = -1.0
    model.export(tmp_path / "m.onnx")
    np.testing.assert_allclose(_run_onnx(tmp_path / "m.onnx", [x])[0],
                               model.predict_on_batch(x), rtol=1e-5, atol=1e-5)


def test_masked_lstm_matches_keras(keras, tmp_path):
    K = keras.layers
    ids = keras.Input((7,), name="ids")
    h = K.Bidirectional(K.LSTM(3, return_sequences=True))(K.Embedding(20, 4, mask_zero=True)(ids))
    k_model = keras.Model(ids, K.GRU(2)(h))
    k_model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.5
                         for w in k_model.get_weights()])
    k_model.save(tmp_path / "k.keras")
    pykern.models.load_model(tmp_path / "k.keras").export(tmp_path / "k.onnx")
    feed = _ids(5, 7)
    np.testing.assert_allclose(_run_onnx(tmp_path / "k.onnx", [feed])[0],
                               k_model(feed).numpy(), rtol=1e-5, atol=1e-5)


def test_a_mask_the_export_cannot_carry_is_refused(tmp_path):
    ids = pykern.Input((5,))
    e = layers.Embedding(9, 3, mask_zero=True)(ids)
    model = pykern.Model(ids, layers.Softmax(axis=1, name="masked_softmax")(e))
    with pytest.raises(NotImplementedError, match="'masked_softmax' receives a mask"):
        model.export(tmp_path / "m.onnx")


def test_time_distributed_of_any_layer_exports(tmp_path):
    model = _randomize(_seq((4, 6, 6, 2), layers.TimeDistributed(layers.Conv2D(3, 3)),
                            layers.TimeDistributed(layers.GlobalMaxPooling2D()),
                            layers.LSTM(2)))
    _check(model, tmp_path / "m.onnx")


def test_preprocessing_layers_in_the_model_export(tmp_path):
    norm = layers.Normalization()
    model = _seq((5, 5, 3), layers.RandomFlip(), layers.RandomRotation(0.2),
                 layers.RandomContrast(0.3), layers.Rescaling(1 / 255.0, 0.5), norm,
                 layers.Rescaling([1.0, 2.0, 3.0]),
                 layers.Normalization(axis=None, mean=1.0, variance=4.0, invert=True),
                 layers.Conv2D(2, 3))
    norm.adapt(_x(32, 5, 5, 3) * 4 + 2)
    _randomize(model.layers[-1])
    _check(model, tmp_path / "m.onnx")


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_resizing_and_center_crop_export(tmp_path, data_format):
    kw = {"data_format": data_format}
    x = pykern.Input((7, 9, 2) if data_format == "channels_last" else (2, 7, 9), name="image")
    outs = [layers.Resizing(5, 13, **kw)(x), layers.Resizing(11, 4, "nearest", **kw)(x),
            layers.CenterCrop(4, 6, **kw)(layers.Resizing(10, 10, **kw)(x))]
    _check(pykern.Model(x, outs), tmp_path / "m.onnx")


def test_a_keras_application_loads_and_exports(keras, tmp_path):
    """Keras' EfficientNetB0 (Rescaling and Normalization, swish, DepthwiseConv2D after
    ZeroPadding2D, squeeze-and-excitation Multiply), built with weights=None (Keras'
    initializers) and saved by Keras, exports and computes what Keras does. The
    other architectures were checked the same way once (the note of issue 13)."""
    k_model = keras.applications.EfficientNetB0(input_shape=(32, 32, 3), weights=None)
    k_model.save(tmp_path / "k.keras")
    model = pykern.models.load_model(tmp_path / "k.keras")
    model.export(tmp_path / "k.onnx")
    feed = RNG.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    got = _run_onnx(tmp_path / "k.onnx", [feed])[0]
    np.testing.assert_allclose(got, model.predict_on_batch(feed), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got, k_model(feed).numpy(), rtol=1e-4, atol=1e-6)
