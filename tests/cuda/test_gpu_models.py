"""Whole models on the GPU: the seed MLP, an MNIST-style CNN with BatchNormalization and
LSTM(50, relu) -> Dense(1) train to the CPU's loss history, bitwise the same history twice
on the GPU, fit moves each batch once, and a model saved from the GPU loads on the CPU.

Tolerances: both devices start from the same weights and draw the same dropout masks and
batch order (Philox and NumPy's seeded shuffle), but every GEMM, convolution and reduction
adds in another order, so each step's weights differ by a few float32 ulps, and the
differences grow with the steps. Over 2 epochs (~16 steps) the epoch losses stay within
rtol 1e-3; BatchNormalization divides by batch statistics, which amplifies them: 5e-3.
Accuracy may flip for a sample on a decision boundary: atol of 3 samples."""
import os
import subprocess
import sys

import numpy as np
import pytest

import pykern
import seed_models
from gpu_table import real_gpu_only  # a dry run (gpu_table.py) registers its stand-in device
from pykern.backend import devices

pytestmark = pytest.mark.cuda

RTOL = {"seed_mlp": 1e-3, "bn_cnn": 5e-3, "lstm_series": 1e-3}


@pytest.mark.parametrize("name", sorted(seed_models.MODELS))
def test_the_gpu_trains_to_the_cpus_loss_history(name):
    on_cpu, _ = seed_models.train(name, "cpu", epochs=2)
    on_gpu, model = seed_models.train(name, "cuda", epochs=2)
    assert model.weights[0].device.type == "cuda"
    n = len(seed_models.MODELS[name][1]()[0])
    for key in on_cpu:
        if "accuracy" in key:
            np.testing.assert_allclose(on_gpu[key], on_cpu[key], atol=3 / n, err_msg=key)
        else:
            np.testing.assert_allclose(on_gpu[key], on_cpu[key], rtol=RTOL[name], err_msg=key)
    assert on_gpu["loss"][-1] < on_gpu["loss"][0]


@pytest.mark.parametrize("name", sorted(seed_models.MODELS))
def test_training_twice_on_the_gpu_is_bitwise_identical(name):
    first, m1 = seed_models.train(name, "cuda", epochs=2)
    second, m2 = seed_models.train(name, "cuda", epochs=2)
    assert first == second
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        assert a.tobytes() == b.tobytes()


def test_a_model_saved_from_the_gpu_loads_on_the_cpu_and_predicts_the_same(tmp_path):
    _, model = seed_models.train("bn_cnn", "cuda", epochs=1)
    x, _ = seed_models.image_data(64, seed=1)
    path = tmp_path / "bn_cnn.keras"
    model.save(path)
    model.save_weights(tmp_path / "bn_cnn.weights.h5")
    with pykern.device("cpu"):
        loaded = pykern.models.load_model(path)
    assert loaded.weights[0].device is devices.CPU
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-6)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_and_evaluate_match_the_cpu():
    _, model = seed_models.train("seed_mlp", "cuda", epochs=1)
    x, y = seed_models.mlp_data(300, seed=2)
    with pykern.device("cpu"):
        twin = seed_models.seed_mlp()
        twin.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(x, batch_size=64, verbose=0),
                               twin.predict(x, batch_size=64, verbose=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), twin.evaluate(x, y, verbose=0),
                               rtol=1e-4, atol=1e-6)


class _Counting:
    """pykern._cuda with its host<->device copies counted."""

    def __init__(self, module):
        self._m, self.counts = module, {"to_device": 0, "to_host": 0}

    def __getattr__(self, name):
        return getattr(self._m, name)

    def to_device(self, *args, **kwargs):
        self.counts["to_device"] += 1
        return self._m.to_device(*args, **kwargs)

    def to_host(self, *args, **kwargs):
        self.counts["to_host"] += 1
        return self._m.to_host(*args, **kwargs)


def test_fit_copies_each_batch_once_and_reads_back_only_for_the_logs(monkeypatch):
    from pykern.backend.devices import cuda as table
    counting = _Counting(table._cuda)
    monkeypatch.setattr(table, "_cuda", counting)
    seed_models.fit_mlp_counting("cuda", lambda: counting.counts.update(to_device=0, to_host=0),
                                 lambda: counting.counts)


@real_gpu_only
def test_the_default_device_is_the_gpu_and_pykern_device_cpu_overrides_it():
    code = "import pykern; print(pykern.config.get_device())"
    env = {k: v for k, v in os.environ.items() if k != "PYKERN_DEVICE"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "cuda:0"
    env["PYKERN_DEVICE"] = "cpu"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "cpu"


def test_tensors_on_the_gpu_print_and_convert():
    with pykern.device("cuda"):
        t = pykern.ops.convert_to_tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        u = pykern.ops.sum(t * 2.0, axis=0)
    assert "device=cuda:0" in repr(u)
    np.testing.assert_array_equal(u.numpy(), [6.0, 10.0, 14.0])
    np.testing.assert_array_equal(np.asarray(t), np.arange(6).reshape(2, 3))
