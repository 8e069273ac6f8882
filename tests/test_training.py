"""compile / fit / evaluate / predict against TensorFlow-Keras: the same model,
weights and batches (shuffle=False) give the same loss history, metric history
and final weights; plus data adapters, validation, reproducibility and errors."""
import numpy as np
import pytest

import pykern
from pykern import layers

RNG = np.random.default_rng(21)
N, F = 48, 5
X = RNG.standard_normal((N, F)).astype(np.float32)
Y_REG = RNG.standard_normal((N, 2)).astype(np.float32)
Y_BIN = (RNG.random((N, 1)) > 0.5).astype(np.float32)
Y_INT = RNG.integers(0, 3, (N,))
Y_HOT = np.eye(3, dtype=np.float32)[Y_INT]
Y_POS = RNG.uniform(0.1, 2.0, (N, 2)).astype(np.float32)
Y_SIMPLEX = RNG.uniform(0.1, 1, (N, 3)).astype(np.float32)
Y_SIMPLEX /= Y_SIMPLEX.sum(-1, keepdims=True)
Y_PM1 = np.where(RNG.random((N, 2)) > 0.5, 1.0, -1.0).astype(np.float32)


def _model(M, L, units, activation, hidden="tanh", l2=None):
    reg = None if l2 is None else M.regularizers.L2(l2)
    return M.Sequential([L.Input((F,)), L.Dense(7, activation=hidden, kernel_regularizer=reg),
                         L.Dense(units, activation=activation)])


def fit_both(keras, make_optimizer_pair, loss_pair, y, units, activation, metrics=(),
             epochs=3, batch_size=16, rtol=1e-4, atol=1e-6, l2=None, **fit_kwargs):
    """Trains the same model in both libraries; asserts equal histories and weights."""
    km = _model(keras, keras.layers, units, activation, l2=l2)
    pm = _model(pykern, layers, units, activation, l2=l2)
    pm.set_weights(km.get_weights())
    k_opt, p_opt = make_optimizer_pair()
    km.compile(optimizer=k_opt, loss=loss_pair[0], metrics=list(metrics), run_eagerly=True)
    pm.compile(optimizer=p_opt, loss=loss_pair[1], metrics=list(metrics))
    kh = km.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
                **fit_kwargs)
    ph = pm.fit(X, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0,
                **fit_kwargs)
    assert list(ph.history) == list(kh.history)
    for key in kh.history:
        np.testing.assert_allclose(ph.history[key], kh.history[key], rtol=rtol, atol=atol,
                                   err_msg=key)
    # weights are O(1): float32 round-off differs by ~1e-6 absolute between the two
    # implementations, so a weight that passes near 0 needs an absolute floor
    for pw, kw in zip(pm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(pw, kw, rtol=rtol, atol=max(atol, 1e-5))
    return pm, km


def _opt(name, **kw):
    def make():
        import keras
        return getattr(keras.optimizers, name)(**kw), getattr(pykern.optimizers, name)(**kw)
    return make


OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "epsilon": 1e-3}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("Adagrad", {"learning_rate": 0.05}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01}),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 0.05}),
    ("Adam", {"learning_rate": 0.01, "global_clipnorm": 0.1}),
    ("RMSprop", {"clipvalue": 0.01}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("name,kw", OPTIMIZERS,
                         ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in OPTIMIZERS])
def test_optimizer_training_matches_keras(keras, name, kw):
    fit_both(keras, _opt(name, **kw), ("mse", "mse"), Y_REG, 2, None)


@pytest.mark.parametrize("schedule,kw", [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5,
                              staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[2, 5], values=[0.1, 0.05, 0.01])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=5, power=2.0)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=6, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.01, decay_steps=6, warmup_target=0.1,
                         warmup_steps=3)),
])
def test_learning_rate_schedules_match_keras(keras, schedule, kw):
    def make():
        return (keras.optimizers.SGD(getattr(keras.optimizers.schedules, schedule)(**kw)),
                pykern.optimizers.SGD(getattr(pykern.optimizers.schedules, schedule)(**kw)))
    fit_both(keras, make, ("mse", "mse"), Y_REG, 2, None)


LOSSES = [
    ("mse", Y_REG, 2, None), ("mae", Y_REG, 2, None), ("mape", Y_REG, 2, None),
    ("msle", Y_POS, 2, "softplus"), ("binary_crossentropy", Y_BIN, 1, "sigmoid"),
    ("categorical_crossentropy", Y_HOT, 3, "softmax"),
    ("sparse_categorical_crossentropy", Y_INT, 3, "softmax"), ("huber", Y_REG, 2, None),
    ("log_cosh", Y_REG, 2, None), ("kl_divergence", Y_SIMPLEX, 3, "softmax"),
    ("poisson", Y_POS, 2, "softplus"), ("hinge", Y_PM1, 2, "tanh"),
    ("squared_hinge", Y_PM1, 2, "tanh"), ("categorical_hinge", Y_HOT, 3, None),
    ("cosine_similarity", Y_REG, 2, None),
]


@pytest.mark.parametrize("loss,y,units,act", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_training_matches_keras(keras, loss, y, units, act):
    fit_both(keras, _opt("Adam", learning_rate=0.01), (loss, loss), y, units, act)


@pytest.mark.parametrize("make_pair,y,units,act", [
    (lambda K, P: (K.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                   P.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)),
     Y_BIN, 1, None),
    (lambda K, P: (K.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
                   P.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)),
     Y_HOT, 3, None),
    (lambda K, P: (K.SparseCategoricalCrossentropy(from_logits=True),
                   P.SparseCategoricalCrossentropy(from_logits=True)), Y_INT, 3, None),
    (lambda K, P: (K.Huber(delta=0.3), P.Huber(delta=0.3)), Y_REG, 2, None),
], ids=["bce-logits-smoothing", "cce-logits-smoothing", "scce-logits", "huber-delta"])
def test_loss_classes_with_options_match_keras(keras, make_pair, y, units, act):
    fit_both(keras, _opt("Adam", learning_rate=0.01),
             make_pair(keras.losses, pykern.losses), y, units, act)


@pytest.mark.parametrize("metrics,y,units,act,loss", [
    (["accuracy", "mse", "mae"], Y_BIN, 1, "sigmoid", "binary_crossentropy"),
    (["acc", "AUC", "Precision", "Recall"], Y_BIN, 1, "sigmoid", "binary_crossentropy"),
    (["accuracy", "top_k_categorical_accuracy", "categorical_crossentropy"], Y_HOT, 3,
     "softmax", "categorical_crossentropy"),
    (["accuracy", "sparse_top_k_categorical_accuracy"], Y_INT, 3, "softmax",
     "sparse_categorical_crossentropy"),
    (["RootMeanSquaredError", "mape", "cosine_similarity", "msle"], Y_REG, 2, None, "mse"),
], ids=["binary", "binary-confusion", "categorical", "sparse", "regression"])
def test_metrics_history_matches_keras(keras, metrics, y, units, act, loss):
    fit_both(keras, _opt("Adam", learning_rate=0.01), (loss, loss), y, units, act,
             metrics=metrics, validation_split=0.25)


def test_validation_freq_initial_epoch_and_steps_per_epoch_match_keras(keras):
    fit_both(keras, _opt("SGD", learning_rate=0.1), ("mse", "mse"), Y_REG, 2, None,
             validation_data=(X[:8], Y_REG[:8]), validation_freq=2, initial_epoch=1,
             steps_per_epoch=2, epochs=5)


def test_sample_and_class_weights_and_regularizers_match_keras(keras):
    sw = RNG.uniform(0, 2, N).astype(np.float32)
    fit_both(keras, _opt("SGD", learning_rate=0.1), ("binary_crossentropy",) * 2, Y_BIN, 1,
             "sigmoid", sample_weight=sw, l2=0.01)
    fit_both(keras, _opt("SGD", learning_rate=0.1), ("sparse_categorical_crossentropy",) * 2,
             Y_INT, 3, "softmax", class_weight={0: 1.0, 1: 3.0, 2: 0.5})


def test_activity_regularization_losses_reach_the_training_loss_as_keras(keras):
    def build(M, L):
        return M.Sequential([L.Input((F,)), L.Dense(6, activation="tanh"),
                             L.ActivityRegularization(l1=0.01, l2=0.02), L.Dense(2)])
    km, pm = build(keras, keras.layers), build(pykern, layers)
    pm.set_weights(km.get_weights())
    km.compile(keras.optimizers.SGD(0.1), "mse", run_eagerly=True)
    pm.compile(pykern.optimizers.SGD(0.1), "mse")
    kh = km.fit(X, Y_REG, epochs=2, batch_size=16, shuffle=False, verbose=0)
    ph = pm.fit(X, Y_REG, epochs=2, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(ph.history["loss"], kh.history["loss"], rtol=1e-4)


def test_a_model_without_any_loss_cannot_train():
    m = _model(pykern, layers, 2, None)
    m.compile("sgd")
    with pytest.raises(ValueError, match="no loss to optimize"):
        m.fit(X, Y_REG, verbose=0)


def test_validation_data_and_evaluate_match_keras(keras):
    pm, km = fit_both(keras, _opt("RMSprop"), ("mse", "mse"), Y_REG, 2, None, metrics=["mae"],
                      validation_data=(X[:10], Y_REG[:10]), epochs=2)
    ours = pm.evaluate(X, Y_REG, verbose=0, batch_size=7)
    theirs = km.evaluate(X, Y_REG, verbose=0, batch_size=7)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    assert pm.evaluate(X, Y_REG, verbose=0, return_dict=True).keys() == {"loss", "mae"}
    np.testing.assert_allclose(pm.predict(X, verbose=0), km.predict(X, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_train_and_test_on_batch_match_keras(keras):
    km = _model(keras, keras.layers, 2, None)
    pm = _model(pykern, layers, 2, None)
    pm.set_weights(km.get_weights())
    km.compile(keras.optimizers.Adam(0.01), "mse", metrics=["mae"], run_eagerly=True)
    pm.compile(pykern.optimizers.Adam(0.01), "mse", metrics=["mae"])
    for _ in range(3):
        np.testing.assert_allclose(pm.train_on_batch(X, Y_REG), km.train_on_batch(X, Y_REG),
                                   rtol=1e-4)
    np.testing.assert_allclose(pm.test_on_batch(X, Y_REG), km.test_on_batch(X, Y_REG),
                               rtol=1e-4)
    # outputs of O(0.1-1) after three Adam steps: float32 round-off ~1e-6 absolute
    np.testing.assert_allclose(pm.predict_on_batch(X), km.predict_on_batch(X), rtol=1e-4,
                               atol=1e-5)


def _seeded_fit(seed):
    pykern.utils.set_random_seed(seed)
    m = pykern.Sequential([layers.Input((F,)), layers.Dense(8, activation="relu"),
                           layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return m.fit(X, Y_BIN, epochs=3, batch_size=8, verbose=0).history


def test_same_seed_gives_bitwise_the_same_history():
    a, b, c = _seeded_fit(3), _seeded_fit(3), _seeded_fit(4)
    assert a == b
    assert a != c


def test_history_keys_are_sorted_with_validation_after():
    m = _model(pykern, layers, 1, "sigmoid")
    m.compile("sgd", "binary_crossentropy", metrics=["acc", "mse"])
    h = m.fit(X, Y_BIN, epochs=2, validation_split=0.25, verbose=0)
    assert list(h.history) == ["acc", "loss", "mse", "val_acc", "val_loss", "val_mse"]
    assert h.epoch == [0, 1] and m.history is h
    assert m.metrics_names == ["loss", "compile_metrics"]  # Keras 3's (not per metric)
    assert h.params == {"verbose": 0, "epochs": 2, "steps": 2}


def test_validation_split_takes_the_last_fraction_before_shuffling():
    m = _model(pykern, layers, 2, None)
    m.compile("sgd", "mse")
    h = m.fit(X, Y_REG, epochs=1, validation_split=0.25, verbose=0, shuffle=True)
    np.testing.assert_allclose(h.history["val_loss"][0],
                               m.evaluate(X[36:], Y_REG[36:], verbose=0), rtol=1e-6)


class _Batches(pykern.utils.Sequence):
    def __init__(self):
        super().__init__()
        self.epochs_ended = 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return X[i * 16:(i + 1) * 16], Y_REG[i * 16:(i + 1) * 16]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_sequences_and_generators_train_like_arrays():
    def run(fit):
        pykern.utils.set_random_seed(1)
        m = _model(pykern, layers, 2, None)
        m.compile("sgd", "mse")
        return fit(m).history["loss"]
    ref = run(lambda m: m.fit(X, Y_REG, batch_size=16, epochs=2, shuffle=False, verbose=0))
    seq = _Batches()
    assert run(lambda m: m.fit(seq, epochs=2, shuffle=False, verbose=0)) == ref
    assert seq.epochs_ended == 2

    def gen():
        while True:
            for i in range(3):
                yield X[i * 16:(i + 1) * 16], Y_REG[i * 16:(i + 1) * 16]
    assert run(lambda m: m.fit(gen(), steps_per_epoch=3, epochs=2, verbose=0)) == ref


def test_functional_model_with_two_outputs_names_losses_and_metrics(keras):
    def build(M, L):
        i = L.Input((F,), name="x")
        h = L.Dense(6, activation="tanh", name="h")(i)
        a = L.Dense(2, name="reg")(h)
        b = L.Dense(1, activation="sigmoid", name="cls")(h)
        return M.Model(i, [a, b])
    km, pm = build(keras, keras.layers), build(pykern, layers)
    pm.set_weights(km.get_weights())
    kw = dict(loss={"reg": "mse", "cls": "binary_crossentropy"}, loss_weights=[0.5, 2.0],
              metrics={"cls": ["accuracy"]})
    km.compile(keras.optimizers.SGD(0.1), run_eagerly=True, **kw)
    pm.compile(pykern.optimizers.SGD(0.1), **kw)
    kh = km.fit(X, [Y_REG, Y_BIN], epochs=2, batch_size=16, shuffle=False, verbose=0)
    ph = pm.fit(X, [Y_REG, Y_BIN], epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert sorted(ph.history) == sorted(kh.history)
    for key in kh.history:
        np.testing.assert_allclose(ph.history[key], kh.history[key], rtol=1e-4, err_msg=key)


def test_verbose_modes_print_keras_style_lines(capsys):
    m = _model(pykern, layers, 1, "sigmoid")
    m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    m.fit(X, Y_BIN, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("3/3 - ") and " - accuracy: " in out[1] and " - loss: " in out[1]
    m.fit(X, Y_BIN, epochs=1, batch_size=16, verbose=1)
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("3/3 \u2501\u2501") and "/step - accuracy: " in line
    m.fit(X, Y_BIN, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_to_categorical_matches_keras(keras):
    labels = np.array([[0], [2], [1]])
    np.testing.assert_array_equal(pykern.utils.to_categorical(labels, 4),
                                  keras.utils.to_categorical(labels, 4))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        pykern.utils.to_categorical([0, 2], num_classes=2)


@pytest.fixture
def compiled():
    m = _model(pykern, layers, 3, "softmax")
    m.compile("adam", "categorical_crossentropy")
    return m


@pytest.mark.parametrize("call,match", [
    (lambda m: m.fit(X, Y_HOT[:40], verbose=0), "same length"),
    (lambda m: m.fit(X[:0], Y_HOT[:0], verbose=0), "empty"),
    (lambda m: m.fit(X[:, :4], Y_HOT, verbose=0), r"expects inputs of shape \(None, 5\)"),
    (lambda m: m.fit(X, Y_INT, verbose=0), "sparse_categorical_crossentropy"),
    (lambda m: m.fit(np.array([["a"] * F] * N), Y_HOT, verbose=0), "numeric"),
    (lambda m: m.fit(X, Y_HOT, batch_size=0, verbose=0), "batch_size"),
    (lambda m: m.fit(X, Y_HOT, validation_split=1.5, verbose=0), "validation_split"),
    (lambda m: m.fit(X, verbose=0), "targets"),
], ids=["length", "empty", "features", "integer-labels", "strings", "batch", "split",
        "no-y"])
def test_bad_input_raises_value_error_naming_the_problem(compiled, call, match):
    with pytest.raises(ValueError, match=match):
        call(compiled)


def test_sparse_labels_out_of_range_and_one_hot_to_sparse_loss_are_rejected():
    m = _model(pykern, layers, 3, "softmax")
    m.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        m.fit(X, Y_INT + 1, verbose=0)
    with pytest.raises(ValueError, match="one-hot"):
        m.fit(X, Y_HOT, verbose=0)


def test_fit_before_compile_is_an_error():
    with pytest.raises(ValueError, match="compile"):
        _model(pykern, layers, 2, None).fit(X, Y_REG, verbose=0)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_saved_model_reloads_compiled_and_continues_training_identically(tmp_path, suffix):
    def make():
        pykern.utils.set_random_seed(0)
        m = _model(pykern, layers, 1, "sigmoid")
        m.compile(pykern.optimizers.Adam(0.01),
                  pykern.losses.BinaryCrossentropy(label_smoothing=0.1),
                  metrics=["accuracy", pykern.metrics.AUC(name="auc")])
        return m
    a = make()
    a.fit(X, Y_BIN, epochs=2, batch_size=16, shuffle=False, verbose=0)
    a.save(str(tmp_path / f"m{suffix}"))
    b = pykern.saving.load_model(str(tmp_path / f"m{suffix}"))
    assert b.get_compile_config()["loss"]["config"]["label_smoothing"] == 0.1
    assert int(b.optimizer.iterations.numpy()) == 6
    hb = b.fit(X, Y_BIN, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    ha = a.fit(X, Y_BIN, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    assert hb == ha


class _Subclassed(pykern.Model):
    def __init__(self, two=False):
        super().__init__()
        self.hidden = layers.Dense(7, activation="tanh")
        self.out = layers.Dense(2)
        self.aux = layers.Dense(1) if two else None
        self.two = two

    def call(self, x):
        h = self.hidden(x)
        return [self.out(h), self.aux(h)] if self.two else self.out(h)


def test_subclassed_models_build_on_the_first_batch_and_train_like_sequential():
    seq = _model(pykern, layers, 2, None)
    sub = _Subclassed()
    sub(X[:1])
    sub.set_weights(seq.get_weights())
    for m in (seq, sub):
        m.compile(pykern.optimizers.SGD(0.1), "mse")
    ref = seq.fit(X, Y_REG, epochs=2, shuffle=False, verbose=0).history
    assert _Subclassed().compile("sgd", "mse") is None
    assert sub.fit(X, Y_REG, epochs=2, shuffle=False, verbose=0).history == ref
    fresh = _Subclassed()
    fresh.compile("sgd", "mse")
    assert len(fresh.fit(X, Y_REG, epochs=1, verbose=0).history["loss"]) == 1
    two = _Subclassed(two=True)
    two.compile("sgd", ["mse", "mse"])
    h = two.fit(X, [Y_REG, Y_BIN], epochs=1, verbose=0).history
    assert sorted(h) == ["loss", "output_0_loss", "output_1_loss"]
    one_loss = _Subclassed(two=True)
    one_loss.compile("sgd", "mse")
    with pytest.raises(ValueError, match="returned 2 outputs but was compiled for 1"):
        one_loss.fit(X, Y_REG, verbose=0)
