"""MobileNet, MobileNetV2, MobileNetV3, InceptionV3, Xception and EfficientNet
against Keras: the same architecture (layer names, classes, output shapes,
parameter counts, weight order, summary text), Keras 3 `.weights.h5` and Keras 2
legacy `.h5` files loading into pykern with every layer's output the same, the
published ImageNet file each variant asks for, Keras' argument errors, and each
family's preprocess_input. No network.

Inputs are the smallest Keras allows, so each case takes a few seconds; the
EfficientNetB1..B7 comparisons at their full default sizes are slow tests, run
with `pytest -m slow` (each builds and runs a 300-800 layer model in both
libraries: minutes on two cores)."""
import importlib
import re
import warnings

import numpy as np
import pytest

import pykern
from pykern import applications
from pykern.applications import _common
from test_applications import (_randomize_statistics, _structure, _summary_text,  # noqa: F401
                               sessions)

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

_MODULES = {"MobileNet": "mobilenet", "MobileNetV2": "mobilenet_v2",
            "MobileNetV3Small": "mobilenet_v3", "MobileNetV3Large": "mobilenet_v3",
            "InceptionV3": "inception_v3", "Xception": "xception",
            **{f"EfficientNetB{i}": "efficientnet" for i in range(8)}}
_MIN = {"InceptionV3": (75, 75, 3), "Xception": (71, 71, 3)}  # others: 32 x 32

_heavy = [pytest.mark.slow]

# Each family once with its own arguments off their defaults, and a mix of heads.
CASES = [
    ("MobileNet", dict(alpha=0.5, depth_multiplier=2, dropout=0.1, classes=7)),
    ("MobileNetV2", dict(alpha=1.3, include_top=False, pooling="avg")),
    ("MobileNetV3Small", dict(classes=7, classifier_activation=None)),
    ("MobileNetV3Large", dict(alpha=0.75, minimalistic=True, include_top=False,
                              pooling="max")),
    ("InceptionV3", dict(classes=7)),
    ("Xception", dict(include_top=False, pooling="max")),
    ("EfficientNetB0", dict(classes=7, classifier_activation=None)),
]


def _keras_app(lib, name):
    """keras.applications.<name> (Keras 3) or tf_keras.applications.<name>."""
    module = "keras.src.applications" if lib.__name__ == "keras" else \
        f"{lib.__name__}.src.applications"
    return getattr(importlib.import_module(f"{module}.{_MODULES[name]}"), name)


def _shape(name, kwargs):
    return kwargs.get("input_shape") or _MIN.get(name, (32, 32, 3))


def _images(name, shape, n=2, seed=1):
    x = np.random.default_rng(seed).uniform(0, 255, (n,) + shape).astype(np.float32)
    return getattr(applications, _MODULES[name]).preprocess_input(x)


def _assert_layers_match(lib, theirs, ours, x, select=lambda layers: layers[1:]):
    """The outputs of the `select`ed layers (default: all but the input) agree,
    relative 1e-4 of each one's largest value: a whole-model comparison alone can
    miss a misplaced weight that deep random networks wash out."""
    their_layers, our_layers = select(theirs.layers), select(ours.layers)
    assert len(our_layers) == len(their_layers)
    their_outputs = lib.Model(theirs.input, [layer.output for layer in their_layers])(
        x, training=False)
    our_outputs = pykern.Model(ours.input, [layer.output for layer in our_layers]).predict(
        x, verbose=0)
    for layer, t, o in zip(their_layers, their_outputs, our_outputs):
        t = np.asarray(t)
        assert o.shape == t.shape, layer.name
        assert np.abs(o - t).max() <= 1e-4 * np.abs(t).max(), layer.name


def _weighted_and_output(layers):
    """Keras 2 builds some graphs from other weightless pieces (MobileNetV3's hard
    swish is ReLU, TFOpLambda and Multiply layers); the layers with weights and the
    output line up."""
    return [layer for layer in layers if layer.weights] + [layers[-1]]


def _randomized_and_saved(theirs, path):
    """Keras' model with random statistics, written to `path`. Keras applies new
    Normalization statistics only when loaded or finalized, not on set_weights."""
    _randomize_statistics(theirs)
    for layer in theirs.layers:
        if type(layer).__name__ == "Normalization":
            layer.finalize_state()
    theirs.save_weights(path)
    return path


def _same_architecture_then_loaded(keras, tmp_path, name, kwargs):
    """Keras' and our model built alike have the same structure and summary; then
    (Keras' model, ours loaded from Keras' .weights.h5 with random statistics)."""
    theirs = _keras_app(keras, name)(weights=None, **kwargs)
    ours = getattr(applications, name)(weights=None, **kwargs)
    assert _structure(ours) == _structure(theirs)
    assert _summary_text(ours) == _summary_text(theirs)
    path = _randomized_and_saved(theirs, str(tmp_path / f"{name}.weights.h5"))
    return theirs, getattr(applications, name)(weights=path, **kwargs)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_architecture_summary_and_keras3_weights_equal_keras(keras, sessions, tmp_path, name,
                                                             kwargs):
    kwargs = dict(kwargs, input_shape=_shape(name, kwargs))
    theirs, ours = _same_architecture_then_loaded(keras, tmp_path, name, kwargs)
    _assert_layers_match(keras, theirs, ours, _images(name, kwargs["input_shape"]))


# the legacy loader is shared (tests/test_applications.py); EfficientNetB0 has the
# most kinds of weights (Normalization's statistics and count, biased SE convs)
_LEGACY = [c if c[0] == "EfficientNetB0" else pytest.param(*c, marks=pytest.mark.slow)
           for c in CASES]


@pytest.mark.parametrize("name,kwargs", _LEGACY, ids=[c[0] for c in CASES])
def test_keras2_legacy_weight_file_loads_and_the_weighted_layers_match(tf_keras, tmp_path,
                                                                        name, kwargs):
    kwargs = dict(kwargs, input_shape=_shape(name, kwargs))
    theirs = _keras_app(tf_keras, name)(weights=None, **kwargs)
    path = _randomized_and_saved(theirs, str(tmp_path / f"{name}.h5"))
    ours = getattr(applications, name)(weights=path, **kwargs)
    _assert_layers_match(tf_keras, theirs, ours, _images(name, kwargs["input_shape"]),
                         select=_weighted_and_output)


@pytest.mark.parametrize("name", ["EfficientNetB0", "MobileNetV3Small"])
def test_our_keras_file_loads_in_keras_and_predicts_the_same(keras, tmp_path, name):
    """The configs Keras must read back: Normalization with its statistics, a
    per-channel Rescaling, Dropout's noise_shape, MobileNetV3's tensor operations."""
    ours = _randomize_statistics(getattr(applications, name)(
        weights=None, input_shape=(32, 32, 3), classes=5, classifier_activation=None))
    path = str(tmp_path / f"{name}.keras")
    ours.save(path)
    theirs = keras.models.load_model(path)
    x = _images(name, (32, 32, 3))
    expected = np.asarray(theirs(x, training=False))
    assert np.abs(ours.predict(x, verbose=0) - expected).max() <= 1e-4 * np.abs(expected).max()


# Keras 3.15.1, include_top=True, weights=None: (layers, parameters, weight arrays)
EFFICIENTNET_SIZES = {1: (342, 7856239, 442), 2: (342, 9177569, 442),
                      3: (387, 12320535, 499), 4: (477, 19466823, 613),
                      5: (579, 30562527, 741), 6: (669, 43265143, 855),
                      7: (816, 66658687, 1040)}


@pytest.fixture
def zero_initial_weights(monkeypatch):
    """Initial weights drawn as zeros: the counts do not depend on them, and drawing
    B1..B7's 190 million initial values would take most of the test's time."""
    from pykern.backend.devices import CPU

    def zeros(shape, key, offset):
        return np.zeros(shape, np.float32)
    monkeypatch.setattr(CPU.k, "random_normal", zeros)
    monkeypatch.setattr(CPU.k, "random_uniform", zeros)


@pytest.mark.parametrize("b", sorted(EFFICIENTNET_SIZES))
def test_efficientnet_b1_to_b7_have_keras_layer_and_parameter_counts(zero_initial_weights, b):
    model = getattr(applications, f"EfficientNetB{b}")(weights=None)
    assert (len(model.layers), model.count_params(), len(model.weights)) == \
        EFFICIENTNET_SIZES[b]


@pytest.mark.parametrize("b", [pytest.param(b, marks=_heavy) for b in range(1, 8)])
def test_efficientnet_at_full_size_equals_keras(keras, sessions, tmp_path, b):
    """Predictions in training mode with the dropouts off. With inference-mode random
    statistics nothing normalises these deep random networks: in B7 at 600 x 600
    activations grow to 1e7 and float32 rounding differences grow with them, to
    1e-4 by block 5 (every layer agrees to 1e-6..2e-5 at 64 x 64); batch statistics
    keep each block's output near unit scale."""
    name = f"EfficientNetB{b}"
    # logits: a saturated softmax would hide them
    theirs, ours = _same_architecture_then_loaded(keras, tmp_path, name,
                                                  dict(classifier_activation=None))
    for layer in theirs.layers + ours.layers:
        if type(layer).__name__ == "Dropout":
            layer.rate = 0.0
    x = _images(name, theirs.input_shape[1:], n=1)
    expected = np.asarray(theirs(x, training=True))
    got = ours(pykern.ops.convert_to_tensor(x), training=True).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


# ------------------------------------------------------------------ weights='imagenet'
@pytest.mark.parametrize("name,kwargs", [
    ("MobileNet", dict(alpha=0.25, input_shape=(128, 128, 3))),
    ("MobileNet", dict(input_shape=(40, 48, 3))),  # not a published size: the 224 file
    ("MobileNetV2", dict(alpha=1.3, input_shape=(96, 96, 3))),
    ("MobileNetV3Small", dict(alpha=0.75, include_top=True)),
    ("EfficientNetB0", dict(include_top=True)),
    pytest.param("MobileNetV3Large", dict(minimalistic=True), marks=pytest.mark.slow),
    pytest.param("InceptionV3", {}, marks=pytest.mark.slow),
    pytest.param("Xception", {}, marks=pytest.mark.slow),
    pytest.param("EfficientNetB3", {}, marks=pytest.mark.slow),
])
def test_imagenet_weights_ask_for_the_file_keras_publishes(keras, sessions, monkeypatch, name,
                                                           kwargs):
    """The file name, URL and hash that Keras passes to get_file, and (ImageNet
    EfficientNets add a Rescaling) the same layers; both loads are stubbed out."""
    kwargs = dict(kwargs, weights="imagenet")
    if not kwargs.get("include_top"):
        kwargs = dict(kwargs, include_top=False, input_shape=kwargs.get("input_shape") or
                      _MIN.get(name, (32, 32, 3)))
    asked = []

    def get_file(fname, origin, **kw):
        asked.append((fname, origin, kw.get("file_hash")))
        return "weights.h5"
    monkeypatch.setattr(importlib.import_module("keras.src.utils.file_utils"), "get_file",
                        get_file)
    def load_weights(model, weights, spec):
        asked.append(tuple(spec))
        return model
    monkeypatch.setattr(keras.Model, "load_weights", lambda self, path: None)
    monkeypatch.setattr(_common, "load_weights", load_weights)
    theirs, their_warnings = _with_user_warnings(_keras_app(keras, name), **kwargs)
    keras.backend.clear_session()
    pykern.backend.clear_session()
    ours, our_warnings = _with_user_warnings(getattr(applications, name), **kwargs)
    assert asked[0] == asked[1]
    assert our_warnings == their_warnings  # e.g. "... the 224 weights are loaded"
    assert _structure(ours) == _structure(theirs)


def _with_user_warnings(fn, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(**kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


# ------------------------------------------------------------------ arguments, preprocessing
@pytest.mark.parametrize("name,bad,kwargs", [
    ("MobileNet", "depth_multiplier", dict(weights="imagenet", depth_multiplier=2)),
    ("MobileNet", "alpha", dict(weights="imagenet", alpha=0.3)),
    ("MobileNetV2", "alpha", dict(weights="imagenet", alpha=0.6)),
    ("MobileNetV3Small", "alpha", dict(weights="imagenet", alpha=0.5)),
    ("MobileNetV3Large", "input_shape", dict(weights=None, input_shape=(31, 64, 3))),
    ("InceptionV3", "input_shape", dict(weights=None, include_top=False,
                                        input_shape=(74, 75, 3))),
    ("Xception", "input_shape", dict(weights=None, include_top=False, input_shape=(70, 71, 3))),
    ("EfficientNetB0", "classes", dict(weights="imagenet", classes=10)),
    ("MobileNetV2", "weights", dict(weights="no/such/file.h5")),
])
def test_bad_arguments_raise_value_errors_where_keras_does(keras, name, bad, kwargs):
    """Keras' wording varies by family (and has typos); ours quotes the bad value."""
    with pytest.raises(ValueError):
        _keras_app(keras, name)(**kwargs)
    with pytest.raises(ValueError, match=re.escape(f"{bad}={kwargs[bad]}")):
        getattr(applications, name)(**kwargs)


@pytest.mark.parametrize("module", ["mobilenet", "mobilenet_v2", "mobilenet_v3",
                                    "inception_v3", "xception", "efficientnet"])
def test_each_family_preprocesses_and_decodes_as_keras(keras, module):
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 3, 3)).astype(np.float32)
    theirs = getattr(keras.applications, module).preprocess_input(x.copy())
    ours = getattr(applications, module).preprocess_input(x.copy())
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    assert getattr(applications, module).decode_predictions is \
        applications.imagenet_utils.decode_predictions


def test_signatures_and_module_layout_equal_keras(keras):
    import inspect
    for name, module in _MODULES.items():
        assert inspect.signature(getattr(applications, name)) == inspect.signature(
            getattr(keras.applications, name)), name
        assert getattr(getattr(applications, module), name) is getattr(applications, name)
    for module in set(_MODULES.values()):
        theirs = {n for n in dir(getattr(keras.applications, module)) if not n.startswith("_")}
        assert theirs <= set(dir(getattr(applications, module))), module
