"""Recurrent models train on the GPU as on the CPU (the seed LSTM is test_gpu_models.py's):
a masked stack of GRUs (go_backwards, both reset_after settings) and an Embedding(mask_zero)
+ Bidirectional GRU text model, each trained from the same initial weights on both devices,
and twice on the GPU.

Tolerances: the loss histories of the CPU and GPU runs agree to rtol 1e-3, as the seed
models' do in test_gpu_models.py (the devices round their GEMMs, reductions and
activations differently, and a recurrence and 9 optimizer steps carry those ulps along),
the final predictions to rtol 1e-3 / atol 1e-4; two GPU runs are bitwise the same
(fixed-order kernels only).
"""
import numpy as np
import pytest

import pykern
import seed_models
from gpu_table import GPU  # noqa: F401  (a dry run registers its stand-in device)
from pykern import layers

pytestmark = pytest.mark.cuda


def _masked_gru():
    return pykern.Sequential([pykern.Input((10, 1)), layers.Masking(),
                              layers.GRU(6, return_sequences=True, go_backwards=True),
                              layers.GRU(5, reset_after=False), layers.Dense(1)])


def _text_gru():
    return pykern.Sequential([pykern.Input((12,), dtype="int32"),
                              layers.Embedding(40, 8, mask_zero=True),
                              layers.Bidirectional(layers.GRU(7)),
                              layers.Dense(1, activation="sigmoid")])


def _text_data(n=64):
    rng = np.random.default_rng(11)  # the same data for every run
    ids = rng.integers(1, 40, (n, 12))
    for i, k in enumerate(rng.integers(0, 8, n)):
        ids[i, :k] = 0  # left padding, masked
    return ids.astype(np.int32), (ids.sum(1) % 2).astype(np.float32)[:, None]


def _masked_series():
    x, y = seed_models.series_data(96)
    x[:12, :3] = 0.0  # masked steps
    return x, y


CASES = {  # name: (model builder, data, loss)
    "masked_gru": (_masked_gru, _masked_series, "mse"),
    "text_bigru": (_text_gru, _text_data, "binary_crossentropy"),
}


def _fit(device, name, weights):
    build, data, loss = CASES[name]
    x, y = data()
    with pykern.device(device):
        model = build()
        model.set_weights(weights)
        model.compile(pykern.optimizers.Adam(0.01), loss)
        history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
        prediction = model.predict(x, verbose=0)
    return history.history["loss"], [np.asarray(w) for w in model.get_weights()], prediction


@pytest.mark.parametrize("name", sorted(CASES))
def test_recurrent_model_trains_alike_on_both_devices_and_repeats_on_the_gpu(name):
    with pykern.device("cpu"):
        weights = [np.asarray(w) for w in CASES[name][0]().get_weights()]
    cpu = _fit("cpu", name, weights)
    gpu = _fit("cuda", name, weights)
    np.testing.assert_allclose(gpu[0], cpu[0], rtol=1e-3)
    np.testing.assert_allclose(gpu[2], cpu[2], rtol=1e-3, atol=1e-4)
    again = _fit("cuda", name, weights)
    assert again[0] == gpu[0]
    for a, b in zip(again[1], gpu[1]):
        np.testing.assert_array_equal(a, b)
