"""TensorBoard callback: what fit logs, read back with TensorBoard's own reader
(EventAccumulator), equals History and the batch logs, under Keras 3's
directories, tags and steps; histograms, weight images and the model config for
the graph plugin; the event writer never imports TensorFlow."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorboard")

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

import pykern  # noqa: E402
from child_process import child_env  # noqa: E402
from pykern import callbacks, layers  # noqa: E402

RNG = np.random.default_rng(3)
X = RNG.standard_normal((64, 4)).astype(np.float32)
Y = (X[:, :1] + 0.5 * X[:, 1:2] > 0).astype(np.float32)


def _model():
    m = pykern.Sequential([layers.Input((4,)), layers.Dense(5, activation="tanh"),
                           layers.Dense(1, activation="sigmoid")], name="tb_model")
    m.compile(pykern.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"])
    return m


def _read(run_dir):
    """{tag: [(step, value ndarray)]} and {tag: plugin name} of one run directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util
    acc = EventAccumulator(os.fspath(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()["tensors"]
    values = {t: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(t)]
              for t in tags}
    plugins = {t: acc.SummaryMetadata(t).plugin_data.plugin_name for t in tags}
    return values, plugins


def _series(values, tag):
    steps = [s for s, _ in values[tag]]
    return steps, [float(v) for _, v in values[tag]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One fit with validation, batch logging every 2nd batch, histograms and images."""
    log_dir = tmp_path_factory.mktemp("tb") / "logs"
    batch_logs = []
    recorder = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs)))
    model = _model()
    history = model.fit(X, Y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                        shuffle=False,
                        callbacks=[recorder,
                                   callbacks.TensorBoard(log_dir, histogram_freq=2,
                                                         update_freq=2, write_images=True,
                                                         write_steps_per_second=True)])
    train, train_plugins = _read(log_dir / "train")
    val, val_plugins = _read(log_dir / "validation")
    return dict(model=model, history=history.history, batch_logs=batch_logs, train=train,
                val=val, train_plugins=train_plugins, val_plugins=val_plugins)


def test_epoch_scalars_equal_history_in_train_and_validation_runs(run):
    h = run["history"]
    for name in ("loss", "accuracy"):
        steps, values = _series(run["train"], f"epoch_{name}")
        assert steps == [0, 1, 2]
        assert values == [float(np.float32(v)) for v in h[name]]
        steps, values = _series(run["val"], f"epoch_{name}")
        assert steps == [0, 1, 2]
        assert values == [float(np.float32(v)) for v in h[f"val_{name}"]]
    steps, lr = _series(run["train"], "epoch_learning_rate")
    assert steps == [0, 1, 2] and lr == [float(np.float32(0.1))] * 3
    assert not any(t.startswith("val_") or "epoch_val" in t for t in run["val"])


def test_batch_scalars_every_second_global_batch_equal_the_batch_logs(run):
    # 48 training samples / 16 = 3 batches an epoch: global batches 1..9, logged at 2, 4, 6, 8
    logs = run["batch_logs"]
    assert len(logs) == 9
    for name in ("loss", "accuracy"):
        steps, values = _series(run["train"], f"batch_{name}")
        assert steps == [2, 4, 6, 8]
        assert values == [float(np.float32(logs[s - 1][name])) for s in steps]
    steps, rates = _series(run["train"], "batch_steps_per_second")
    assert steps == [2, 4, 6, 8] and min(rates) > 0
    steps, rates = _series(run["train"], "epoch_steps_per_second")
    assert steps == [0, 1, 2] and min(rates) > 0


def test_evaluation_scalars_are_logged_against_optimizer_iterations(run):
    steps, values = _series(run["val"], "evaluation_loss_vs_iterations")
    assert steps == [3, 6, 9]
    assert values == [float(np.float32(v)) for v in run["history"]["val_loss"]]


def test_weight_histograms_every_histogram_freq_epochs(run):
    model = run["model"]
    for weight in model.weights:
        series = run["train"][f"{weight.path}/histogram"]
        assert [s for s, _ in series] == [0, 2]
        buckets = series[-1][1]  # (30, [left, right, count]) of the final weights
        value = weight.numpy()
        assert buckets.shape == (30, 3) and buckets[:, 2].sum() == value.size
        assert buckets[0, 0] == pytest.approx(value.min()) and \
            buckets[-1, 1] == pytest.approx(value.max())
        assert run["train_plugins"][f"{weight.path}/histogram"] == "histograms"


def test_weight_images_lay_kernels_out_as_keras(run):
    from io import BytesIO

    from PIL import Image
    kernel = run["model"].layers[0].kernel  # (4, 5): one 4x5 image (rows < columns)
    (_, value), = run["train"][f"{kernel.path}/image"][-1:]
    width, height, png = value
    assert (int(width), int(height)) == (5, 4)
    pixels = np.asarray(Image.open(BytesIO(png)))
    expected = (np.clip(kernel.numpy(), 0, 1) * 255.5).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    assert run["train_plugins"][f"{kernel.path}/image"] == "images"


def test_model_config_is_written_for_the_graph_plugin(run):
    from tensorboard.plugins.graph import keras_util
    (step, value), = run["train"]["keras"]
    assert step == 0 and run["train_plugins"]["keras"] == "graph_keras_model"
    config = json.loads(value.item())
    assert config["class_name"] == "Sequential"
    graph = keras_util.keras_model_to_graph_def(config)
    model = run["model"]
    drawn = [(node.name, node.attr["keras_class"].s.decode(), list(node.input))
             for node in graph.node]
    dense, dense_1 = (f"tb_model/{layer.name}" for layer in model.layers)
    assert drawn[1:] == [(dense, "Dense", [drawn[0][0]]), (dense_1, "Dense", [dense])]
    assert drawn[0][1] == "InputLayer"


def test_epoch_logging_installs_no_batch_hooks(tmp_path):
    cbs = callbacks.CallbackList([callbacks.TensorBoard(tmp_path)], model=None)
    assert not cbs.wants("on_train_batch_end") and not cbs.wants("on_train_batch_begin")
    assert not os.listdir(tmp_path)  # event files appear only when something is written


def test_fit_without_validation_writes_only_the_train_run(tmp_path):
    history = _model().fit(X, Y, epochs=2, batch_size=32, verbose=0,
                           callbacks=[callbacks.TensorBoard(tmp_path, write_graph=False)])
    assert sorted(os.listdir(tmp_path)) == ["train"]
    values, _ = _read(tmp_path / "train")
    assert sorted(values) == ["epoch_accuracy", "epoch_learning_rate", "epoch_loss"]
    assert _series(values, "epoch_loss")[1] == [float(np.float32(v))
                                                for v in history.history["loss"]]


def test_bad_arguments_are_rejected_and_profile_batch_warns(tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        callbacks.TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ValueError, match="profile_batch"):
        callbacks.TensorBoard(tmp_path, profile_batch=(5, 2))
    with pytest.raises(ValueError, match="profile_batch"):
        callbacks.TensorBoard(tmp_path, profile_batch="two,four")
    with pytest.warns(UserWarning, match="no trace profiler"):
        callbacks.TensorBoard(tmp_path, profile_batch="2,4")
    callbacks.TensorBoard(tmp_path, profile_batch=0)


def test_writing_events_does_not_import_tensorflow(tmp_path):
    code = ("import sys; from pykern.utils.summary_writer import SummaryWriter\n"
            f"w = SummaryWriter({os.fspath(tmp_path)!r}); w.scalar('a', 1.5, 3); w.close()\n"
            "assert 'tensorflow' not in sys.modules and 'torch' not in sys.modules")
    # from tmp_path with the caller's PYTHONPATH made absolute: `python -c` puts the cwd
    # first on sys.path, and the repository root would shadow the installed package
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, env=child_env())
    assert len(os.listdir(tmp_path)) == 1


def test_standalone_evaluate_logs_against_iterations_and_closes_its_file(tmp_path):
    model = _model()
    model.fit(X, Y, epochs=1, batch_size=32, verbose=0)  # 2 optimizer steps
    tb = callbacks.TensorBoard(tmp_path)
    loss, _ = model.evaluate(X, Y, verbose=0, callbacks=[tb])
    assert not tb._writers
    values, _ = _read(tmp_path / "validation")
    assert _series(values, "evaluation_loss_vs_iterations") == ([2], [float(np.float32(loss))])
    assert _series(values, "evaluation_accuracy_vs_iterations")[0] == [2]


def test_embeddings_freq_saves_the_weights_each_period(tmp_path):
    model = _model()
    model.fit(X, Y, epochs=3, batch_size=32, verbose=0,
              callbacks=[callbacks.TensorBoard(tmp_path, embeddings_freq=2)])
    saved = sorted(f for f in os.listdir(tmp_path / "train") if f.endswith(".weights.h5"))
    assert saved == ["keras_embedding.ckpt-0.weights.h5", "keras_embedding.ckpt-2.weights.h5"]
    other = _model()
    other.load_weights(tmp_path / "train" / saved[-1])
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
