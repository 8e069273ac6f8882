"""pykern.applications against Keras: the same architectures (layer names, classes,
output shapes, parameter counts, weight order, summary text), Keras' weight files
loading and predicting the same, Keras' argument checks, the ImageNet weight-file
lookup (pykern's cache, Keras' cache, download, hash, offline error), and
preprocess_input / decode_predictions. No network: downloads are faked."""
import hashlib
import inspect
import io
import json
import os
import urllib.error

import numpy as np
import pytest

import pykern
from pykern import applications
from pykern.applications import _common, imagenet_utils
from pykern.utils import file_utils

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

_MODULES = {"VGG16": "vgg16", "VGG19": "vgg19", "ResNet50": "resnet", "ResNet101": "resnet",
            "ResNet152": "resnet", "ResNet50V2": "resnet_v2", "ResNet101V2": "resnet_v2",
            "ResNet152V2": "resnet_v2", "DenseNet121": "densenet", "DenseNet169": "densenet",
            "DenseNet201": "densenet"}
_SMALL = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
_BIG = ["ResNet101", "ResNet152", "ResNet101V2", "ResNet152V2", "DenseNet169", "DenseNet201"]


def _slow(*values):
    return pytest.param(*values, marks=pytest.mark.slow)


@pytest.fixture
def sessions(keras):
    """Fresh automatic names (input_layer, zero_padding2d, ...) in both libraries."""
    keras.backend.clear_session()
    pykern.backend.clear_session()
    yield
    keras.backend.clear_session()
    pykern.backend.clear_session()


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """$PYKERN_HOME and ~ (so ~/.keras) in tmp_path, and no network: returns the two
    model folders."""
    monkeypatch.setenv("PYKERN_HOME", str(tmp_path / "pykern_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    _offline(monkeypatch)
    dirs = _common.weights_dirs()
    for d in dirs:
        os.makedirs(d)
    return dirs


def _offline(monkeypatch):
    def refuse(url, *args, **kwargs):
        raise urllib.error.URLError("no network in tests")
    monkeypatch.setattr(file_utils, "urlopen", refuse)


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------ structure
def _structure(model):
    """Everything model.summary() shows, plus weight paths and shapes in order."""
    return dict(
        name=model.name,
        layers=[(layer.name, getattr(layer, "_class_name", type(layer).__name__),
                 tuple(layer.output.shape), layer.count_params()) for layer in model.layers],
        weights=[(w.path, tuple(w.shape)) for w in model.weights],
        trainable=sum(int(np.prod(w.shape)) for w in model.trainable_weights),
        output_shape=tuple(model.output.shape))


def _summary_text(model):
    lines = []
    model.summary(print_fn=lambda s, **_: lines.append(s))
    return "\n".join(lines).rstrip("\n")


def _randomize_statistics(model, seed=0):
    """Keras' initial weights, with batch-norm statistics, gammas, betas and biases
    moved off their trivial initial values so that every array matters."""
    rng = np.random.default_rng(seed)
    values = []
    for v in model.weights:
        w = np.asarray(v.numpy())
        if any(k in v.name for k in ("gamma", "variance")):  # also Normalization's
            w = rng.uniform(0.5, 1.5, w.shape)
        elif any(k in v.name for k in ("beta", "mean", "bias")):
            w = rng.normal(0.0, 0.1, w.shape)
        values.append(w.astype(np.float32))
    model.set_weights(values)
    return model


def _images(name, shape, n=2, seed=1):
    x = np.random.default_rng(seed).uniform(0, 255, (n,) + shape).astype(np.float32)
    return getattr(applications, _MODULES[name]).preprocess_input(x)


def _image_shape(kwargs):
    """The model's input shape, or 32x32 where the model takes any size."""
    if kwargs.get("input_shape"):
        return kwargs["input_shape"]
    return (224, 224, 3) if kwargs.get("include_top", True) else (32, 32, 3)


def _assert_same_predictions(ours, theirs):
    """Relative agreement 1e-4, measured against the largest output."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()


@pytest.mark.parametrize("name,kwargs", [
    ("VGG16", dict(input_shape=(32, 32, 3), classes=10, classifier_activation=None)),
    ("VGG19", dict(include_top=False, pooling="max")),
    ("ResNet50", dict(include_top=False, pooling="avg")),
    ("ResNet50V2", dict(input_shape=(64, 64, 3), classes=5, classifier_activation=None)),
    ("DenseNet121", dict(include_top=False)),
    _slow("VGG16", {}),
    _slow("ResNet50", {}),
    *[_slow(name, dict(include_top=False, pooling="max")) for name in _BIG],
])
def test_architecture_summary_and_keras3_weights_equal_keras(keras, sessions, tmp_path, name,
                                                             kwargs):
    theirs = _randomize_statistics(getattr(keras.applications, name)(weights=None, **kwargs))
    path = str(tmp_path / f"{name}.weights.h5")
    theirs.save_weights(path)
    ours = getattr(applications, name)(weights=path, **kwargs)
    assert _structure(ours) == _structure(theirs)
    assert _summary_text(ours) == _summary_text(theirs)
    x = _images(name, _image_shape(kwargs))
    _assert_same_predictions(ours.predict(x, verbose=0), theirs(x, training=False))


def test_model_on_an_input_tensor_keeps_the_layers_before_it(keras, sessions):
    def build(lib):
        inputs = lib.Input((32, 32, 3))
        x = lib.layers.Rescaling(1 / 255.0)(inputs)
        return lib.applications.VGG16(weights=None, include_top=False, input_tensor=x)
    theirs, ours = build(keras), build(pykern)
    assert _structure(ours) == _structure(theirs)
    assert ours.layers[1].name == "rescaling"


def test_signatures_and_module_layout_equal_keras(keras):
    for name, module in _MODULES.items():
        assert inspect.signature(getattr(applications, name)) == inspect.signature(
            getattr(keras.applications, name))
        assert getattr(getattr(applications, module), name) is getattr(applications, name)
    for module in ("vgg16", "vgg19", "resnet", "resnet50", "resnet_v2", "densenet",
                   "imagenet_utils"):
        theirs = {n for n in dir(getattr(keras.applications, module)) if not n.startswith("_")}
        assert theirs <= set(dir(getattr(applications, module))), module


# ------------------------------------------------------------------ Keras 2 weight files
@pytest.mark.parametrize("name,kwargs", [
    ("VGG16", _SMALL), ("VGG19", _SMALL), ("ResNet50", _SMALL), ("ResNet50V2", _SMALL),
    ("DenseNet121", _SMALL),
    *[_slow(name, _SMALL) for name in _BIG],
    _slow("ResNet50", {}), _slow("DenseNet121", {}),
])
def test_keras2_legacy_weight_file_loads_and_predicts_the_same(tf_keras, tmp_path, name,
                                                              kwargs):
    # tf_keras (Keras 2) writes the layout of the published files: layer_names, and
    # per layer weight_names such as 'conv1_conv/kernel:0'
    theirs = _randomize_statistics(getattr(tf_keras.applications, name)(weights=None,
                                                                         **kwargs))
    path = str(tmp_path / f"{name}.h5")
    theirs.save_weights(path)
    ours = getattr(applications, name)(weights=path, **kwargs)
    x = _images(name, _image_shape(kwargs))
    _assert_same_predictions(ours.predict(x, verbose=0), theirs(x, training=False))


# ------------------------------------------------------------------ weights='imagenet'
def _publish(tf_keras, name, folder, monkeypatch, **kwargs):
    """A Keras-2 weight file for `name` under its published name in `folder`, with
    the expected hash patched to the file's: (the Keras 2 model, path)."""
    theirs = _randomize_statistics(getattr(tf_keras.applications, name)(
        weights=None, include_top=False, input_shape=(32, 32, 3), **kwargs))
    module = getattr(applications, _MODULES[name])
    files = module.WEIGHT_FILES if name.startswith("VGG") else \
        module.WEIGHT_FILES[name.lower()]
    path = os.path.join(folder, files["notop"].fname)
    theirs.save_weights(path)
    monkeypatch.setitem(files, "notop", files["notop"]._replace(file_hash=_md5(path)))
    return theirs, path


def test_imagenet_weights_are_read_from_pykern_home(tf_keras, homes, monkeypatch):
    theirs, _ = _publish(tf_keras, "VGG16", homes[0], monkeypatch, pooling="max")
    ours = applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3),
                              pooling="max")
    x = _images("VGG16", (32, 32, 3))
    _assert_same_predictions(ours.predict(x, verbose=0), theirs(x, training=False))


def test_imagenet_weights_reuse_the_file_keras_downloaded(tf_keras, homes, monkeypatch):
    assert homes[1] == os.path.join(os.environ["HOME"], ".keras", "models")
    theirs, _ = _publish(tf_keras, "VGG19", homes[1], monkeypatch, pooling="avg")
    ours = applications.VGG19(weights="imagenet", include_top=False, input_shape=(32, 32, 3),
                              pooling="avg")
    x = _images("VGG19", (32, 32, 3))
    _assert_same_predictions(ours.predict(x, verbose=0), theirs(x, training=False))
    assert os.listdir(homes[0]) == []  # nothing copied or downloaded


def _fake_spec(content=b"weights", file_hash=None, name="fake_weights.h5"):
    return _common.WeightFile(name, f"https://example.invalid/{name}",
                              file_hash or hashlib.md5(content).hexdigest())


def _write(folder, spec, content):
    path = os.path.join(folder, spec.fname)
    with open(path, "wb") as f:
        f.write(content)
    return path


def test_pykern_home_comes_first_and_a_stale_copy_is_skipped(homes):
    spec = _fake_spec(b"good")
    keras_copy = _write(homes[1], spec, b"good")
    assert _common.imagenet_weights_path(spec) == keras_copy
    _write(homes[0], spec, b"stale")  # wrong hash: skipped, Keras' good copy is used
    assert _common.imagenet_weights_path(spec) == keras_copy
    ours = _write(homes[0], spec, b"good")
    assert _common.imagenet_weights_path(spec) == ours


def test_sha256_hashes_are_checked_as_sha256(homes):
    spec = _fake_spec(file_hash=hashlib.sha256(b"good").hexdigest())
    path = _write(homes[0], spec, b"good")
    assert _common.imagenet_weights_path(spec) == path


def test_offline_error_names_the_file_the_url_and_the_folder(homes):
    spec = _fake_spec()
    with pytest.raises(applications.WeightsUnavailableError) as info:
        _common.imagenet_weights_path(spec)
    message = str(info.value)
    for part in (spec.fname, spec.origin, homes[0], homes[1], spec.file_hash,
                 "no network in tests"):
        assert part in message
    assert isinstance(info.value, OSError)


def test_model_with_imagenet_weights_offline_raises_the_clear_error(homes):
    with pytest.raises(applications.WeightsUnavailableError,
                       match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))


def test_a_cached_copy_with_the_wrong_hash_is_reported_when_offline(homes):
    spec = _fake_spec(b"good")
    stale = _write(homes[1], spec, b"truncated")
    with pytest.raises(applications.WeightsUnavailableError,
                       match=f"{stale} exists but its md5 hash does not match {spec.file_hash}"):
        _common.imagenet_weights_path(spec)


class _Response(io.BytesIO):
    headers = {}


def _serve(monkeypatch, content):
    requested = []

    def urlopen(url, *args, **kwargs):
        requested.append(url)
        return _Response(content)
    monkeypatch.setattr(file_utils, "urlopen", urlopen)
    return requested


def test_download_is_hash_checked_and_lands_in_pykern_home(homes, monkeypatch):
    spec = _fake_spec(b"published bytes")
    requested = _serve(monkeypatch, b"published bytes")
    path = _common.imagenet_weights_path(spec)
    assert requested == [spec.origin]
    assert path == os.path.join(homes[0], spec.fname)
    assert open(path, "rb").read() == b"published bytes"
    assert os.listdir(homes[0]) == [spec.fname]  # no temporary file left behind


def test_download_with_the_wrong_hash_raises_and_writes_nothing(homes, monkeypatch):
    spec = _fake_spec(b"published bytes")
    _serve(monkeypatch, b"tampered bytes")
    with pytest.raises(ValueError, match="hash does not match"):
        _common.imagenet_weights_path(spec)
    assert os.listdir(homes[0]) == []


# ------------------------------------------------------------------ argument checks
@pytest.mark.parametrize("kwargs", [
    dict(weights="no/such/file.h5"),
    dict(weights="imagenet", classes=10),
    dict(weights="imagenet", input_shape=(200, 200, 3)),
    dict(weights="imagenet", include_top=False, input_shape=(64, 64, 4)),
    dict(weights=None, include_top=False, input_shape=(31, 64, 3)),
    dict(weights=None, input_shape=(32, 32)),
    dict(weights=None, input_shape=(None, None, 3)),
    dict(weights=None, input_tensor=np.zeros((1, 32, 32, 3), np.float32)),
], ids=["weights", "classes", "top-shape", "channels", "min-size", "rank", "static",
        "input-tensor"])
def test_bad_arguments_raise_keras_errors(keras, kwargs):
    with pytest.raises(ValueError) as theirs:
        keras.applications.ResNet50(**kwargs)
    with pytest.raises(ValueError) as ours:
        applications.ResNet50(**kwargs)
    assert str(ours.value) == str(theirs.value)


def test_unusual_channel_count_only_warns_without_imagenet_weights():
    with pytest.warns(UserWarning, match="expects 1 or 3 input channels"):
        model = applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 4))
    assert model.input_shape == (None, 32, 32, 4)


def test_pretrained_classifier_activation_must_be_softmax_or_none(tmp_path):
    path = tmp_path / "w.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="Only `None` and `softmax` activations"):
        applications.DenseNet121(weights=str(path), input_shape=(32, 32, 3),
                                 classifier_activation="relu")


@pytest.mark.parametrize("size", [(224, 224), (225, 31), (None, None)])
@pytest.mark.parametrize("kernel_size", [3, (5, 3)])
def test_correct_pad_equals_keras(keras, size, kernel_size):
    theirs = keras.src.applications.imagenet_utils.correct_pad(
        keras.Input(size + (3,)), kernel_size)
    assert _common.correct_pad(pykern.Input(size + (3,)), kernel_size) == theirs


# ------------------------------------------------------------------ preprocess / decode
@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("dtype,shape", [(np.float32, (2, 5, 5, 3)), (np.uint8, (5, 5, 3)),
                                         (np.float64, (2, 5, 5, 3))])
def test_preprocess_input_on_numpy_equals_keras_including_in_place_writes(
        keras, mode, data_format, dtype, shape):
    if data_format == "channels_first":
        shape = shape[:-3] + (3,) + shape[-3:-1]
    x = np.random.default_rng(0).uniform(0, 255, shape).astype(dtype)
    theirs_in, ours_in = x.copy(), x.copy()
    theirs = keras.applications.imagenet_utils.preprocess_input(theirs_in, data_format, mode)
    ours = imagenet_utils.preprocess_input(ours_in, data_format, mode)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours_in, theirs_in)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_input_on_tensors_equals_keras(tf, keras, mode):
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 6, 3)).astype(np.float32)
    theirs = np.asarray(keras.applications.imagenet_utils.preprocess_input(
        tf.constant(x), mode=mode))
    ours = imagenet_utils.preprocess_input(pykern.ops.convert_to_tensor(x), mode=mode)
    np.testing.assert_array_equal(ours.numpy(), theirs)
    inputs = pykern.Input((4, 6, 3))  # symbolic: preprocessing inside a model
    model = pykern.Model(inputs, imagenet_utils.preprocess_input(inputs, mode=mode))
    np.testing.assert_array_equal(model.predict(x, verbose=0), theirs)


def test_each_family_preprocesses_as_keras(keras):
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 3, 3)).astype(np.float32)
    for module in ("vgg16", "vgg19", "resnet", "resnet50", "resnet_v2", "densenet"):
        theirs = getattr(keras.applications, module).preprocess_input(x.copy())
        ours = getattr(applications, module).preprocess_input(x.copy())
        np.testing.assert_array_equal(ours, theirs, err_msg=module)


def test_preprocess_input_rejects_unknown_mode_and_format():
    with pytest.raises(ValueError, match="mode=bgr"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")
    with pytest.raises(ValueError, match="data_format=NHWC"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="NHWC")


@pytest.fixture
def class_index(homes, monkeypatch, keras):
    """A made-up 1000-class index in $PYKERN_HOME/models, also handed to Keras."""
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = os.path.join(homes[0], imagenet_utils.CLASS_INDEX_FILE[0])
    with open(path, "w") as f:
        json.dump(index, f)
    fname, origin, _ = imagenet_utils.CLASS_INDEX_FILE
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_FILE", (fname, origin, _md5(path)))
    monkeypatch.setattr(imagenet_utils, "_class_index", None)
    monkeypatch.setattr(keras.src.applications.imagenet_utils, "CLASS_INDEX", index)
    return index


def test_decode_predictions_reads_the_class_index_and_equals_keras(keras, class_index):
    preds = np.random.default_rng(0).random((3, 1000)).astype(np.float32)
    ours = applications.resnet.decode_predictions(preds, top=3)
    assert ours == keras.applications.resnet.decode_predictions(preds, top=3)
    best = int(preds[0].argmax())
    assert ours[0][0] == (f"n{best:08d}", f"class_{best}", preds[0, best])
    tensor = pykern.ops.convert_to_tensor(preds)
    assert imagenet_utils.decode_predictions(tensor, top=2) == \
        [row[:2] for row in ours]


def test_decode_predictions_wants_1000_columns(keras, class_index):
    preds = np.zeros((2, 10), np.float32)
    with pytest.raises(ValueError) as theirs:
        keras.applications.imagenet_utils.decode_predictions(preds)
    with pytest.raises(ValueError) as ours:
        imagenet_utils.decode_predictions(preds)
    assert str(ours.value) == str(theirs.value)
