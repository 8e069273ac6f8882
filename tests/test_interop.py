"""Files go both ways between pykern and TensorFlow-Keras: `.keras`, legacy `.h5`
and `.weights.h5` written by Keras 3 load in pykern and predict the same, files
written by pykern load in Keras 3 and predict the same, and Keras 2 `.h5` files
written by tf-keras load in pykern. Sequential, branching functional and nested
models over the core layers."""

import h5py
import numpy as np
import pytest

import pykern
from pykern import layers
from pykern.models import load_model
from interop import (assert_close, h5_layout, h5_layout_with_attrs, keras_predict, legacy_layout,
                     pykern_predict, randomize)

RNG = np.random.default_rng(23)


pytestmark = pytest.mark.usefixtures("forget_automatic_names")


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _sequential(L, M):
    return M.Sequential([
        M.Input((6,)), L.Dense(8, activation="relu", name="d1"), L.Dropout(0.3, name="drop"),
        L.Reshape((2, 4), name="reshape"), L.Permute((2, 1), name="permute"),
        L.Flatten(name="flat"), L.Dense(5, activation="tanh", name="d2"), L.PReLU(name="prelu"),
        L.LeakyReLU(name="leaky"), L.Dense(3, activation="softmax", name="out")], name="seq")


def _branching(L, M):
    a, b = M.Input((5,), name="a"), M.Input((4,), name="b")
    h = L.Dense(4, activation="elu", name="h")(a)
    g = L.Dense(4, activation="sigmoid", name="g")(b)
    s = L.Add(name="add")([h, g])
    d = L.Subtract(name="sub")([h, g])
    m = L.Multiply(name="mul")([s, d])
    avg = L.Average(name="avg")([h, g, m])
    mx = L.Maximum(name="max")([h, g])
    dot = L.Dot(axes=1, name="dot")([h, g])
    cat = L.Concatenate(name="cat")([avg, mx, dot, b])
    out = L.Dense(3, name="out")(cat)
    aux = L.Dense(1, activation="relu", name="aux")(L.Activation("softplus", name="act")(m))
    return M.Model([a, b], [out, aux], name="branchy")


def _nested(L, M):
    inner_seq = M.Sequential([M.Input((4,)), L.Dense(6, activation="relu", name="s1"),
                              L.Dense(4, name="s2")], name="inner_seq")
    x = M.Input((4,), name="x")
    y = L.Dense(4, activation="tanh", name="pre")(x)
    inner_fn = M.Model(x, L.Concatenate(name="fcat")([y, inner_seq(y)]), name="inner_fn")
    return M.Sequential([M.Input((4,)), inner_fn, L.Dense(2, name="head")], name="outer")


BUILDERS = [_sequential, _branching, _nested]


def _randomize(model):
    return randomize(model, RNG)


def _inputs(pk_model):
    if isinstance(pk_model, pykern.Sequential):
        return [_x(3, *pk_model.input_shape[1:])]
    return [_x(3, *t.shape[1:]) for t in pk_model.inputs]


# --- Keras 3 -> pykern ------------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_model_saved_by_keras_loads_in_pykern_and_predicts_the_same(keras, tmp_path, build, ext):
    k_model = _randomize(build(keras.layers, keras))
    path = tmp_path / f"k.{ext}"
    k_model.save(path)
    ours = load_model(path)
    xs = _inputs(ours)
    assert [l.name for l in ours.layers] == [l.name for l in k_model.layers]
    assert_close(pykern_predict(ours, xs), keras_predict(k_model, xs))


@pytest.mark.parametrize("build", BUILDERS)
def test_weights_saved_by_keras_load_in_pykern(keras, tmp_path, build):
    k_model = _randomize(build(keras.layers, keras))
    k_model.save_weights(tmp_path / "k.weights.h5")
    ours = build(layers, pykern)
    ours.load_weights(tmp_path / "k.weights.h5")
    xs = _inputs(ours)
    assert_close(pykern_predict(ours, xs), keras_predict(k_model, xs))


# --- pykern -> Keras 3 ------------------------------------------------------------------------
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_model_saved_by_pykern_loads_in_keras_and_predicts_the_same(keras, tmp_path, build, ext):
    ours = _randomize(build(layers, pykern))
    path = tmp_path / f"p.{ext}"
    ours.save(path)
    k_model = keras.models.load_model(path)
    xs = _inputs(ours)
    assert [l.name for l in k_model.layers] == [l.name for l in ours.layers]
    assert_close(keras_predict(k_model, xs), pykern_predict(ours, xs))


@pytest.mark.parametrize("build", BUILDERS)
def test_weights_saved_by_pykern_load_in_keras(keras, tmp_path, build):
    ours = _randomize(build(layers, pykern))
    ours.save_weights(tmp_path / "p.weights.h5")
    k_model = build(keras.layers, keras)
    k_model.load_weights(tmp_path / "p.weights.h5")
    xs = _inputs(ours)
    assert_close(keras_predict(k_model, xs), pykern_predict(ours, xs))


@pytest.mark.parametrize("build", BUILDERS)
def test_legacy_weights_saved_by_pykern_load_in_keras_and_back(keras, tmp_path, build):
    ours = _randomize(build(layers, pykern))
    ours.save_weights(tmp_path / "p.h5")
    k_model = build(keras.layers, keras)
    k_model.load_weights(tmp_path / "p.h5")
    xs = _inputs(ours)
    assert_close(keras_predict(k_model, xs), pykern_predict(ours, xs))
    k_model.save(tmp_path / "k.h5")  # Keras 3 writes no legacy weights-only files
    back = build(layers, pykern)
    back.load_weights(tmp_path / "k.h5")
    assert_close(pykern_predict(back, xs), keras_predict(k_model, xs))


@pytest.mark.parametrize("build", BUILDERS)
def test_weights_file_layout_is_the_one_keras_writes(keras, tmp_path, build):
    build(keras.layers, keras).save_weights(tmp_path / "k.weights.h5")
    build(layers, pykern).save_weights(tmp_path / "p.weights.h5")
    assert h5_layout(tmp_path / "p.weights.h5") == h5_layout(tmp_path / "k.weights.h5")


@pytest.mark.parametrize("build", BUILDERS)
def test_json_configs_go_both_ways(keras, build):
    ours = build(layers, pykern)
    k_model = keras.models.model_from_json(ours.to_json())
    assert [l.name for l in k_model.layers] == [l.name for l in ours.layers]
    k_model.set_weights(_randomize(ours).get_weights())
    xs = _inputs(ours)
    assert_close(keras_predict(k_model, xs), pykern_predict(ours, xs))
    back = pykern.models.model_from_json(k_model.to_json())
    assert [w.shape for w in back.weights] == [tuple(w.shape) for w in k_model.weights]
    back.set_weights(k_model.get_weights())
    assert_close(pykern_predict(back, xs), keras_predict(k_model, xs))


def _towers(L, M):
    class Towers(M.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.left = L.Dense(3, name="left")
            self.right = L.Dense(3, name="right")
            self.blocks = [L.Dense(3), L.Dense(3)]
            self._head = L.Dense(2, name="head")

        def call(self, x):
            y = self.left(x) + self.right(x)
            for block in self.blocks:
                y = block(y)
            return self._head(y)
    model = Towers()
    model(np.zeros((1, 4), np.float32))
    return model


def test_subclassed_model_weights_use_keras_layout_and_go_both_ways(keras, tmp_path):
    ours, theirs = _randomize(_towers(layers, pykern)), _towers(keras.layers, keras)
    ours.save_weights(tmp_path / "p.weights.h5")
    theirs.save_weights(tmp_path / "k.weights.h5")
    assert h5_layout(tmp_path / "p.weights.h5") == h5_layout(tmp_path / "k.weights.h5")
    theirs.load_weights(tmp_path / "p.weights.h5")
    x = _x(3, 4)
    assert_close(keras_predict(theirs, [x]), pykern_predict(ours, [x]))
    _randomize(theirs).save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    assert_close(pykern_predict(ours, [x]), keras_predict(theirs, [x]))


def test_keras_lambda_file_is_refused_in_safe_mode(keras, tmp_path):
    k_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2.0)])
    k_model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="safe_mode=False"):
        load_model(tmp_path / "lam.keras")


# --- optimizer state across frameworks ----------------------------------------------------------
def _regressor(L, M):
    return M.Sequential([M.Input((4,)), L.Dense(6, activation="relu", name="h"),
                         L.Dense(1, name="y")], name="reg")


def _data():
    x = np.random.default_rng(2).standard_normal((32, 4)).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


def test_optimizer_state_saved_by_keras_is_restored_in_pykern(keras, tmp_path):
    k_model = _regressor(keras.layers, keras)
    k_model.compile(keras.optimizers.Adam(0.01), loss="mse")
    x, y = _data()
    k_model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    k_model.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert isinstance(ours.optimizer, pykern.optimizers.Adam)
    theirs = [np.asarray(v) for v in k_model.optimizer.variables]
    assert int(ours.optimizer.iterations.numpy()) == int(theirs[0]) == 8
    assert len(ours.optimizer.variables) == len(theirs)
    for a, b in zip(ours.optimizer.variables, theirs):
        np.testing.assert_array_equal(a.numpy(), b)
    # one more step from the same state gives the same weights in both frameworks
    k_model.train_on_batch(x[:8], y[:8])
    ours.train_on_batch(x[:8], y[:8])
    for a, b in zip(ours.get_weights(), k_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_trained_model_weights_file_equals_keras_layout_with_optimizer(keras, tmp_path):
    x, y = _data()
    for lib, L, name in ((keras, keras.layers, "k"), (pykern, layers, "p")):
        model = _regressor(L, lib)
        model.compile(lib.optimizers.Adam(0.01, name="adam"), loss="mse", metrics=["mae"])
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        model.save_weights(tmp_path / f"{name}.weights.h5")
    assert h5_layout_with_attrs(tmp_path / "p.weights.h5") == \
        h5_layout_with_attrs(tmp_path / "k.weights.h5")


def test_trained_model_legacy_h5_equals_keras_layout(keras, tmp_path):
    x, y = _data()
    for lib, L, name in ((keras, keras.layers, "k"), (pykern, layers, "p")):
        model = _regressor(L, lib)
        model.compile(lib.optimizers.Adam(0.01, name="adam"), loss="mse")
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        model.save(tmp_path / f"{name}.h5")
    assert legacy_layout(tmp_path / "p.h5") == legacy_layout(tmp_path / "k.h5")


def test_optimizer_state_saved_by_pykern_is_restored_in_keras(keras, tmp_path):
    ours = _regressor(layers, pykern)
    ours.compile(pykern.optimizers.Adam(0.01), loss="mse")
    x, y = _data()
    ours.fit(x, y, epochs=2, batch_size=8, verbose=0)
    ours.save(tmp_path / "p.keras")
    k_model = keras.models.load_model(tmp_path / "p.keras")
    theirs = [np.asarray(v) for v in k_model.optimizer.variables]
    assert len(theirs) == len(ours.optimizer.variables)
    for a, b in zip(ours.optimizer.variables, theirs):
        np.testing.assert_array_equal(a.numpy(), b)


def test_keras_compile_config_with_loss_and_metric_objects_compiles_in_pykern(keras, tmp_path):
    k_model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    k_model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                    loss=keras.losses.SparseCategoricalCrossentropy(),
                    metrics=["accuracy", keras.metrics.SparseCategoricalAccuracy(name="acc2")])
    x, _ = _data()
    y = (x.sum(axis=1) > 0).astype(np.int32)
    k_model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    k_model.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    assert isinstance(ours.optimizer, pykern.optimizers.SGD) and ours.optimizer.momentum == 0.9
    for a, b in zip(ours.optimizer.variables, k_model.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), np.asarray(b))
    logs = ours.evaluate(x, y, verbose=0, return_dict=True)
    theirs = k_model.evaluate(x, y, verbose=0, return_dict=True)
    for key in ("loss", "accuracy", "acc2"):
        np.testing.assert_allclose(logs[key], theirs[key], rtol=1e-5, atol=1e-6)


def _shared(L, M):
    a, b = M.Input((4,), name="a"), M.Input((4,), name="b")
    shared = L.Dense(3, activation="tanh", name="shared")
    return M.Model([a, b], L.Add(name="add")([shared(a), shared(b)]), name="siamese")


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_shared_layers_go_both_ways(keras, tmp_path, ext):
    ours = _randomize(_shared(layers, pykern))
    ours.save(tmp_path / f"p.{ext}")
    k_model = keras.models.load_model(tmp_path / f"p.{ext}")
    xs = _inputs(ours)
    assert_close(keras_predict(k_model, xs), pykern_predict(ours, xs))
    k_model = _randomize(_shared(keras.layers, keras))
    k_model.save(tmp_path / f"k.{ext}")
    assert_close(pykern_predict(load_model(tmp_path / f"k.{ext}"), xs),
                  keras_predict(k_model, xs))


# --- configs of training objects (what compile_config holds) ----------------------------------
def _training_objects():
    """(label, pykern factory, Keras factory name path, kwargs) with explicit names."""
    opt = [("SGD", dict(learning_rate=0.05, momentum=0.5, nesterov=True, clipnorm=1.0)),
           ("RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.1, centered=True)),
           ("Adam", dict(learning_rate=0.002, beta_1=0.8, amsgrad=True, weight_decay=0.01)),
           ("AdamW", dict(learning_rate=0.002, weight_decay=0.1)),
           ("Adagrad", dict(learning_rate=0.02, initial_accumulator_value=0.2)),
           ("Adadelta", dict(learning_rate=0.02, rho=0.9)),
           ("Adamax", dict(learning_rate=0.02)), ("Nadam", dict(learning_rate=0.02))]
    sched = [("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10,
                                       decay_rate=0.9, staircase=True)),
             ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=10,
                                       decay_rate=0.5)),
             ("PiecewiseConstantDecay", dict(boundaries=[10, 20], values=[0.1, 0.01, 0.001])),
             ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=10, power=2.0)),
             ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.1))]
    loss = [("MeanSquaredError", {}), ("MeanAbsoluteError", {}), ("Huber", {}),  # Keras' config drops delta
            ("BinaryCrossentropy", dict(from_logits=True, label_smoothing=0.1)),
            ("CategoricalCrossentropy", dict(label_smoothing=0.2)),
            ("SparseCategoricalCrossentropy", dict(from_logits=True))]
    metric = [("Accuracy", {}), ("BinaryAccuracy", dict(threshold=0.3)),
              ("CategoricalAccuracy", {}), ("SparseCategoricalAccuracy", {}),
              ("MeanSquaredError", {}), ("AUC", {}), ("Precision", {}), ("Recall", {})]
    out = [("optimizers", n, dict(kw, name=f"my_{n.lower()}")) for n, kw in opt]
    out += [("optimizers.schedules", n, dict(kw, name=f"my_{n.lower()}")) for n, kw in sched]
    out += [("losses", n, dict(kw, name=f"my_{n.lower()}")) for n, kw in loss]
    out += [("metrics", n, dict(kw, name=f"my_{n.lower()}")) for n, kw in metric]
    return out


def _resolve(root, dotted, name):
    for part in dotted.split("."):
        root = getattr(root, part)
    return getattr(root, name, None)


def _same_config(a, b):
    assert set(a) == set(b), (sorted(a), sorted(b))
    for key in a:
        if isinstance(a[key], float) or isinstance(b[key], float):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("family,name,kwargs", _training_objects(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_training_object_configs_go_both_ways(keras, family, name, kwargs):
    from pykern.utils import deserialize_keras_object, serialize_keras_object
    ours_cls, theirs_cls = _resolve(pykern, family, name), _resolve(keras, family, name)
    if ours_cls is None:
        pytest.fail(f"pykern.{family}.{name} does not exist")
    ours, theirs = ours_cls(**kwargs), theirs_cls(**kwargs)
    from_ours = keras.saving.deserialize_keras_object(serialize_keras_object(ours))
    _same_config(from_ours.get_config(), theirs.get_config())
    from_theirs = deserialize_keras_object(keras.saving.serialize_keras_object(theirs))
    _same_config(from_theirs.get_config(), ours.get_config())


# --- Keras 2 (tf-keras) -> pykern -------------------------------------------------------------
def _keras2_models(K):
    seq = K.Sequential([K.layers.Dense(6, activation="relu", input_shape=(4,)),
                        K.layers.Dropout(0.2), K.layers.Dense(3, activation="softmax")])
    a, b = K.Input((4,)), K.Input((3,))
    h = K.layers.Dense(5, activation="tanh")(a)
    inner = K.Sequential([K.layers.Dense(4, input_shape=(8,)), K.layers.LeakyReLU()],
                         name="inner")
    cat = K.layers.Concatenate()([h, b])
    out = K.layers.Dense(2)(K.layers.Add()([inner(cat), K.layers.Dense(4)(cat)]))
    fn = K.Model([a, b], out)
    # a shared layer and a nested functional model, each called twice (Keras 2 counts
    # the nested model's own construction as its node 0)
    xi = K.Input((4,))
    inner_fn = K.Model(xi, K.layers.Dense(3, activation="relu")(xi), name="inner_fn")
    c, d = K.Input((4,)), K.Input((4,))
    shared = K.layers.Dense(4, name="shared")
    sc, sd = shared(c), shared(d)
    ic, id_ = inner_fn(sc), inner_fn(sd)
    cat2 = K.layers.Concatenate()([ic, id_, K.layers.Activation("tanh")(sc)])
    nested = K.Model([c, d], [K.layers.Dense(2)(cat2),
                              K.layers.Dense(1, activation="sigmoid")(id_)])
    return {"sequential": seq, "functional": fn, "shared_nested": nested}


@pytest.mark.parametrize("kind", ["sequential", "functional", "shared_nested"])
def test_keras2_h5_written_by_tf_keras_loads_in_pykern(tf_keras, tmp_path, kind):
    k2 = _randomize(_keras2_models(tf_keras)[kind])
    k2.compile("adam", "mse")
    path = tmp_path / "k2.h5"
    k2.save(path)
    with h5py.File(path) as f:  # a genuine Keras 2 file: ':0' weight names
        assert f.attrs["keras_version"].startswith("2.")
        names = [n for g in f["model_weights"].values() for n in g.attrs["weight_names"]]
        assert any(str(n).endswith(":0") for n in names)
    ours = load_model(path, compile=False)
    xs = _inputs(ours)
    assert_close(pykern_predict(ours, xs), keras_predict(k2, xs))


@pytest.mark.parametrize("kind", ["sequential", "functional", "shared_nested"])
def test_keras_file_written_by_tf_keras_loads_in_pykern(tf_keras, tmp_path, kind):
    """tf-keras' .keras files name tf_keras.src.engine modules and use Keras 2 node
    lists (Keras 3 itself refuses them: keras-team/keras#19089)."""
    k2 = _randomize(_keras2_models(tf_keras)[kind])
    k2.save(tmp_path / "k2.keras")
    ours = load_model(tmp_path / "k2.keras")
    xs = _inputs(ours)
    assert_close(pykern_predict(ours, xs), keras_predict(k2, xs))


def test_keras2_weights_file_loads_positionally_and_by_name(tf_keras, tmp_path):
    k2 = _randomize(_keras2_models(tf_keras)["sequential"])
    k2.save_weights(tmp_path / "k2w.h5")
    ours = pykern.Sequential([pykern.Input((4,)), layers.Dense(6, activation="relu"),
                              layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
    ours.load_weights(tmp_path / "k2w.h5")
    x = _x(3, 4)
    assert_close(pykern_predict(ours, [x]), keras_predict(k2, [x]))
    renamed = pykern.Sequential([pykern.Input((4,)),
                                 layers.Dense(6, name=k2.layers[0].name),
                                 layers.Dense(3, name="unrelated")])
    renamed.load_weights(tmp_path / "k2w.h5", by_name=True)
    np.testing.assert_array_equal(renamed.layers[0].kernel.numpy(), k2.layers[0].get_weights()[0])


def test_keras2_lambda_file_is_refused_in_safe_mode(tf_keras, tmp_path):
    k2 = tf_keras.Sequential([tf_keras.layers.Lambda(lambda t: t + 1.0, input_shape=(3,))])
    k2.save(tmp_path / "lam.h5")
    with pytest.raises(ValueError, match="safe_mode=False"):
        load_model(tmp_path / "lam.h5")
