"""SavedModel export: the directory `model.export(path, format="tf_saved_model")`
writes loads with tf.saved_model.load, and its `serve` endpoint and
`serving_default` signature give pykern's predictions."""
import os
import sys

import numpy as np
import pytest

import pykern
from pykern import layers

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

RNG = np.random.default_rng(13)
TOL = dict(rtol=1e-5, atol=1e-5)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _randomized(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.4
                       for w in model.get_weights()])
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):  # statistics away from 0 and 1
            layer.moving_mean.assign(_x(*layer.moving_mean.shape))
            layer.moving_variance.assign(np.abs(_x(*layer.moving_variance.shape)) + 0.5)
    return model


def _mlp():
    return pykern.Sequential([layers.Input((784,), name="pixels"),
                              layers.Dense(64, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(10, activation="softmax")])


def _cnn():
    return pykern.Sequential([layers.Input((12, 12, 1)), layers.Conv2D(4, 3, activation="relu"),
                              layers.BatchNormalization(), layers.MaxPooling2D(),
                              layers.Flatten(), layers.Dense(3, activation="softmax")])


def _lstm():
    return pykern.Sequential([layers.Input((7, 5)), layers.LSTM(6, return_sequences=True),
                              layers.LSTM(4), layers.Dense(2)])


@pytest.mark.parametrize("build,shape", [(_mlp, (784,)), (_cnn, (12, 12, 1)),
                                         (_lstm, (7, 5))])
def test_saved_model_serves_pykerns_predictions(tf, build, shape, tmp_path):
    model = _randomized(build())
    path = model.export(tmp_path / "sm", format="tf_saved_model")
    loaded = tf.saved_model.load(os.fspath(path))
    x = _x(5, *shape)
    want = model.predict(x, verbose=0)
    np.testing.assert_allclose(loaded.serve(x).numpy(), want, **TOL)
    signature = loaded.signatures["serving_default"]
    name = model.inputs[0]._keras_history[0].name
    np.testing.assert_allclose(signature(**{name: tf.constant(x)})["output_0"].numpy(), want,
                               **TOL)


def test_signature_names_inputs_after_the_model_and_outputs_in_order(tf, tmp_path):
    a, b = layers.Input((4,), name="tokens"), layers.Input((2,), name="side")
    model = _randomized(pykern.Model([a, b], [layers.Dense(3)(a), layers.Dense(1)(b)]))
    model.export(tmp_path / "sm", format="tf_saved_model")
    loaded = tf.saved_model.load(os.fspath(tmp_path / "sm"))
    signature = loaded.signatures["serving_default"]
    assert sorted(signature.structured_input_signature[1]) == ["side", "tokens"]
    xa, xb = _x(2, 4), _x(2, 2)
    got = signature(tokens=tf.constant(xa), side=tf.constant(xb))
    want = model.predict([xa, xb], verbose=0)
    assert sorted(got) == ["output_0", "output_1"]
    for i, w in enumerate(want):
        np.testing.assert_allclose(got[f"output_{i}"].numpy(), w, **TOL)


def test_export_replaces_an_earlier_saved_model_atomically(tf, tmp_path):
    first = _randomized(_mlp())
    first.export(tmp_path / "sm", format="tf_saved_model")
    second = _randomized(_mlp())
    second.export(tmp_path / "sm", format="tf_saved_model")
    assert os.listdir(tmp_path) == ["sm"]  # no temporary or moved-aside directories left
    x = _x(3, 784)
    loaded = tf.saved_model.load(os.fspath(tmp_path / "sm"))  # holds the variables
    np.testing.assert_allclose(loaded.serve(x).numpy(), second.predict(x, verbose=0), **TOL)


def test_without_tensorflow_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` fails
    with pytest.raises(ImportError, match=r'pip install "pykern\[tf\]"'):
        _mlp().export(tmp_path / "sm", format="tf_saved_model")
    assert os.listdir(tmp_path) == []


def test_a_failed_export_leaves_no_directory(tf, tmp_path):
    model = _mlp()
    with pytest.raises(NotImplementedError, match="input_signature"):
        model.export(tmp_path / "sm", format="tf_saved_model", input_signature=[None])
    assert os.listdir(tmp_path) == []
