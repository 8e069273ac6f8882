"""The legacy ImageDataGenerator against Keras 3's (keras.src.legacy): with the
same seed, flow() and flow_from_directory() give the same batches draw for draw;
fit() statistics, validation_split subsets, and the iterators feeding fit()."""
import os

import numpy as np
import pytest

import pykern
from pykern.preprocessing.image import ImageDataGenerator, array_to_img, load_img

pytest.importorskip("PIL")
pytest.importorskip("scipy")
pytestmark = pytest.mark.usefixtures("forget_automatic_names")

_X = (np.random.default_rng(3).random((10, 9, 11, 3)) * 255).astype(np.float32)
_Y = np.arange(10) % 2


@pytest.fixture(scope="module")
def legacy(keras):
    from keras.src.legacy.preprocessing import image
    return image


_SETTINGS = [
    {},
    {"rotation_range": 40, "fill_mode": "constant", "cval": 9.0},
    {"width_shift_range": 0.2, "height_shift_range": 3, "fill_mode": "reflect"},
    {"shear_range": 25, "zoom_range": 0.3, "fill_mode": "wrap"},
    {"zoom_range": [0.7, 1.1], "horizontal_flip": True, "vertical_flip": True, "rescale": 1 / 255},
    {"width_shift_range": [-2, 0, 2], "channel_shift_range": 20.0},
    {"samplewise_center": True, "samplewise_std_normalization": True, "rotation_range": 10},
    {"brightness_range": (0.5, 1.5)},
]


@pytest.mark.parametrize("settings", _SETTINGS)
def test_flow_gives_keras_batches_for_the_same_seed(settings, legacy):
    ours = ImageDataGenerator(**settings).flow(_X, _Y, batch_size=4, seed=5)
    theirs = legacy.ImageDataGenerator(**settings).flow(_X, _Y, batch_size=4, seed=5)
    assert len(ours) == len(theirs) == 3
    for i in (0, 2, 1):
        (xa, ya), (xb, yb) = ours[i], theirs[i]
        np.testing.assert_allclose(xa, xb, rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(ya, yb)
    ours.on_epoch_end()
    theirs.on_epoch_end()


def test_fit_statistics_and_featurewise_standardization_equal_keras(legacy):
    kw = {"featurewise_center": True, "featurewise_std_normalization": True, "rescale": 0.5}
    ours, theirs = ImageDataGenerator(**kw), legacy.ImageDataGenerator(**kw)
    ours.fit(_X)
    theirs.fit(_X)
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=1e-6)
    np.testing.assert_allclose(ours.std, theirs.std, rtol=1e-6)
    a = ours.flow(_X, batch_size=10, shuffle=False)[0]
    b = theirs.flow(_X, batch_size=10, shuffle=False)[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert abs(float(np.mean(a))) < 1e-4


def test_validation_split_subsets_equal_keras(legacy):
    ours, theirs = (G(validation_split=0.3) for G in (ImageDataGenerator,
                                                       legacy.ImageDataGenerator))
    for subset, n in (("validation", 3), ("training", 7)):
        a = ours.flow(_X, _Y, batch_size=20, shuffle=False, subset=subset)[0]
        b = theirs.flow(_X, _Y, batch_size=20, shuffle=False, subset=subset)[0]
        assert len(a[0]) == n
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_allclose(a[0], b[0])


@pytest.fixture
def image_dir(tmp_path):
    """Two classes of small PNGs (different sizes), one file in a nested folder."""
    rng = np.random.default_rng(0)
    for label, count in (("cats", 5), ("dogs", 4)):
        os.makedirs(tmp_path / label / "more")
        for i in range(count):
            sub = "more" if i == 0 else ""
            pixels = rng.integers(0, 256, (7 + i, 9, 3)).astype(np.uint8)
            array_to_img(pixels, scale=False).save(tmp_path / label / sub / f"{label}{i}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
def test_flow_from_directory_equals_keras(class_mode, image_dir, legacy):
    kw = dict(target_size=(6, 8), batch_size=4, seed=2, class_mode=class_mode)
    gen = {"rotation_range": 20, "horizontal_flip": True, "rescale": 1 / 255}
    ours = ImageDataGenerator(**gen).flow_from_directory(str(image_dir), **kw)
    theirs = legacy.ImageDataGenerator(**gen).flow_from_directory(str(image_dir), **kw)
    assert ours.class_indices == theirs.class_indices == {"cats": 0, "dogs": 1}
    assert ours.filenames == theirs.filenames
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    for i in range(len(ours)):
        a, b = ours[i], theirs[i]
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        for p, q in zip(a, b):
            np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-5)


def test_flow_from_directory_subsets_colors_and_classes_equal_keras(image_dir, legacy):
    for kw in ({"subset": "validation"}, {"subset": "training", "color_mode": "grayscale"},
               {"classes": ["dogs"], "color_mode": "rgba", "interpolation": "bilinear"},
               {"keep_aspect_ratio": True}):
        ours = ImageDataGenerator(validation_split=0.4).flow_from_directory(
            str(image_dir), target_size=(5, 5), shuffle=False, **kw)
        theirs = legacy.ImageDataGenerator(validation_split=0.4).flow_from_directory(
            str(image_dir), target_size=(5, 5), shuffle=False, **kw)
        assert ours.filenames == theirs.filenames
        np.testing.assert_allclose(ours[0][0], theirs[0][0])


def test_iterators_feed_fit(image_dir):
    model = pykern.Sequential([pykern.Input((6, 8, 3)), pykern.layers.Rescaling(1 / 255.0),
                               pykern.layers.Flatten(), pykern.layers.Dense(2, "softmax")])
    model.compile("adam", "categorical_crossentropy")
    gen = ImageDataGenerator(width_shift_range=0.1, horizontal_flip=True)
    history = model.fit(gen.flow_from_directory(str(image_dir), target_size=(6, 8),
                                                batch_size=3, seed=1), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["loss"]) == 2
    x = np.concatenate([_X[:, :6, :8]] * 2)
    y = np.eye(2, dtype=np.float32)[np.arange(20) % 2]
    history = model.fit(gen.flow(x, y, batch_size=8, seed=0), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_load_img_resizes_and_converts(image_dir):
    path = image_dir / "cats" / "cats1.png"
    assert np.asarray(load_img(path, color_mode="grayscale", target_size=(4, 5))).shape == (4, 5)


@pytest.mark.parametrize("make,match", [
    (lambda: ImageDataGenerator(validation_split=1.5), "validation_split=1.5"),
    (lambda: ImageDataGenerator(zoom_range=(1, 2, 3)), "zoom_range=\\(1, 2, 3\\)"),
    (lambda: ImageDataGenerator(fill_mode="mirror"), "fill_mode='mirror'"),
    (lambda: ImageDataGenerator().flow(_X[0], batch_size=2), "rank 4"),
    (lambda: ImageDataGenerator().flow(_X, _Y[:3]), "same length"),
    (lambda: ImageDataGenerator().flow(_X, subset="test"), "subset='test'"),
    (lambda: ImageDataGenerator().flow_from_directory("/nonexistent/dir"), "not a directory"),
])
def test_bad_arguments_raise_value_errors_quoting_the_value(make, match):
    with pytest.raises(ValueError, match=match):
        make()
