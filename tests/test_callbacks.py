"""Callbacks: hook order, History, EarlyStopping, ReduceLROnPlateau,
LearningRateScheduler and CSVLogger against TensorFlow-Keras on the same
training; TerminateOnNaN, LambdaCallback, ModelCheckpoint file names and
contents, BackupAndRestore resuming a crashed run."""
import csv
import os

import numpy as np
import pytest

import pykern
from pykern import callbacks, layers

RNG = np.random.default_rng(8)
X = RNG.standard_normal((40, 4)).astype(np.float32)
Y = (X @ RNG.standard_normal((4, 1)) > 0).astype(np.float32)


def _model(M, L):
    return M.Sequential([L.Input((4,)), L.Dense(5, activation="tanh"),
                         L.Dense(1, activation="sigmoid")])


def _pair(keras, lr=0.5, metrics=("accuracy",)):
    km, pm = _model(keras, keras.layers), _model(pykern, layers)
    pm.set_weights(km.get_weights())
    km.compile(keras.optimizers.SGD(lr), "binary_crossentropy", metrics=list(metrics),
               run_eagerly=True)
    pm.compile(pykern.optimizers.SGD(lr), "binary_crossentropy", metrics=list(metrics))
    return km, pm


def _fit_both(keras, make_callbacks, epochs=8, lr=0.5, **kw):
    km, pm = _pair(keras, lr)
    kh = km.fit(X, Y, epochs=epochs, batch_size=10, shuffle=False, verbose=0,
                callbacks=make_callbacks(keras.callbacks), **kw)
    ph = pm.fit(X, Y, epochs=epochs, batch_size=10, shuffle=False, verbose=0,
                callbacks=make_callbacks(callbacks), **kw)
    assert list(ph.history) == list(kh.history)
    assert ph.epoch == kh.epoch
    for key in kh.history:
        np.testing.assert_allclose(ph.history[key], kh.history[key], rtol=1e-4, err_msg=key)
    for a, b in zip(pm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    return ph, kh


class _Recorder(callbacks.Callback):
    """Records (hook, index) for every hook it overrides."""

    def __init__(self):
        super().__init__()
        self.calls = []


def _recording_hook(name):
    def hook(self, *args):
        self.calls.append((name,) + tuple(a for a in args if isinstance(a, int)))
    return hook


for _hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_test_begin", "on_test_end", "on_train_batch_begin", "on_train_batch_end",
              "on_test_batch_begin", "on_test_batch_end"):
    setattr(_Recorder, _hook, _recording_hook(_hook))


def test_hooks_run_in_keras_order_with_validation():
    m = _model(pykern, layers)
    m.compile("sgd", "binary_crossentropy")
    rec = _Recorder()
    m.fit(X, Y, epochs=1, batch_size=20, validation_data=(X[:10], Y[:10]), verbose=0,
          callbacks=[rec])
    assert rec.calls == [
        ("on_train_begin",), ("on_epoch_begin", 0),
        ("on_train_batch_begin", 0), ("on_train_batch_end", 0),
        ("on_train_batch_begin", 1), ("on_train_batch_end", 1),
        ("on_test_begin",), ("on_test_batch_begin", 0), ("on_test_batch_end", 0),
        ("on_test_end",), ("on_epoch_end", 0), ("on_train_end",)]


def test_early_stopping_stops_at_the_keras_epoch(keras):
    ph, kh = _fit_both(keras, lambda C: [C.EarlyStopping(monitor="loss", min_delta=0.02,
                                                         patience=1)], epochs=30)
    assert len(ph.epoch) < 30


def test_early_stopping_restores_the_best_weights_as_keras(keras):
    _fit_both(keras, lambda C: [C.EarlyStopping(monitor="val_loss", patience=2,
                                                restore_best_weights=True)],
              epochs=12, lr=3.0, validation_data=(X[:8], 1 - Y[:8]))


def test_early_stopping_with_baseline_and_max_mode_matches_keras(keras):
    _fit_both(keras, lambda C: [C.EarlyStopping(monitor="accuracy", mode="max", patience=2,
                                                baseline=0.99)], epochs=10)


def test_reduce_lr_on_plateau_logs_and_reduces_the_rate_as_keras(keras):
    ph, _ = _fit_both(keras, lambda C: [C.ReduceLROnPlateau(monitor="loss", factor=0.5,
                                                            patience=1, min_delta=0.05,
                                                            cooldown=1, min_lr=0.05)],
                      epochs=10)
    assert min(ph.history["learning_rate"]) < 0.5


def test_learning_rate_scheduler_matches_keras(keras):
    _fit_both(keras, lambda C: [C.LearningRateScheduler(lambda e, lr: lr * 0.7 if e else lr)],
              epochs=4)


def test_csv_logger_writes_the_keras_columns_and_values(keras, tmp_path):
    _fit_both(keras, lambda C: [C.CSVLogger(str(tmp_path / f"{C.__name__}.csv"))], epochs=3)
    ours = list(csv.reader(open(tmp_path / "pykern.callbacks.csv")))
    theirs = list(csv.reader(open(tmp_path / "keras.callbacks.csv")))
    assert ours[0] == theirs[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in ours[1:]] == ["0", "1", "2"]
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose([float(v) for v in a[1:3]], [float(v) for v in b[1:3]],
                                   rtol=1e-4)
        assert a[3:] == ["NA", "NA"] == b[3:]


def test_csv_logger_append_keeps_earlier_rows(tmp_path):
    path = tmp_path / "log.csv"
    m = _model(pykern, layers)
    m.compile("sgd", "binary_crossentropy")
    for _ in range(2):
        m.fit(X, Y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(str(path),
                                                                        append=True)])
    rows = list(csv.reader(open(path)))
    assert rows[0][0] == "epoch" and [r[0] for r in rows[1:]] == ["0", "1", "0", "1"]


def test_terminate_on_nan_stops_after_the_bad_batch(capsys):
    m = _model(pykern, layers)
    m.compile("sgd", "mse")
    y = Y.copy()
    y[12] = np.nan
    h = m.fit(X, y, epochs=5, batch_size=10, verbose=0, shuffle=False,
              callbacks=[callbacks.TerminateOnNaN()])
    assert h.epoch == [0]
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="NaN or Inf"):
        m.fit(X, y, epochs=1, batch_size=10, verbose=0, shuffle=False,
              callbacks=[callbacks.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_calls_the_given_functions():
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(("e", e)),
                                  on_batch_end=lambda b, logs: seen.append(("b", b)))
    m = _model(pykern, layers)
    m.compile("sgd", "mse")
    m.fit(X, Y, epochs=2, batch_size=20, verbose=0, callbacks=[cb])
    assert seen == [("b", 0), ("b", 1), ("e", 0), ("b", 0), ("b", 1), ("e", 1)]


def test_stop_training_set_by_a_callback_ends_the_epoch():
    class Stop(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.stop_training = True
    m = _model(pykern, layers)
    m.compile("sgd", "mse")
    h = m.fit(X, Y, epochs=3, batch_size=10, verbose=0, callbacks=[Stop()])
    assert h.epoch == [0]


def test_model_checkpoint_formats_names_and_saves_the_best(tmp_path):
    m = _model(pykern, layers)
    m.compile(pykern.optimizers.SGD(0.5), "binary_crossentropy")
    pattern = str(tmp_path / "ck" / "m_{epoch:02d}_{val_loss:.3f}.keras")
    h = m.fit(X, Y, epochs=3, batch_size=10, verbose=0, validation_data=(X, Y),
              callbacks=[callbacks.ModelCheckpoint(pattern)])
    names = sorted(os.listdir(tmp_path / "ck"))
    assert names == [f"m_{e + 1:02d}_{v:.3f}.keras" for e, v in
                     enumerate(h.history["val_loss"])]
    best = tmp_path / "best.weights.h5"
    ck = callbacks.ModelCheckpoint(str(best), save_best_only=True, save_weights_only=True,
                                   monitor="val_loss")
    h = m.fit(X, Y, epochs=4, batch_size=10, verbose=0, validation_data=(X, 1 - Y),
              callbacks=[ck])
    assert ck.best == min(h.history["val_loss"])
    fresh = _model(pykern, layers)
    fresh.load_weights(str(best))
    fresh.compile("sgd", "binary_crossentropy")
    np.testing.assert_allclose(fresh.evaluate(X, 1 - Y, verbose=0), ck.best, rtol=1e-5)


def test_model_checkpoint_rejects_a_wrong_suffix():
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        callbacks.ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        callbacks.ModelCheckpoint("model.tf")


def test_backup_and_restore_resumes_a_crashed_run_with_the_same_state(tmp_path):
    def fresh():
        pykern.utils.set_random_seed(2)
        m = _model(pykern, layers)
        m.compile(pykern.optimizers.Adam(0.05), "binary_crossentropy")
        return m
    ref = fresh()
    ref_hist = ref.fit(X, Y, epochs=5, batch_size=10, shuffle=False, verbose=0).history

    class Crash(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 3:
                raise KeyboardInterrupt("simulated crash")
    backup = str(tmp_path / "backup")
    first = fresh()
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, epochs=5, batch_size=10, shuffle=False, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(backup), Crash()])
    resumed = fresh()
    h = resumed.fit(X, Y, epochs=5, batch_size=10, shuffle=False, verbose=0,
                    callbacks=[callbacks.BackupAndRestore(backup)])
    assert h.epoch == [3, 4]
    np.testing.assert_allclose(h.history["loss"], ref_hist["loss"][3:], rtol=1e-6)
    for a, b in zip(resumed.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == 20
    assert os.listdir(backup) == []  # deleted after a normal end
