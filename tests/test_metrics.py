"""Stateful metrics against TensorFlow-Keras: two batches of update_state (with
and without sample weights), result, reset_state; names; the 'accuracy' string
resolved from shapes."""
import numpy as np
import pytest

import pykern
from pykern import metrics

RNG = np.random.default_rng(13)


def _data(kind):
    if kind == "binary":
        return (RNG.integers(0, 2, (8, 1)).astype(np.float32),
                RNG.uniform(0, 1, (8, 1)).astype(np.float32))
    if kind == "onehot":
        return (np.eye(4, dtype=np.float32)[RNG.integers(0, 4, 8)],
                RNG.dirichlet(np.ones(4), 8).astype(np.float32))
    if kind == "sparse":
        return RNG.integers(0, 4, (8,)), RNG.dirichlet(np.ones(4), 8).astype(np.float32)
    if kind == "real":
        return (RNG.standard_normal((8, 3)).astype(np.float32),
                RNG.standard_normal((8, 3)).astype(np.float32))
    if kind == "pos":
        return (RNG.uniform(0.1, 2, (8, 3)).astype(np.float32),
                RNG.uniform(0.1, 2, (8, 3)).astype(np.float32))
    raise ValueError(kind)


CASES = [
    ("BinaryAccuracy", "binary", {}), ("BinaryAccuracy", "binary", {"threshold": 0.3}),
    ("CategoricalAccuracy", "onehot", {}), ("SparseCategoricalAccuracy", "sparse", {}),
    ("TopKCategoricalAccuracy", "onehot", {"k": 2}),
    ("SparseTopKCategoricalAccuracy", "sparse", {"k": 2}),
    ("MeanSquaredError", "real", {}), ("MeanAbsoluteError", "real", {}),
    ("RootMeanSquaredError", "real", {}), ("MeanAbsolutePercentageError", "real", {}),
    ("MeanSquaredLogarithmicError", "pos", {}), ("BinaryCrossentropy", "binary", {}),
    ("CategoricalCrossentropy", "onehot", {}), ("SparseCategoricalCrossentropy", "sparse", {}),
    ("KLDivergence", "pos", {}), ("Poisson", "pos", {}), ("Hinge", "real", {}),
    ("SquaredHinge", "real", {}), ("CategoricalHinge", "onehot", {}),
    ("LogCoshError", "real", {}), ("CosineSimilarity", "real", {}),
    ("AUC", "binary", {}), ("AUC", "binary", {"curve": "PR"}),
    ("AUC", "binary", {"summation_method": "minoring", "num_thresholds": 50}),
    ("AUC", "binary", {"curve": "PR", "summation_method": "majoring"}),
    ("Precision", "binary", {}), ("Recall", "binary", {}),
    ("Precision", "binary", {"thresholds": 0.3}), ("Recall", "binary", {"thresholds": 0.7}),
]


@pytest.mark.parametrize("name,kind,kw", CASES,
                         ids=[f"{c[0]}-{'-'.join(c[2]) or 'plain'}" for c in CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_metric_matches_keras_over_two_batches(keras, name, kind, kw, weighted):
    ours, theirs = getattr(metrics, name)(**kw), getattr(keras.metrics, name)(**kw)
    # unnamed AUC/Precision/Recall are numbered per session (auc, auc_1, ...) in both
    assert ours.name.rstrip("_0123456789") == theirs.name.rstrip("_0123456789")
    for _ in range(2):
        y, p = _data(kind)
        sw = RNG.uniform(0, 2, (8,)).astype(np.float32) if weighted else None
        ours.update_state(y, p, sample_weight=sw)
        theirs.update_state(y, p, sample_weight=sw)
    np.testing.assert_allclose(ours.result(), theirs.result().numpy(), rtol=1e-5, atol=1e-6)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(ours.result(), theirs.result().numpy())


def test_mean_and_sum_match_keras(keras):
    for cls in ("Mean", "Sum"):
        ours, theirs = getattr(metrics, cls)(), getattr(keras.metrics, cls)()
        ours.update_state([1.0, 2.0, 4.0], sample_weight=[1.0, 0.0, 2.0])
        theirs.update_state([1.0, 2.0, 4.0], sample_weight=[1.0, 0.0, 2.0])
        np.testing.assert_allclose(ours.result(), theirs.result().numpy(), rtol=1e-6)


@pytest.mark.parametrize("y_shape,p_shape,expected", [
    ((8,), (8, 1), "BinaryAccuracy"), ((8, 1), (8, 1), "BinaryAccuracy"),
    ((8,), (8, 5), "SparseCategoricalAccuracy"), ((8, 1), (8, 5), "SparseCategoricalAccuracy"),
    ((8, 5), (8, 5), "CategoricalAccuracy"),
])
def test_accuracy_string_resolves_from_shapes_as_keras(y_shape, p_shape, expected):
    from pykern.models.training import _resolve_metric
    m = _resolve_metric("accuracy", np.zeros(y_shape), np.zeros(p_shape), None)
    assert type(m).__name__ == expected and m.name == "accuracy"
    assert _resolve_metric("acc", np.zeros(y_shape), np.zeros(p_shape), None).name == "acc"


def test_metric_strings_and_errors():
    assert isinstance(metrics.get("mae"), metrics.MeanAbsoluteError)
    assert metrics.get("mae").name == "mae"
    assert isinstance(metrics.get("AUC"), metrics.AUC)
    with pytest.raises(ValueError, match="metric identifier"):
        metrics.get("nonsense")
    with pytest.raises(ValueError, match="numeric"):
        metrics.MeanSquaredError().update_state(np.array(["a"]), np.zeros(1))
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")


def test_stateful_call_updates_and_returns_the_running_result():
    m = metrics.BinaryAccuracy()
    assert m([[1.0], [0.0]], [[0.9], [0.9]]) == pytest.approx(0.5)
    assert m([[1.0], [1.0]], [[0.9], [0.9]]) == pytest.approx(0.75)
    assert pykern.metrics.BinaryAccuracy.from_config(m.get_config()).name == "binary_accuracy"
