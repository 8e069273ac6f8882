"""Pooling and normalization layers against TensorFlow-Keras: outputs and
gradients after copying Keras' weights, the moving statistics of batch
normalization, a CNN with BatchNormalization trained in both, configs, symbolic
shapes and the errors bad input raises."""
import numpy as np
import pytest

import pykern
from pykern import layers, ops
from parity import fit_parity, layer_parity, op_parity

RNG = np.random.default_rng(11)


def _x(*shape, scale=1.0, shift=0.0):
    return (RNG.standard_normal(shape) * scale + shift).astype(np.float32)


POOLS = [
    ("MaxPooling1D", dict(), (2, 9, 3)),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (2, 8, 3)),
    ("MaxPooling2D", dict(), (2, 7, 6, 3)),
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=(2, 1), padding="same"), (2, 7, 6, 2)),
    ("MaxPooling3D", dict(pool_size=2, padding="same"), (1, 3, 5, 4, 2)),
    ("AveragePooling1D", dict(pool_size=2), (2, 9, 3)),
    ("AveragePooling2D", dict(pool_size=3, strides=2, padding="same"), (2, 7, 6, 3)),
    ("AveragePooling2D", dict(pool_size=(2, 3)), (2, 6, 7, 2)),
    ("AveragePooling3D", dict(pool_size=(2, 3, 2), padding="same", strides=1),
     (1, 3, 5, 4, 2)),
]


@pytest.mark.parametrize("name,kwargs,shape", POOLS, ids=[f"{p[0]}-{i}" for i, p in
                                                          enumerate(POOLS)])
def test_pooling_matches_keras(name, kwargs, shape, keras):
    layer_parity(getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs),
                 _x(*shape), rtol=1e-6, atol=1e-6)
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    assert ours(layers.Input(shape[1:])).shape == tuple(theirs(keras.Input(shape[1:])).shape)
    mine, want = ours.get_config(), theirs.get_config()
    for key in ("name", "dtype"):
        mine.pop(key), want.pop(key)
    assert mine == want


def test_max_pool_gradient_goes_to_one_of_tied_maxima(keras):
    x = np.ones((1, 4, 4, 1), np.float32)  # every window ties
    op_parity(lambda a: ops.max_pool(a, 2), lambda a: keras.ops.max_pool(a, 2), [x])


@pytest.mark.parametrize("kwargs,shape", [
    (dict(), (4, 5, 3)),
    (dict(axis=1), (4, 3, 5)),
    (dict(center=False, momentum=0.9), (6, 4)),
    (dict(scale=False, epsilon=0.1), (3, 4, 4, 2)),
])
def test_batch_normalization_training_matches_keras(kwargs, shape, keras):
    x = _x(*shape, scale=2.0, shift=1.5)
    # float32 sums of up to 80 terms for the statistics (ours two-pass in double)
    layer_parity(layers.BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs),
                 x, training=True, rtol=2e-5, atol=2e-5)


def test_batch_normalization_updates_moving_statistics_like_keras(keras):
    x = _x(8, 5, 3, scale=3.0, shift=2.0)
    ours, theirs = layers.BatchNormalization(momentum=0.9), \
        keras.layers.BatchNormalization(momentum=0.9)
    for _ in range(3):
        ours(x, training=True)
        theirs(x, training=True)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-5, atol=1e-5)
    before = ours.moving_mean.numpy()
    ours(x, training=False)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), before)


def test_batch_normalization_inference_and_frozen_match_keras(keras):
    x = _x(4, 6, 3)
    layer_parity(layers.BatchNormalization(), keras.layers.BatchNormalization(), x,
                 training=False, rtol=1e-5, atol=1e-5)
    ours, theirs = layers.BatchNormalization(), keras.layers.BatchNormalization()
    ours(x), theirs(x)
    weights = [RNG.random(3).astype(np.float32) + 0.5 for _ in range(4)]
    ours.set_weights(weights), theirs.set_weights(weights)
    ours.trainable = theirs.trainable = False  # Keras 3: frozen means inference mode
    np.testing.assert_allclose(ours(x, training=True).numpy(),
                               theirs(x, training=True).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ours.moving_mean.numpy(), weights[2])


def test_batch_normalization_with_a_mask_matches_keras(keras):
    x = _x(3, 5, 4)
    mask = np.array([[1, 1, 0, 1, 0], [1, 0, 0, 0, 1], [1, 1, 1, 1, 1]], bool)
    ours, theirs = layers.BatchNormalization(), keras.layers.BatchNormalization()
    got = ours(x, training=True, mask=pykern.ops.convert_to_tensor(mask)).numpy()
    want = theirs(x, training=True, mask=mask).numpy()
    # 1e-4: the masked moments are composed ops, float32 sums over few cells divided
    # by count + 1e-7 (Keras' epsilon), then normalised
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.moving_variance.numpy(),
                               theirs.moving_variance.numpy(), rtol=1e-5)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(), (4, 7)),
    (dict(), (2, 3, 5)),
    (dict(axis=[1, 2]), (2, 3, 4)),
    (dict(axis=1), (2, 3, 4)),
    (dict(center=False, epsilon=1e-5), (3, 6)),
])
def test_layer_normalization_matches_keras(kwargs, shape, keras):
    layer_parity(layers.LayerNormalization(**kwargs), keras.layers.LayerNormalization(**kwargs),
                 _x(*shape, scale=2.0, shift=1.0), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(groups=2), (2, 5, 4)),
    (dict(groups=3), (2, 4, 4, 6)),
    (dict(groups=1, scale=False), (3, 5, 2)),
    (dict(groups=4, axis=1), (2, 4, 5)),
])
def test_group_normalization_matches_keras(kwargs, shape, keras):
    layer_parity(layers.GroupNormalization(**kwargs), keras.layers.GroupNormalization(**kwargs),
                 _x(*shape, scale=1.5, shift=0.5), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("make", [
    lambda L: L.BatchNormalization(axis=1, momentum=0.8),
    lambda L: L.LayerNormalization(axis=[1, 2], epsilon=1e-4),
    lambda L: L.GroupNormalization(groups=2),
])
def test_normalization_configs_match_keras(make, keras):
    ours, theirs = make(layers), make(keras.layers)
    ours(_x(2, 4, 6)), theirs(_x(2, 4, 6))
    mine, want = ours.get_config(), theirs.get_config()
    for key in ("name", "dtype"):
        mine.pop(key), want.pop(key)
    assert list(mine) == list(want)
    for key, value in want.items():
        if isinstance(value, dict):
            assert mine[key]["class_name"] == value["class_name"]
        else:
            assert mine[key] == value, key
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]


def test_a_cnn_with_batch_normalization_trains_like_keras(keras):
    x, y = _x(32, 8, 8, 2), RNG.integers(0, 3, 32)

    def build(L):
        # no conv bias: BN cancels it, so its gradient is rounding noise that Adam amplifies
        return [L.Conv2D(4, 3, padding="same", use_bias=False), L.BatchNormalization(),
                L.Activation("relu"), L.MaxPooling2D(), L.Flatten(),
                L.Dense(3, activation="softmax")]
    # weights at 1e-3: BN's batch statistics (ours two-pass in double, TF's in float32) differ
    # in the last bits, and Adam's step g / sqrt(v) turns small-gradient rounding into
    # weight differences of ~1e-4 relative after 12 steps; the loss history stays at 1e-4
    ours, theirs = fit_parity(build, keras, "Adam", x, y, weight_rtol=1e-3, weight_atol=1e-4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-3, atol=1e-4)


# --- bad input ---------------------------------------------------------------------------------
def test_a_pool_window_larger_than_the_input():
    with pytest.raises(ValueError, match=r"pool window \(3, 3\) is larger than the inputs"):
        layers.MaxPooling2D(3)(_x(1, 2, 5, 1))
    assert layers.MaxPooling2D(3, padding="same")(_x(1, 2, 5, 1)).shape == (1, 1, 2, 1)


def test_pooling_rank_mismatch():
    with pytest.raises(ValueError, match=r"MaxPooling2D 'mp' expects inputs of rank 4"):
        layers.MaxPooling2D(name="mp")(_x(2, 5, 3))


def test_average_pooling_needs_a_pool_size_as_in_keras_3():
    with pytest.raises(TypeError):
        layers.AveragePooling2D()


def test_group_normalization_groups_must_fit_the_channels():
    with pytest.raises(ValueError, match=r"groups \(4\) must divide the number of channels"):
        layers.GroupNormalization(groups=4)(_x(2, 6))
    with pytest.raises(ValueError, match="cannot be more than the number of channels"):
        layers.GroupNormalization(groups=8)(_x(2, 6))


def test_normalization_axis_out_of_range():
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        layers.BatchNormalization(axis=3)(_x(2, 6))
