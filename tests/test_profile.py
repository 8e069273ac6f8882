"""model.profile: one row per layer with positive forward and backward times, exact
FLOP counts for Dense and convolutions (backward: one pass per gradient the step
computes), and a step that leaves the weights and moving statistics unchanged."""
import numpy as np
import pytest

import pykern
from pykern import layers

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

RNG = np.random.default_rng(5)


def _mnist():
    return pykern.Sequential([
        layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Dropout(0.25),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.5),
        layers.Dense(10, activation="softmax")], name="mnist_cnn")


@pytest.fixture(scope="module")
def mnist_profile():
    model = _mnist()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = RNG.standard_normal((20, 28, 28, 1)).astype(np.float32)
    y = RNG.integers(0, 10, 20)
    before = model.get_weights()
    printed = []
    rows = model.profile(x, y, batch_size=8, steps=2, print_fn=printed.append)
    return model, before, rows, printed


def test_every_layer_has_a_row_with_positive_times(mnist_profile):
    model, _, rows, printed = mnist_profile
    assert [r["layer"] for r in rows] == [layer.name for layer in model.layers]
    for r in rows:
        assert r["forward_ms"] > 0 and r["backward_ms"] > 0, r
        assert r["calls"] == 1
    assert rows[0]["output_shape"] == (8, 26, 26, 32)
    table, = printed
    assert all(f"{layer.name} ({type(layer).__name__})" in table for layer in model.layers)
    assert "% peak" in table.replace("%peak", "% peak")


def test_dense_and_conv_flops_are_exact(mnist_profile):
    _, _, rows, _ = mnist_profile
    by_name = dict(zip(["conv2d", "conv2d_1", "max_pooling2d", "dropout", "flatten", "dense",
                        "dropout_1", "dense_1"], rows))  # automatic names vary by session
    n = 8
    conv1 = 2 * n * 26 * 26 * 3 * 3 * 1 * 32
    conv2 = 2 * n * 24 * 24 * 3 * 3 * 32 * 64
    dense1, dense2 = 2 * n * 9216 * 128, 2 * n * 128 * 10
    assert by_name["conv2d"]["forward_flops"] == conv1
    assert by_name["conv2d"]["backward_flops"] == conv1  # the data needs no gradient
    assert by_name["conv2d_1"]["forward_flops"] == conv2
    assert by_name["conv2d_1"]["backward_flops"] == 2 * conv2  # weights and input
    assert (by_name["dense"]["forward_flops"], by_name["dense"]["backward_flops"]) == \
        (dense1, 2 * dense1)
    assert by_name["dense_1"]["forward_flops"] == dense2
    assert by_name["max_pooling2d"]["forward_flops"] == n * 12 * 12 * 64 * 4
    for name in ("dropout", "flatten"):
        assert by_name[name]["forward_flops"] is None and by_name[name]["forward_gflops"] is None
    r = by_name["conv2d_1"]
    assert r["forward_gflops"] == pytest.approx(conv2 / (r["forward_ms"] * 1e-3) * 1e-9)
    assert 0 < r["forward_pct_peak"]


def test_profiling_leaves_the_weights_unchanged(mnist_profile):
    model, before, _, _ = mnist_profile
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "call" not in vars(model.layers[0])  # the timing wrappers are gone


def test_moving_statistics_are_restored_and_frozen_layers_count_no_weight_gradient():
    frozen = layers.Dense(6, name="frozen")
    frozen.trainable = False
    model = pykern.Sequential([layers.Input((5,)), frozen, layers.BatchNormalization(name="bn"),
                               layers.Dense(3, name="head")])
    moving = [w.numpy() for w in model.non_trainable_weights]
    rows = model.profile(RNG.standard_normal((16, 5)).astype(np.float32), batch_size=16,
                         steps=1, print_fn=False)
    for w, value in zip(model.non_trainable_weights, moving):
        np.testing.assert_array_equal(w.numpy(), value)
    by_name = {r["layer"]: r for r in rows}
    # nothing before "frozen" trains and its own weights are frozen: no gradient at all
    assert by_name["frozen"]["backward_flops"] == 0
    assert by_name["bn"]["forward_flops"] == 8 * 16 * 6
    assert by_name["head"]["backward_flops"] == 2 * (2 * 16 * 6 * 3)  # weights and input
    assert by_name["frozen"]["backward_ms"] == 0  # its backward is never run


def test_functional_model_without_targets_and_a_shared_layer():
    a, b = layers.Input((4,), name="a"), layers.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    out = layers.Dense(1, name="out")(layers.Concatenate(name="cat")([shared(a), shared(b)]))
    model = pykern.Model([a, b], out)
    x = [RNG.standard_normal((10, 4)).astype(np.float32) for _ in range(2)]
    rows = model.profile(x, batch_size=10, steps=2, print_fn=False)
    assert [r["layer"] for r in rows] == ["shared", "cat", "out"]
    shared_row = rows[0]
    assert shared_row["calls"] == 2 and shared_row["forward_flops"] == 2 * (2 * 10 * 4 * 3)
    assert all(r["forward_ms"] > 0 and r["backward_ms"] > 0 for r in rows)


def test_bad_arguments():
    model = _mnist()
    x = np.zeros((2, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        model.profile(x, steps=0)
    with pytest.raises(ValueError, match="must be compiled"):
        model.profile(x, np.zeros(2))
