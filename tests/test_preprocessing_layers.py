"""Preprocessing layers against Keras 3 on TensorFlow: values where they are
deterministic (Rescaling, Normalization incl. adapt, Resizing, CenterCrop, the
lookups, TextVectorization, CategoryEncoding, Discretization, Hashing), the
affine transforms given the same parameters, configs, .keras files both ways;
for the random layers seeded reproducibility and identity at inference."""
import json

import numpy as np
import pytest

import pykern
from pykern import layers, ops
from pykern.layers.preprocessing import augmentation
from pykern.utils import Sequence

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

_RNG = np.random.default_rng(7)
_IMAGES = (_RNG.random((2, 6, 8, 3)) * 255).astype(np.float32)
_TEXT = np.array(["The cat sat on the mat.", "the DOG, the cat!", "A bird; a bird?", "mat"])


def _close(ours, theirs, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


def _same_config(ours, theirs):
    """Equal configs once both are JSON (tuples as lists), the names aside."""
    a, b = (json.loads(json.dumps(c.get_config(), default=list)) for c in (ours, theirs))
    for c in (a, b):
        c.pop("name", None)
    assert a == b


# --- image layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda L: L.Rescaling(1 / 255.0),
    lambda L: L.Rescaling(1 / 127.5, offset=-1),
    lambda L: L.Rescaling([0.5, 1.0, 2.0], offset=[1.0, 0.0, -1.0]),
    lambda L: L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.0, 9.0]),
    lambda L: L.Normalization(axis=None, mean=100.0, variance=400.0, invert=True),
    lambda L: L.Resizing(3, 5),
    lambda L: L.Resizing(9, 11, interpolation="nearest"),
    lambda L: L.Resizing(4, 4, crop_to_aspect_ratio=True),
    lambda L: L.Resizing(5, 3, pad_to_aspect_ratio=True, fill_value=7.0),
    lambda L: L.Resizing(4, 7, interpolation="nearest", crop_to_aspect_ratio=True),
    lambda L: L.CenterCrop(4, 5),
    lambda L: L.CenterCrop(7, 9),
])
def test_image_layers_equal_keras(make, keras):
    ours, theirs = make(layers), make(keras.layers)
    _close(ours(_IMAGES), theirs(_IMAGES), rtol=1e-5, atol=1e-4)
    _same_config(ours, theirs)
    assert ours.compute_output_shape((None, 6, 8, 3)) == tuple(
        theirs.compute_output_shape((None, 6, 8, 3)))


def test_channels_first_resizing_and_single_images_equal_keras(keras):
    x = np.transpose(_IMAGES, (0, 3, 1, 2))
    for make in (lambda L: L.Resizing(4, 5, data_format="channels_first"),
                 lambda L: L.CenterCrop(3, 3, data_format="channels_first")):
        _close(make(layers)(x), make(keras.layers)(x), atol=1e-4)
    _close(layers.Resizing(3, 4)(_IMAGES[0]), keras.layers.Resizing(3, 4)(_IMAGES[0]), atol=1e-4)


def test_rescaling_casts_integer_images_to_float32(keras):
    x = (_IMAGES[:1]).astype(np.uint8)
    y = layers.Rescaling(1 / 255.0)(x)
    assert y.dtype == np.float32
    _close(y, keras.layers.Rescaling(1 / 255.0)(x))


class _Batches(Sequence):
    def __init__(self, x, size):
        super().__init__()
        self.x, self.size = x, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        return self.x[i * self.size:(i + 1) * self.size], np.zeros(1)


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
@pytest.mark.parametrize("source", ["array", "list", "sequence"])
def test_normalization_adapt_equals_keras(axis, source, keras):
    data = _RNG.normal(3.0, 2.0, (37, 4, 5)).astype(np.float32)
    feed = {"array": data, "list": [data[:10], data[10:25], data[25:]],
            "sequence": _Batches(data, 16)}[source]
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(data if source == "sequence" else feed)
    ours = layers.Normalization(axis=axis)
    ours.adapt(feed)
    assert [w.name for w in ours.weights] == ["mean", "variance", "count"]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert a.dtype == b.dtype and a.shape == b.shape
        _close(a, b, rtol=1e-5, atol=1e-5)
    _close(ours(data), theirs(data), rtol=1e-4, atol=1e-4)


def test_normalization_invert_and_config_round_trip(keras):
    n = layers.Normalization(axis=-1, invert=True)
    n.adapt(_IMAGES)
    back = layers.Normalization.from_config(n.get_config())
    back.build(_IMAGES.shape)
    back.set_weights(n.get_weights())
    _close(back(_IMAGES[:1, :2, :2]), n(_IMAGES[:1, :2, :2]))
    k = keras.layers.Normalization(axis=-1, invert=True)
    k.adapt(_IMAGES)
    _close(n(_IMAGES), k(_IMAGES), rtol=1e-4, atol=1e-2)
    _same_config(n, k)


def _preprocessing_model(L, K):
    norm = L.Normalization()
    norm.adapt(_IMAGES.reshape(-1, 3))
    model = K.Sequential([K.Input((6, 8, 3)), L.Rescaling(1 / 255.0, offset=-0.5), norm,
                          L.Flatten(), L.Dense(2)])
    return model


def test_keras_files_with_rescaling_and_normalization_go_both_ways(keras, tmp_path):
    ours = _preprocessing_model(layers, pykern)
    ours.save(tmp_path / "p.keras")
    theirs = keras.models.load_model(tmp_path / "p.keras")
    _close(ours.predict_on_batch(_IMAGES), theirs(_IMAGES), rtol=1e-4, atol=1e-4)
    k_model = _preprocessing_model(keras.layers, keras)
    k_model.save(tmp_path / "k.keras")
    back = pykern.models.load_model(tmp_path / "k.keras")
    assert [type(l).__name__ for l in back.layers] == ["Rescaling", "Normalization", "Flatten",
                                                      "Dense"]
    _close(back.predict_on_batch(_IMAGES), k_model(_IMAGES), rtol=1e-4, atol=1e-4)
    _close(back.layers[1].get_weights()[0], k_model.layers[1].get_weights()[0])


# --- random layers -----------------------------------------------------------------------------
_RANDOM = [
    lambda L, s: L.RandomFlip(seed=s),
    lambda L, s: L.RandomFlip("vertical", seed=s),
    lambda L, s: L.RandomRotation(0.2, seed=s),
    lambda L, s: L.RandomRotation((-0.1, 0.3), fill_mode="constant", interpolation="nearest",
                                  fill_value=3.0, seed=s),
    lambda L, s: L.RandomZoom(0.3, seed=s),
    lambda L, s: L.RandomZoom((-0.2, 0.1), (0.1, 0.4), fill_mode="wrap", seed=s),
    lambda L, s: L.RandomTranslation(0.2, (-0.3, 0.1), fill_mode="nearest", seed=s),
    lambda L, s: L.RandomCrop(4, 5, seed=s),
    lambda L, s: L.RandomContrast(0.4, seed=s),
    lambda L, s: L.RandomBrightness((-0.2, 0.3), seed=s),
]


@pytest.mark.parametrize("make", _RANDOM)
def test_random_layers_are_seeded_shaped_and_identity_at_inference(make, keras):
    a, b = make(layers, 11), make(layers, 11)
    first = a(_IMAGES, training=True).numpy()
    np.testing.assert_array_equal(first, b(_IMAGES, training=True).numpy())
    assert not np.array_equal(first, a(_IMAGES, training=True).numpy()) or isinstance(
        a, layers.RandomFlip)
    theirs = make(keras.layers, 11)
    assert first.shape == tuple(theirs(_IMAGES, training=True).shape)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(a(_IMAGES, training=False).numpy(), _IMAGES)
    assert a.compute_output_shape((None, 6, 8, 3)) == tuple(
        theirs.compute_output_shape((None, 6, 8, 3)))
    _same_config(make(layers, 11), theirs)
    back = type(a).from_config(a.get_config())
    np.testing.assert_array_equal(back(_IMAGES, training=True).numpy(), first)


def test_random_layers_augment_when_called_directly_and_not_in_predict():
    flip = layers.RandomTranslation(0.3, 0.3, seed=1)
    assert not np.array_equal(flip(_IMAGES).numpy(), _IMAGES)  # Keras: training defaults True
    model = pykern.Sequential([pykern.Input((6, 8, 3)), flip])
    np.testing.assert_array_equal(model.predict(_IMAGES, verbose=0), _IMAGES)


def test_random_flip_outputs_are_the_image_or_its_flip():
    out = layers.RandomFlip("horizontal_and_vertical", seed=3)(_IMAGES, training=True).numpy()
    for x, y in zip(_IMAGES, out):
        assert np.array_equal(y, x) or np.array_equal(y, x[::-1, ::-1])


def test_random_crop_takes_a_window_of_the_image():
    out = layers.RandomCrop(4, 5, seed=2)(_IMAGES, training=True).numpy()
    windows = [_IMAGES[:, i:i + 4, j:j + 5] for i in range(3) for j in range(4)]
    assert any(np.array_equal(out, w) for w in windows)


@pytest.mark.parametrize("make", [lambda L: L.RandomRotation(0.0), lambda L: L.RandomZoom(0.0),
                                  lambda L: L.RandomTranslation(0.0, 0.0),
                                  lambda L: L.RandomContrast(0.0),
                                  lambda L: L.RandomBrightness(0.0)])
def test_zero_factors_give_the_identity_as_keras(make, keras):
    _close(make(layers)(_IMAGES, training=True), _IMAGES, atol=1e-3)
    _close(make(keras.layers)(_IMAGES, training=True), _IMAGES, atol=1e-3)


def test_rotation_zoom_translation_matrices_equal_keras(keras, tf):
    angles = np.array([-30.0, 75.0], np.float32)
    k_rot = keras.layers.RandomRotation(0.1)._compute_affine_matrix(
        0.5, 0.5, tf.constant(angles), tf.zeros(2), tf.zeros(2), tf.ones(2), tf.zeros(2),
        tf.zeros(2), 6, 8)
    _close(augmentation.rotation_matrix(angles, 6, 8), k_rot, atol=1e-6)
    zooms = np.array([[0.8, 1.3], [1.2, 0.9]], np.float32)
    k_zoom = keras.layers.RandomZoom(0.1)._get_zoom_matrix(tf.constant(zooms), 6, 8)
    _close(augmentation.zoom_matrix(zooms[:, 0], zooms[:, 1], 6, 8), k_zoom, atol=1e-6)
    shifts = np.array([[1.5, -2.0], [-0.25, 3.0]], np.float32)
    k_shift = keras.layers.RandomTranslation(0.1, 0.1)._get_translation_matrix(
        tf.constant(shifts))
    _close(augmentation.translation_matrix(shifts[:, 0], shifts[:, 1]), k_shift, atol=1e-6)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_equals_keras_on_the_same_matrices(fill_mode, interpolation, keras):
    matrix = np.concatenate([
        augmentation.rotation_matrix(np.array([37.0, -110.0], np.float32), 6, 8).numpy(),
        augmentation.zoom_matrix(np.array([1.7, 0.6], np.float32),
                                 np.array([0.4, 2.2], np.float32), 6, 8).numpy(),
        augmentation.translation_matrix(np.array([9.3, -17.6], np.float32),
                                        np.array([-4.5, 13.2], np.float32)).numpy()])
    x = np.concatenate([_IMAGES] * 3)
    kw = dict(interpolation=interpolation, fill_mode=fill_mode, fill_value=5.0)
    _close(ops.image.affine_transform(x, matrix, **kw),
           keras.ops.image.affine_transform(x, matrix, **kw), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_gradient_is_the_exact_adjoint(interpolation):
    # the transform is linear in the image, so <T x, r> = <x, T^T r> holds for the exact
    # gradient (TensorFlow instead warps r by the inverse matrix, an approximation)
    x = _IMAGES[:2]
    matrix = augmentation.rotation_matrix(np.array([25.0, -140.0], np.float32), 6, 8).numpy()
    r = _RNG.standard_normal(x.shape).astype(np.float32)
    v = pykern.backend.Variable(x)
    with pykern.GradientTape() as tape:
        loss = ops.sum(ops.multiply(ops.image.affine_transform(v, matrix, interpolation,
                                                               "reflect"), r))
    grad = tape.gradient(loss, [v])[0].numpy()
    np.testing.assert_allclose(float(loss), float(np.sum(grad.astype(np.float64) * x)),
                               rtol=1e-4)


# --- categorical and text ----------------------------------------------------------------------
def _both(make, x, keras):
    ours, theirs = make(layers), make(keras.layers)
    return ours, theirs, ours(x), theirs(x)


@pytest.mark.parametrize("make,x", [
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"]), [["a", "z", "c"], ["b", "b", "q"]]),
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"], mask_token="", num_oov_indices=3),
     [["a", "zz", ""], ["qq", "b", "c"]]),
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=2, salt=7),
     [["a", "zz", "yy"], ["qq", "b", "c"]]),
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"], output_mode="multi_hot"),
     [["a", "z", "c"], ["b", "b", "q"]]),
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"], output_mode="count",
                              pad_to_max_tokens=True, max_tokens=7), [["a", "z", "a"]]),
    (lambda L: L.StringLookup(vocabulary=["a", "b", "c"], output_mode="one_hot"),
     ["a", "z", "c"]),
    (lambda L: L.StringLookup(vocabulary=["a", "b"], output_mode="tf_idf",
                              idf_weights=[0.5, 2.0]), [["a", "b", "b", "x"]]),
    (lambda L: L.IntegerLookup(vocabulary=[12, 36, 1138, 42]), [[12, 1138, 7], [42, 36, 12]]),
    (lambda L: L.IntegerLookup(vocabulary=[12, 36, 1138, 42], mask_token=0, num_oov_indices=2),
     [[12, 0, 7], [42, 99, 8]]),
    (lambda L: L.IntegerLookup(vocabulary=[12, 36, 1138, 42], mask_token=0, invert=True),
     [[1, 2, 0], [5, 4, 9]]),
    (lambda L: L.IntegerLookup(vocabulary=[12, 36], output_mode="count"), [[12, 12, 5, 36]]),
    (lambda L: L.CategoryEncoding(4, "multi_hot"), [[0, 1, 1], [3, 3, 2]]),
    (lambda L: L.CategoryEncoding(4, "count"), [[0, 1, 1], [3, 3, 2]]),
    (lambda L: L.CategoryEncoding(5, "one_hot"), [3, 1, 4]),
    (lambda L: L.CategoryEncoding(5, "multi_hot"), [3, 1, 4]),
    (lambda L: L.Discretization(bin_boundaries=[0.0, 1.0, 2.5]), [[-1.0, 0.0, 0.5, 2.5, 9]]),
    (lambda L: L.Discretization(bin_boundaries=[0.0, 1.0], output_mode="count"),
     [[-1.0, 0.0, 0.5], [2.5, 9, 9]]),
    (lambda L: L.Hashing(1000), ["a", "b", "hello", ""]),
    (lambda L: L.Hashing(17, salt=[133, 137], mask_value="m"), [["a", "m"], ["hello", "b"]]),
    (lambda L: L.Hashing(7, salt=3), [[1, 22, -333]]),
    (lambda L: L.Hashing(9, output_mode="multi_hot"), [["a", "b"], ["c", "a"]]),
])
def test_categorical_layers_equal_keras(make, x, keras):
    x = np.array(x)
    ours, theirs, a, b = _both(make, x, keras)
    b = np.asarray(b)
    if b.dtype.kind in "OSU":
        assert np.asarray(a).tolist() == [[v.decode() for v in row] for row in b.tolist()]
    else:
        assert np.asarray(a).dtype == b.dtype
        _close(a, b)
    _same_config(ours, theirs)
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()


def test_string_lookup_invert_gives_strings(keras):
    ours = layers.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
    theirs = keras.layers.StringLookup(vocabulary=["a", "b", "c"], invert=True, mask_token="")
    x = np.array([[2, 3, 0], [9, 4, 1]])
    assert ours(x).tolist() == [[v.decode() for v in r] for r in np.asarray(theirs(x)).tolist()]


@pytest.mark.parametrize("make", [
    lambda L: L.StringLookup(), lambda L: L.StringLookup(max_tokens=4, mask_token="[M]"),
    lambda L: L.StringLookup(output_mode="tf_idf"),
    lambda L: L.IntegerLookup(num_oov_indices=2, output_mode="count")])
def test_lookup_adapt_learns_keras_vocabulary(make, keras):
    words = "b a c a b a d e e d b b".split()
    data = np.array([[int(ord(w))] for w in words]) if "Integer" in str(make(layers)) else \
        np.array(words)
    ours, theirs = make(layers), make(keras.layers)
    ours.adapt(data)
    theirs.adapt(data)
    assert ours.get_vocabulary() == [v.decode() if isinstance(v, bytes) else v
                                     for v in theirs.get_vocabulary()]
    _close(ours(data[:5]), theirs(data[:5]))


@pytest.mark.parametrize("kwargs", [
    {}, {"max_tokens": 6, "output_sequence_length": 4}, {"ngrams": 2, "output_mode": "multi_hot"},
    {"output_mode": "count", "ngrams": (1, 3)}, {"output_mode": "tf_idf"},
    {"output_mode": "one_hot", "split": None}, {"standardize": None, "output_sequence_length": 8},
    {"standardize": "lower", "split": "character", "output_mode": "multi_hot"},
    {"pad_to_max_tokens": True, "max_tokens": 20, "output_mode": "count"}])
def test_text_vectorization_adapt_and_outputs_equal_keras(kwargs, keras):
    ours, theirs = layers.TextVectorization(**kwargs), keras.layers.TextVectorization(**kwargs)
    ours.adapt(_TEXT)
    theirs.adapt(_TEXT)
    assert ours.get_vocabulary() == theirs.get_vocabulary()
    probe = np.array(["the cat and THE bird", "mat, mat; a dog", "", "unknown words!"])
    _close(ours(probe), theirs(probe), rtol=1e-5, atol=1e-6)
    _same_config(ours, theirs)


def test_text_vectorization_with_a_vocabulary_round_trips_its_config(keras):
    t = layers.TextVectorization(vocabulary=["cat", "mat", "the"], output_sequence_length=5)
    back = layers.TextVectorization.from_config(json.loads(json.dumps(t.get_config())))
    np.testing.assert_array_equal(back(_TEXT).numpy(), t(_TEXT).numpy())
    k = keras.layers.TextVectorization.from_config(t.get_config())
    _close(t(_TEXT), k(_TEXT))


def test_discretization_adapt_finds_keras_boundaries(keras):
    data = _RNG.normal(size=(500, 3)).astype(np.float32)
    ours, theirs = layers.Discretization(num_bins=5), keras.layers.Discretization(num_bins=5)
    ours.adapt(data)
    theirs.adapt(data)
    _close(ours.bin_boundaries, theirs.bin_boundaries, rtol=1e-6, atol=1e-6)
    _close(ours(data[:7]), theirs(data[:7]))


def test_category_encoding_count_weights_equal_keras(keras):
    x, w = np.array([[0, 1, 1], [3, 3, 2]]), np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 3.0]])
    _close(layers.CategoryEncoding(4, "count")(x, count_weights=w),
           keras.layers.CategoryEncoding(4, "count")(x, count_weights=w))


def test_symbolic_model_of_preprocessing_layers_has_keras_shapes(keras):
    for L, K in ((layers, pykern), (keras.layers, keras)):
        inp = K.Input((None, None, 3))
        out = L.RandomRotation(0.1)(L.Resizing(5, 7)(inp))
        model = K.Model(inp, L.CenterCrop(4, 4)(L.RandomCrop(5, 6)(out)))
        assert tuple(model.output_shape) == (None, 4, 4, 3)
    tokens = pykern.Input((3,), dtype="int64")
    assert tuple(layers.CategoryEncoding(6)(tokens).shape) == (None, 6)


@pytest.mark.parametrize("make,match", [
    (lambda: layers.RandomFlip("sideways", name="f"), "RandomFlip 'f'.*sideways"),
    (lambda: layers.RandomRotation(1.5, name="r"), "RandomRotation 'r'.*1.5"),
    (lambda: layers.RandomZoom(-1.0, name="z"), "RandomZoom 'z'.*-1.0"),
    (lambda: layers.RandomContrast(0.3, value_range=5, name="c"), "RandomContrast 'c'.*5"),
    (lambda: layers.Resizing(0, 4, name="s"), "Resizing 's'.*height=0"),
    (lambda: layers.Normalization(mean=1.0, name="n"), "Normalization 'n'.*variance=None"),
    (lambda: layers.CategoryEncoding(0, name="e"), "CategoryEncoding 'e'.*num_tokens=0"),
    (lambda: layers.Hashing(0, name="h"), "Hashing 'h'.*num_bins=0"),
    (lambda: layers.StringLookup(vocabulary=["a", "a"], name="l"), "StringLookup 'l'.*'a'"),
    (lambda: layers.TextVectorization(split="comma", name="t"), "TextVectorization 't'.*comma"),
    (lambda: layers.Discretization(name="d"), "Discretization 'd'"),
])
def test_bad_arguments_raise_value_errors_naming_layer_and_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_raise_value_errors_naming_the_layer():
    with pytest.raises(ValueError, match="RandomFlip 'rf'.*rank 3.*\\(6, 8\\)"):
        layers.RandomFlip(name="rf")(_IMAGES[0, :, :, 0])
    with pytest.raises(ValueError, match="IntegerLookup 'il'.*num_oov_indices=0"):
        layers.IntegerLookup(vocabulary=[1, 2], num_oov_indices=0, name="il")(np.array([3]))
