"""plot_model / model_to_dot draw what Keras 3 draws (the same DOT source for the
same model), write images atomically and name what to install when pydot or
Graphviz is missing; plot_history draws History's curves, one panel per metric."""
import os
import re
import shutil
import sys

import numpy as np
import pytest

import pykern
from pykern import layers
from pykern.utils import model_to_dot, plot_history, plot_model

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _mnist(M, L):
    return M.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                         L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
                         L.Dropout(0.25), L.Flatten(), L.Dense(128, activation="relu"),
                         L.Dropout(0.5), L.Dense(10, activation="softmax")], name="mnist_cnn")


def _two_branch(M, L):
    a, b = L.Input((32,), name="text"), L.Input((8, 8, 3), name="image")
    x = L.Dense(16, activation="relu", name="text_dense")(a)
    y = L.Flatten(name="image_flat")(L.Conv2D(4, 3, activation="relu", name="image_conv")(b))
    z = L.Concatenate(name="merge")([x, y])
    return M.Model([a, b], [L.Dense(1, activation="sigmoid", name="score")(z),
                            L.Dense(3, activation="softmax", name="aux")(x)], name="two_branch")


def _nested(M, L):
    inner = M.Sequential([L.Dense(8, name="in_d1"), L.Dense(4, name="in_d2")], name="inner_seq")
    x = L.Input((5,), name="x")
    return M.Model(x, L.Dense(2, name="head")(inner(x)), name="nested")


def _canonical(dot):
    """DOT source with node ids (id(layer)) renumbered in order of appearance."""
    ids = {}
    return re.sub(r"\b\d{6,}\b", lambda m: ids.setdefault(m.group(0), f"n{len(ids)}"),
                  dot.to_string().strip())


def _edges(dot):
    names = {n.get_name(): re.search(r"<b>(\w+)</b>", n.get("label")).group(1)
             for n in dot.get_nodes() if n.get("label")}
    for sub in dot.get_subgraphs():
        names.update({n.get_name(): re.search(r"<b>(\w+)</b>", n.get("label")).group(1)
                      for n in sub.get_nodes()})
    edges = list(dot.get_edges()) + [e for s in dot.get_subgraphs() for e in s.get_edges()]
    return sorted((names[e.get_source()], names[e.get_destination()]) for e in edges)


@pytest.fixture(scope="module")
def pydot():
    return pytest.importorskip("pydot")


@pytest.mark.parametrize("build, options", [
    (_mnist, dict(show_shapes=True, show_dtype=True, show_layer_activations=True,
                  show_trainable=True)),
    (_mnist, dict(show_layer_names=False, rankdir="LR")),
    (_two_branch, dict(show_shapes=True)),
    (_nested, dict(show_shapes=True, expand_nested=True)),
    (_nested, dict(show_trainable=True)),
])
def test_dot_source_equals_keras(pydot, keras, fresh_names, build, options):
    keras.backend.clear_session()
    expected = _canonical(keras.utils.model_to_dot(build(keras, keras.layers), **options))
    assert _canonical(model_to_dot(build(pykern, layers), **options)) == expected


def test_sequential_chains_its_layers_without_an_input_box(pydot, fresh_names):
    dot = model_to_dot(_mnist(pykern, layers), show_shapes=True)
    assert _edges(dot) == sorted([("conv2d", "conv2d_1"), ("conv2d_1", "max_pooling2d"),
                                  ("max_pooling2d", "dropout"), ("dropout", "flatten"),
                                  ("flatten", "dense"), ("dense", "dropout_1"),
                                  ("dropout_1", "dense_1")])
    label = next(n.get("label") for n in dot.get_nodes() if "<b>conv2d_1</b>" in
                 (n.get("label") or ""))
    assert "Input shape: <b>(None, 26, 26, 32)</b>" in label
    assert "Output shape: <b>(None, 24, 24, 64)</b>" in label


def test_functional_edges_follow_each_call_argument(pydot):
    assert _edges(model_to_dot(_two_branch(pykern, layers))) == sorted([
        ("text", "text_dense"), ("image", "image_conv"), ("image_conv", "image_flat"),
        ("text_dense", "merge"), ("image_flat", "merge"), ("merge", "score"),
        ("text_dense", "aux")])


def test_expand_nested_draws_a_cluster_and_edges_into_it(pydot):
    dot = model_to_dot(_nested(pykern, layers), expand_nested=True)
    cluster, = dot.get_subgraphs()
    assert cluster.get("label") == '"inner_seq"' or cluster.get("label") == "inner_seq"
    assert _edges(dot) == sorted([("x", "in_d1"), ("in_d1", "in_d2"), ("in_d2", "head")])
    flat = model_to_dot(_nested(pykern, layers))
    assert _edges(flat) == sorted([("x", "inner_seq"), ("inner_seq", "head")])


def test_subclassed_model_is_one_node(pydot):
    class Net(pykern.Model):
        def __init__(self):
            super().__init__(name="net")
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)
    net = Net()
    net(np.zeros((1, 3), np.float32))
    dot = model_to_dot(net)
    assert len(dot.get_nodes()) == 2 and not dot.get_edges()  # "node" defaults + the model


def test_plot_model_writes_the_image_atomically(pydot, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    path = tmp_path / "mnist.png"
    plot_model(_mnist(pykern, layers), to_file=path, show_shapes=True)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    plot_model(_two_branch(pykern, layers), to_file=tmp_path / "two.svg")
    assert b"<svg" in (tmp_path / "two.svg").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["mnist.png", "two.svg"]  # no temporary left


def test_missing_graphviz_or_pydot_names_the_install(pydot, monkeypatch, tmp_path):
    model = _mnist(pykern, layers)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="apt-get install graphviz"):
        plot_model(model, to_file=tmp_path / "m.png")
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r'pip install "pykern\[viz\]"'):
        model_to_dot(model)
    assert not os.listdir(tmp_path)


def test_unbuilt_model_and_layer_range_are_rejected(pydot):
    with pytest.raises(ValueError, match="not yet been built"):
        model_to_dot(pykern.Sequential([layers.Dense(2)]))
    with pytest.raises(ValueError, match="layer_range"):
        model_to_dot(_mnist(pykern, layers), layer_range=("conv2d", "dense"))


# --- plot_history -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history():
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 4)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    m = pykern.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    m.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    return m.fit(x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0)


def test_plot_history_draws_train_and_validation_per_metric(history):
    fig = plot_history(history)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["loss", "accuracy"]
    for ax, name in zip(panels, ("loss", "accuracy")):
        train, val = ax.get_lines()
        assert list(train.get_xdata()) == [1, 2, 3, 4]
        np.testing.assert_allclose(train.get_ydata(), history.history[name])
        np.testing.assert_allclose(val.get_ydata(), history.history[f"val_{name}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]


def test_plot_history_writes_atomically_and_selects_metrics(history, tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_history(history.history, to_file=path, metrics=["accuracy"])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["accuracy"]
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert os.listdir(tmp_path) == ["curves.png"]
    with pytest.raises(ValueError, match="no curves for"):
        plot_history(history, metrics=["auc"])
