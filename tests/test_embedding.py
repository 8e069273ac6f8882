"""Embedding against TensorFlow-Keras: lookups and the table gradient (repeated ids
summed), id dtypes, mask_zero, Keras' arguments and config, symbolic shapes, and
the errors bad ids raise."""
import numpy as np
import pytest

import pykern
from pykern import layers, ops
from parity import layer_parity

RNG = np.random.default_rng(5)
pytestmark = pytest.mark.usefixtures("forget_automatic_names")


@pytest.mark.parametrize("shape", [(4,), (3, 7), (2, 3, 5)])
def test_lookup_and_table_gradient_match_keras(shape, keras):
    ids = RNG.integers(0, 6, shape)  # 6 of 11 rows: many repeats, some rows unused
    layer_parity(layers.Embedding(11, 4), keras.layers.Embedding(11, 4), ids, rtol=1e-6,
                 atol=1e-7)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "float32", "float64"])
def test_ids_of_any_numeric_dtype_are_looked_up(dtype, keras):
    ids = RNG.integers(0, 9, (3, 4)).astype(dtype)
    ours, theirs = layers.Embedding(9, 3), keras.layers.Embedding(9, 3)
    theirs(ids)
    ours(ids)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(ours(ids).numpy(), np.asarray(theirs(ids)))


def test_mask_zero_masks_padding_ids():
    ids = np.array([[0, 3, 4, 0], [5, 0, 0, 0]])
    out = layers.Embedding(6, 2, mask_zero=True)(ids)
    np.testing.assert_array_equal(out._keras_mask.numpy(), ids != 0)
    assert getattr(layers.Embedding(6, 2)(ids), "_keras_mask", None) is None
    emb = layers.Embedding(6, 2, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(ids).numpy(), ids != 0)
    assert layers.Embedding(6, 2).compute_mask(ids) is None


def test_a_masked_text_model_matches_keras(keras):
    ids = RNG.integers(1, 20, (5, 8))
    ids[0, :3] = 0
    ids[1, 5:] = 0
    ids[2] = 0

    def build(L, M):
        return M.Sequential([M.Input((8,)), L.Embedding(20, 6, mask_zero=True),
                             L.LSTM(4, return_sequences=True), L.GRU(3)])
    layer_parity(build(layers, pykern), build(keras.layers, keras), ids, rtol=2e-5, atol=2e-6)


def test_weights_argument_input_length_and_initializer():
    table = RNG.standard_normal((5, 3)).astype(np.float32)
    emb = layers.Embedding(5, 3, weights=[table])
    assert emb.built
    np.testing.assert_array_equal(emb(np.array([[4, 0]])).numpy()[0], table[[4, 0]])
    with pytest.warns(UserWarning, match="input_length"):
        layers.Embedding(5, 3, input_length=7)
    values = layers.Embedding(1000, 16)
    values.build()
    w = values.embeddings.numpy()
    assert w.shape == (1000, 16) and np.abs(w).max() <= 0.05 and w.std() > 0.02
    assert [v.path for v in values.weights] == [f"{values.name}/embeddings"]


def test_config_matches_keras_and_round_trips(keras):
    make = dict(input_dim=7, output_dim=3, mask_zero=True, embeddings_regularizer="l2",
                embeddings_constraint="unit_norm", embeddings_initializer="he_normal")
    ours, theirs = layers.Embedding(**make), keras.layers.Embedding(**make)
    mine, want = ours.get_config(), theirs.get_config()
    assert list(mine) == list(want)
    for key in ("input_dim", "output_dim", "mask_zero", "quantization_config",
                "activity_regularizer"):
        assert mine[key] == want[key]
    for key in ("embeddings_initializer", "embeddings_regularizer", "embeddings_constraint"):
        assert mine[key]["class_name"] == want[key]["class_name"]
    assert layers.Embedding.from_config(mine).get_config() == mine


def test_symbolic_shape_and_gradient_flow(keras):
    assert layers.Embedding(10, 4)(layers.Input((7,))).shape == (None, 7, 4)
    assert layers.Embedding(10, 4)(layers.Input((None, 3))).shape == \
        tuple(keras.layers.Embedding(10, 4)(keras.Input((None, 3))).shape)
    with pykern.backend.devices.trace():  # the meta device: shapes only
        meta = layers.Embedding(10, 4)(ops.convert_to_tensor(np.zeros((2, 7), np.int32)))
    assert meta.shape == (2, 7, 4) and meta.device is pykern.backend.devices.META
    emb = layers.Embedding(4, 2)
    ids = np.array([[1, 1, 3]])
    emb(ids)
    with pykern.GradientTape() as tape:
        loss = ops.sum(emb(ids))
    (g,) = tape.gradient(loss, emb.trainable_weights)
    np.testing.assert_array_equal(g.numpy(), [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_ids_outside_the_table_are_a_value_error():
    emb = layers.Embedding(5, 2, name="words")
    with pytest.raises(ValueError, match=r"Embedding 'words' \(input_dim=5\) on ids of shape "
                                         r"\(2, 2\).*index 5"):
        emb(np.array([[1, 2], [5, 0]]))
    with pytest.raises(ValueError, match=r"Embedding 'words'.*-1"):
        emb(np.array([[-1, 2]]))


def test_bad_dimensions_are_refused():
    with pytest.raises(ValueError, match=r"input_dim must be a positive integer, got "
                                         r"input_dim=0"):
        layers.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"output_dim must be a positive integer"):
        layers.Embedding(3, 2.5)
