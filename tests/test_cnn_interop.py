"""Convolutional models go both ways between pykern and TensorFlow-Keras in `.keras`,
legacy `.h5` and `.weights.h5` files: a model trained a few steps in one library,
saved and loaded in the other predicts the same and carries the optimizer state
where the format holds it, and the files have Keras' layout (BatchNormalization's
moving statistics after gamma and beta, nested models' paths). Keras 2 (tf-keras)
files of the same models load in pykern, and pykern's Keras 2 weight files in
tf-keras."""

import numpy as np
import pytest

import pykern
from pykern import layers
from pykern.models import load_model
from interop import (assert_close, h5_layout, h5_layout_with_attrs, keras_predict,
                     legacy_layout, pykern_predict)

RNG = np.random.default_rng(41)


pytestmark = pytest.mark.usefixtures("forget_automatic_names")


def _image_zoo(L, M):
    """Every 2-D image layer, in a Sequential."""
    return M.Sequential([
        M.Input((10, 10, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise"),
        L.SeparableConv2D(8, 3, padding="same", activation="tanh", name="separable"),
        L.LayerNormalization(name="ln"),
        L.GroupNormalization(groups=4, name="gn"),
        L.MaxPooling2D(2, name="max_pool"),
        L.Conv2DTranspose(4, 3, strides=2, padding="same", name="transpose"),
        L.AveragePooling2D(2, padding="same", name="avg_pool"),
        L.Flatten(name="flat"),
        L.Dense(3, activation="softmax", name="out")], name="zoo")


def _nested_blocks(L, M):
    """A functional model with a residual connection around a nested Sequential conv
    block (its BatchNormalization's weights sit two levels down)."""
    block = M.Sequential([M.Input((8, 8, 4)),
                          L.Conv2D(4, 3, padding="same", use_bias=False, name="b_conv"),
                          L.BatchNormalization(name="b_bn"), L.Activation("relu", name="b_relu")],
                         name="block")
    x = M.Input((8, 8, 3), name="image")
    h = L.Conv2D(4, 1, name="stem")(x)
    h = L.Add(name="residual")([h, block(h)])
    h = L.BatchNormalization(name="bn")(h)
    h = L.MaxPooling2D(2, name="pool")(h)
    return M.Model(x, L.Dense(3, activation="softmax", name="out")(L.Flatten(name="flat")(h)),
                   name="nested")


def _causal_1d(L, M):
    return M.Sequential([
        M.Input((12, 3)),
        L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu", name="causal"),
        L.Conv1D(4, 2, padding="causal", name="causal_2"),
        L.BatchNormalization(name="bn"), L.MaxPooling1D(2, name="pool"),
        L.Flatten(name="flat"), L.Dense(3, activation="softmax", name="out")], name="causal_1d")


def _volume_3d(L, M):
    return M.Sequential([
        M.Input((6, 6, 6, 2)),
        L.Conv3D(4, 3, padding="same", activation="relu", name="conv"),
        L.BatchNormalization(name="bn"), L.MaxPooling3D(2, name="max_pool"),
        L.AveragePooling3D(3, strides=1, padding="same", name="avg_pool"),
        L.Flatten(name="flat"), L.Dense(3, activation="softmax", name="out")], name="volume_3d")


BUILDERS = [_image_zoo, _nested_blocks, _causal_1d, _volume_3d]
FORMATS = ["keras", "h5", "weights.h5"]


def _data(model):
    shape = model.input_shape if isinstance(model, pykern.Sequential) else model.inputs[0].shape
    x = RNG.standard_normal((16, *shape[1:])).astype(np.float32)
    y = (x.reshape(16, -1).mean(axis=1) > 0).astype(np.int32) + \
        (x.reshape(16, -1)[:, 0] > 0).astype(np.int32)
    return x, y


def _compile(lib, model):
    # eager Keras steps: tracing a tf.function costs seconds, these models take milliseconds
    model.compile(lib.optimizers.Adam(0.01, name="adam"), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    return model


_TRAINED = {}


def _trained(lib, build):
    """`build`'s model in `lib` after two Adam steps (BatchNormalization's moving
    statistics and the optimizer's slots have moved), with its data. Keras' models
    are trained once per module; tests must not change them."""
    key = (lib.__name__, build.__name__)
    if lib is pykern or key not in _TRAINED:
        model = _compile(lib, build(lib.layers, lib))
        x, y = _data(model)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        _TRAINED[key] = model, x, y
    return _TRAINED[key]


def _save(model, path):
    if str(path).endswith(".weights.h5"):
        model.save_weights(path)
    else:
        model.save(path)


def _loaded(lib, build, path):
    """The file at `path` loaded in `lib`: the whole model, or for a .weights.h5 file
    `build`'s compiled model with the file's weights and optimizer state."""
    if not str(path).endswith(".weights.h5"):
        return lib.models.load_model(path)
    model = _compile(lib, build(lib.layers, lib))
    model.optimizer.build(model.trainable_variables)  # Keras restores a built one only
    model.load_weights(path)
    return model


_PREDICT = {"keras": keras_predict, "pykern": pykern_predict}


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("source", ["keras", "pykern"])
def test_cnn_trained_in_one_library_loads_in_the_other_with_its_optimizer_state(
        keras, tmp_path, build, ext, source):
    libs = {"keras": keras, "pykern": pykern}
    target = "pykern" if source == "keras" else "keras"
    model, x, _ = _trained(libs[source], build)
    _save(model, tmp_path / f"m.{ext}")
    loaded = _loaded(libs[target], build, tmp_path / f"m.{ext}")
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(_PREDICT[target](loaded, [x]), _PREDICT[source](model, [x]))
    if target == "keras" and ext == "h5":
        return  # Keras 3 reads no optimizer weights from legacy .h5 files
    theirs = [v.numpy() for v in model.optimizer.variables]
    assert len(loaded.optimizer.variables) == len(theirs)
    for a, b in zip(loaded.optimizer.variables, theirs):
        np.testing.assert_array_equal(a.numpy(), b)


@pytest.mark.parametrize("build", [_image_zoo, _nested_blocks])
def test_training_continues_the_same_after_a_round_trip(keras, tmp_path, build):
    ours, x, y = _trained(pykern, build)
    ours.save(tmp_path / "p.keras")
    k_model = keras.models.load_model(tmp_path / "p.keras")
    k_model.train_on_batch(x[:8], y[:8])
    ours.train_on_batch(x[:8], y[:8])
    for a, b in zip(ours.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# --- the files' layout ------------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS)
def test_cnn_weights_file_has_keras_layout_with_optimizer(keras, tmp_path, build):
    for lib, name in ((keras, "k"), (pykern, "p")):
        _trained(lib, build)[0].save_weights(tmp_path / f"{name}.weights.h5")
    assert h5_layout_with_attrs(tmp_path / "p.weights.h5") == \
        h5_layout_with_attrs(tmp_path / "k.weights.h5")


@pytest.mark.parametrize("build", BUILDERS)
def test_cnn_legacy_h5_has_keras_layout(keras, tmp_path, build):
    for lib, name in ((keras, "k"), (pykern, "p")):
        _trained(lib, build)[0].save(tmp_path / f"{name}.h5")
    assert legacy_layout(tmp_path / "p.h5") == legacy_layout(tmp_path / "k.h5")


def test_batch_norm_moving_statistics_follow_gamma_and_beta(keras, tmp_path):
    ours = _trained(pykern, _nested_blocks)[0]
    ours.save_weights(tmp_path / "p.weights.h5")
    layout = h5_layout(tmp_path / "p.weights.h5")
    assert layout["layers/sequential/layers/batch_normalization/vars/3"] == (4,)
    assert "layers/sequential/layers/batch_normalization/vars/4" not in layout
    block_bn = ours.get_layer("block").get_layer("b_bn")
    assert [v.name for v in block_bn.weights] == ["gamma", "beta", "moving_mean",
                                                  "moving_variance"]


# --- Keras 2 (tf-keras) -----------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("ext", ["h5", "keras"])
def test_cnn_saved_by_tf_keras_loads_in_pykern(tf_keras, tmp_path, build, ext):
    k2, x, _ = _trained(tf_keras, build)
    k2.save(tmp_path / f"k2.{ext}")
    ours = load_model(tmp_path / f"k2.{ext}", compile=False)
    assert_close(pykern_predict(ours, [x]), keras_predict(k2, [x]))


@pytest.mark.parametrize("build", BUILDERS)
def test_cnn_legacy_weights_go_both_ways_with_tf_keras(tf_keras, tmp_path, build):
    k2, x, _ = _trained(tf_keras, build)
    k2.save_weights(tmp_path / "k2.h5")
    ours = build(layers, pykern)
    ours.load_weights(tmp_path / "k2.h5")
    assert_close(pykern_predict(ours, [x]), keras_predict(k2, [x]))
    trained = _trained(pykern, build)[0]
    trained.save_weights(tmp_path / "p.h5")
    k2 = build(tf_keras.layers, tf_keras)
    k2.load_weights(tmp_path / "p.h5")
    assert_close(keras_predict(k2, [x]), pykern_predict(trained, [x]))
