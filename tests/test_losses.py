"""Every loss against TensorFlow-Keras: values with sample weights and reductions,
and the gradient with respect to y_pred (the fused crossentropies' analytic
backward included); label checks and names."""
import numpy as np
import pytest

import pykern
from pykern import losses

RNG = np.random.default_rng(5)

# name, y_true maker, y_pred maker, kwargs
CASES = [
    ("MeanSquaredError", "real", "real", {}),
    ("MeanAbsoluteError", "real", "real", {}),
    ("MeanAbsolutePercentageError", "real", "real", {}),
    ("MeanSquaredLogarithmicError", "pos", "pos", {}),
    ("BinaryCrossentropy", "binary", "prob", {}),
    ("BinaryCrossentropy", "binary", "real", {"from_logits": True}),
    ("BinaryCrossentropy", "binary", "prob", {"label_smoothing": 0.2}),
    ("BinaryCrossentropy", "binary", "real", {"from_logits": True, "label_smoothing": 0.1}),
    ("CategoricalCrossentropy", "onehot", "simplex", {}),
    ("CategoricalCrossentropy", "onehot", "pos", {}),  # unnormalised: renormalised first
    ("CategoricalCrossentropy", "onehot", "real", {"from_logits": True}),
    ("CategoricalCrossentropy", "onehot", "simplex", {"label_smoothing": 0.1}),
    ("SparseCategoricalCrossentropy", "sparse", "simplex", {}),
    ("SparseCategoricalCrossentropy", "sparse", "real", {"from_logits": True}),
    ("Huber", "real", "real", {"delta": 0.7}),
    ("LogCosh", "real", "real", {}),
    ("KLDivergence", "simplex", "simplex", {}),
    ("Poisson", "pos", "pos", {}),
    ("Hinge", "binary", "real", {}),
    ("SquaredHinge", "binary", "real", {}),
    ("CategoricalHinge", "onehot", "real", {}),
    ("CosineSimilarity", "real", "real", {}),
]


def _make(kind, shape):
    n, c = shape
    if kind == "real":
        return RNG.standard_normal(shape).astype(np.float32)
    if kind == "pos":
        return RNG.uniform(0.1, 2.0, shape).astype(np.float32)
    if kind == "prob":
        return RNG.uniform(0.02, 0.98, shape).astype(np.float32)
    if kind == "binary":
        return RNG.integers(0, 2, shape).astype(np.float32)
    if kind == "simplex":
        e = RNG.uniform(0.1, 1.0, shape)
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)
    if kind == "onehot":
        return np.eye(c, dtype=np.float32)[RNG.integers(0, c, n)]
    if kind == "sparse":
        return RNG.integers(0, c, (n,)).astype(np.int64)
    raise ValueError(kind)


@pytest.mark.parametrize("name,yk,pk,kwargs", CASES,
                         ids=[f"{c[0]}-{'-'.join(c[3]) or 'plain'}" for c in CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_value_and_gradient_match_keras(keras, tf, name, yk, pk, kwargs, weighted):
    shape = (6, 4)
    y, p = _make(yk, shape), _make(pk, shape)
    sw = RNG.uniform(0, 2, (6,)).astype(np.float32) if weighted else None
    theirs = getattr(keras.losses, name)(**kwargs)
    ours = getattr(losses, name)(**kwargs)
    tp = tf.Variable(p)
    with tf.GradientTape() as tape:
        tl = theirs(y, tp, sample_weight=sw)
    tg = tape.gradient(tl, tp).numpy()
    pp = pykern.Variable(p)
    with pykern.GradientTape() as ptape:
        pl = ours(y, pp, sample_weight=sw)
    pg = ptape.gradient(pl, pp).numpy()
    np.testing.assert_allclose(pl.numpy(), tl.numpy(), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(pg, tg, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reduction", ["sum", "none", "sum_over_batch_size",
                                       "mean_with_sample_weight"])
def test_reductions_match_keras(keras, reduction):
    y, p = _make("real", (5, 3)), _make("real", (5, 3))
    sw = np.array([1, 0, 2, 1, 0.5], np.float32)
    theirs = keras.losses.MeanSquaredError(reduction=reduction)(y, p, sample_weight=sw)
    ours = losses.MeanSquaredError(reduction=reduction)(y, p, sample_weight=sw)
    np.testing.assert_allclose(ours.numpy(), np.asarray(theirs), rtol=1e-6)


def test_mse_squeezes_a_trailing_one_instead_of_broadcasting():
    y = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    p = np.zeros((4, 1), np.float32)
    assert float(losses.mean_squared_error(y, p).numpy().mean()) == pytest.approx(7.5)


def test_crossentropy_probabilities_are_capped_at_minus_log_epsilon():
    v = losses.categorical_crossentropy([[1.0, 0.0]], [[0.0, 1.0]]).numpy()
    assert v[0] == pytest.approx(-np.log(1e-7), rel=1e-5)


def test_strings_functions_and_classes_resolve():
    assert losses.get("mse") is losses.mean_squared_error
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    assert losses.get(losses.huber) is losses.huber
    cfg = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1).get_config()
    again = losses.CategoricalCrossentropy.from_config(cfg)
    assert again.get_config() == cfg
    with pytest.raises(ValueError, match="loss identifier"):
        losses.get("not_a_loss")


def test_integer_labels_to_categorical_crossentropy_are_rejected():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.categorical_crossentropy(np.array([0, 2, 1]), np.full((3, 3), 1 / 3, np.float32))


def test_one_hot_labels_to_the_sparse_loss_are_rejected():
    with pytest.raises(ValueError, match="one-hot"):
        losses.sparse_categorical_crossentropy(np.eye(3, dtype=np.float32),
                                               np.full((3, 3), 1 / 3, np.float32))


def test_sparse_labels_outside_the_classes_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        losses.sparse_categorical_crossentropy(np.array([0, 3, 1]),
                                               np.full((3, 3), 1 / 3, np.float32))


def test_non_numeric_labels_are_rejected():
    with pytest.raises(ValueError, match="numeric"):
        losses.mean_squared_error(np.array([["a"], ["b"]]), np.zeros((2, 1), np.float32))


def test_invalid_reduction_is_rejected():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")
