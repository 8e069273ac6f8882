"""The weightless image layers against TensorFlow-Keras: ZeroPadding, Cropping,
UpSampling (1-3D), SpatialDropout, global average/max pooling and
UnitNormalization. Forward values and input gradients (tests/parity.py), the
symbolic output shapes, configs equal to Keras', summaries, files both ways,
and the errors bad arguments and inputs raise."""
import numpy as np
import pytest

import pykern
from pykern import layers
from parity import layer_parity

RNG = np.random.default_rng(41)

pytestmark = pytest.mark.usefixtures("forget_automatic_names")


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CF = {"data_format": "channels_first"}

# (layer class name, constructor kwargs, input shape): odd sizes, every argument form
CASES = [
    ("ZeroPadding1D", {}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": 3}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": (0, 2)}, (2, 5, 3)),
    ("ZeroPadding1D", {"padding": (2, 1), **CF}, (2, 3, 5)),
    ("ZeroPadding2D", {}, (2, 5, 7, 3)),
    ("ZeroPadding2D", {"padding": 2}, (2, 5, 7, 3)),
    ("ZeroPadding2D", {"padding": (2, 0)}, (2, 5, 7, 3)),
    ("ZeroPadding2D", {"padding": ((1, 2), (3, 0))}, (2, 5, 7, 3)),
    ("ZeroPadding2D", {"padding": (1, (0, 2))}, (2, 5, 7, 3)),
    ("ZeroPadding2D", {"padding": ((0, 1), (2, 1)), **CF}, (2, 3, 5, 7)),
    ("ZeroPadding3D", {}, (2, 3, 5, 4, 2)),
    ("ZeroPadding3D", {"padding": 1}, (2, 3, 5, 4, 2)),
    ("ZeroPadding3D", {"padding": (1, 0, 2)}, (2, 3, 5, 4, 2)),
    ("ZeroPadding3D", {"padding": ((1, 0), (0, 2), (2, 1))}, (2, 3, 5, 4, 2)),
    ("ZeroPadding3D", {"padding": ((0, 1), (1, 0), (0, 2)), **CF}, (2, 2, 3, 5, 4)),
    ("Cropping1D", {}, (2, 7, 3)),
    ("Cropping1D", {"cropping": 2}, (2, 7, 3)),
    ("Cropping1D", {"cropping": (3, 0)}, (2, 7, 3)),
    ("Cropping1D", {"cropping": (0, 4)}, (2, 7, 3)),
    ("Cropping2D", {}, (2, 5, 7, 3)),
    ("Cropping2D", {"cropping": 1}, (2, 5, 7, 3)),
    ("Cropping2D", {"cropping": (2, 1)}, (2, 5, 7, 3)),
    ("Cropping2D", {"cropping": ((1, 0), (0, 3))}, (2, 5, 7, 3)),
    ("Cropping2D", {"cropping": ((0, 2), (2, 0))}, (2, 5, 7, 3)),
    ("Cropping2D", {"cropping": ((1, 2), (3, 1)), **CF}, (2, 3, 5, 7)),
    ("Cropping3D", {}, (2, 3, 5, 4, 2)),
    ("Cropping3D", {"cropping": (0, 2, 1)}, (2, 3, 5, 4, 2)),
    ("Cropping3D", {"cropping": ((1, 0), (0, 2), (1, 1))}, (2, 3, 5, 4, 2)),
    ("Cropping3D", {"cropping": ((0, 1), (2, 0), (0, 0)), **CF}, (2, 2, 3, 5, 4)),
    ("UpSampling1D", {}, (2, 5, 3)),
    ("UpSampling1D", {"size": 3}, (2, 5, 3)),
    ("UpSampling2D", {}, (2, 5, 7, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (2, 5, 7, 3)),
    ("UpSampling2D", {"size": (3, 1), **CF}, (2, 3, 5, 7)),
    ("UpSampling2D", {"interpolation": "bilinear"}, (2, 5, 7, 3)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}, (2, 5, 7, 3)),
    ("UpSampling2D", {"size": (3, 1), "interpolation": "bilinear"}, (2, 1, 4, 2)),
    ("UpSampling2D", {"size": 3, "interpolation": "BILINEAR"}, (1, 3, 2, 1)),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear", **CF}, (2, 3, 5, 7)),
    ("UpSampling3D", {}, (2, 3, 2, 4, 2)),
    ("UpSampling3D", {"size": (2, 1, 3)}, (2, 3, 2, 4, 2)),
    ("UpSampling3D", {"size": (1, 3, 2), **CF}, (2, 2, 3, 2, 4)),
    ("SpatialDropout1D", {"rate": 0.5}, (2, 5, 3)),
    ("SpatialDropout2D", {"rate": 0.5}, (2, 5, 7, 3)),
    ("SpatialDropout3D", {"rate": 0.5, **CF}, (2, 2, 3, 5, 4)),
    ("GlobalAveragePooling1D", {}, (3, 7, 5)),
    ("GlobalAveragePooling1D", {"keepdims": True, **CF}, (3, 5, 7)),
    ("GlobalAveragePooling2D", {}, (3, 5, 7, 4)),
    ("GlobalAveragePooling2D", {"keepdims": True}, (3, 5, 7, 4)),
    ("GlobalAveragePooling2D", CF, (3, 4, 5, 7)),
    ("GlobalAveragePooling3D", {"keepdims": True}, (2, 3, 5, 4, 3)),
    ("GlobalAveragePooling3D", CF, (2, 3, 3, 5, 4)),
    ("GlobalMaxPooling1D", {}, (3, 7, 5)),
    ("GlobalMaxPooling1D", {"keepdims": True, **CF}, (3, 5, 7)),
    ("GlobalMaxPooling2D", {}, (3, 5, 7, 4)),
    ("GlobalMaxPooling2D", {"keepdims": True, **CF}, (3, 4, 5, 7)),
    ("GlobalMaxPooling3D", {}, (2, 3, 5, 4, 3)),
    ("GlobalMaxPooling3D", {"keepdims": True, **CF}, (2, 3, 3, 5, 4)),
    ("UnitNormalization", {}, (3, 7)),
    ("UnitNormalization", {"axis": 1}, (3, 5, 4)),
    ("UnitNormalization", {"axis": [1, 2]}, (2, 5, 7, 3)),
    ("UnitNormalization", {"axis": (-1, 1)}, (2, 5, 7, 3)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
       for name, kw, _ in CASES]


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_layer_matches_keras_forward_and_input_gradients(name, kwargs, shape, keras):
    # same tolerances as tests/test_layers.py: pads, crops, repeats and maxima are exact;
    # means, norms and bilinear weights round like TF's to a few ulps
    layer_parity(getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs),
                 _x(*shape), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_config_equals_keras_and_round_trips(name, kwargs, shape, keras):
    from pykern.utils import deserialize_keras_object, serialize_keras_object
    ours = getattr(layers, name)(name="probe", **kwargs)
    theirs = getattr(keras.layers, name)(name="probe", **kwargs).get_config()
    config = ours.get_config()
    assert config == theirs
    assert type(ours).from_config(config).get_config() == config
    assert deserialize_keras_object(serialize_keras_object(ours)).get_config() == config


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_symbolic_output_shape_is_the_real_output_shape(name, kwargs, shape, keras):
    layer = getattr(layers, name)(**kwargs)
    inp = pykern.Input(shape[1:])
    model = pykern.Model(inp, layer(inp))
    real = model.predict_on_batch(_x(*shape)).shape
    assert model.output_shape == (None,) + real[1:]
    assert model.output_shape == getattr(keras.layers, name)(**kwargs)(keras.Input(shape[1:])).shape
    # the call itself runs on the meta device too (only kernel-table methods, no values)
    assert pykern.layers.Layer.compute_output_shape(layer, (None,) + shape[1:]) == \
        model.output_shape


@pytest.mark.parametrize("name,kwargs,shape", [c for c in CASES if c[0] != "UnitNormalization"],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] != "UnitNormalization"])
def test_unknown_spatial_sizes_stay_unknown_as_in_keras(name, kwargs, shape, keras):
    channels = 0 if kwargs.get("data_format") == "channels_first" else len(shape) - 2
    partial = tuple(d if i == channels else None for i, d in enumerate(shape[1:]))
    ours = getattr(layers, name)(**kwargs).compute_output_shape((None,) + partial)
    theirs = getattr(keras.layers, name)(**kwargs).compute_output_shape((None,) + partial)
    assert tuple(ours) == tuple(theirs)


def _image_model(L, M):
    return M.Sequential([
        M.Input((5, 7, 3)), L.ZeroPadding2D(((1, 2), (0, 1)), name="pad"),
        L.UpSampling2D((2, 3), interpolation="bilinear", name="up"),
        L.Cropping2D(((2, 1), (3, 0)), name="crop"), L.SpatialDropout2D(0.3, name="drop"),
        L.UnitNormalization(axis=[1, 2], name="unit"), L.Dense(4, name="mix"),
        L.GlobalMaxPooling2D(keepdims=True, name="gmax"), L.Flatten(name="flat"),
        L.Dense(2, name="out")], name="images")


def _sequence_model(L, M):
    x = M.Input((6, 4), name="x")
    a = L.UpSampling1D(2, name="up1")(L.ZeroPadding1D((1, 2), name="pad1")(x))
    a = L.GlobalAveragePooling1D(name="gap1")(L.Cropping1D((2, 1), name="crop1")(a))
    b = L.GlobalMaxPooling1D(keepdims=True, name="gmp1")(L.SpatialDropout1D(0.2, name="sd1")(x))
    v = L.Reshape((2, 3, 4, 1), name="vol")(L.Dense(24, name="d")(L.Flatten(name="flat0")(x)))
    v = L.Cropping3D(((0, 1), (1, 0), (1, 1)), name="crop3")(
        L.UpSampling3D((1, 2, 1), name="up3")(L.ZeroPadding3D(1, name="pad3")(v)))
    c = L.GlobalAveragePooling3D(name="gap3")(L.SpatialDropout3D(0.1, name="sd3")(v))
    d = L.GlobalMaxPooling3D(name="gmp3")(v)
    return M.Model(x, [L.Dense(3, name="out")(L.Concatenate(name="cat")(
        [a, L.Flatten(name="flat")(b), c, d])), L.UnitNormalization(name="unit")(a)], name="seq1d")


def _randomize(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.5
                       for w in model.get_weights()])
    return model


def _summary(model):
    lines = []
    model.summary(print_fn=lambda s, **_: lines.append(s))
    return "\n".join(lines).rstrip("\n")


@pytest.mark.parametrize("build", [_image_model, _sequence_model])
def test_summary_shapes_equal_keras(build, keras):
    assert _summary(build(layers, pykern)) == _summary(build(keras.layers, keras))


def _predict_both(ours, theirs, x):
    a, b = ours.predict_on_batch(x), theirs(x, training=False)
    for p, q in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(p, np.asarray(q), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build,shape", [(_image_model, (3, 5, 7, 3)),
                                         (_sequence_model, (3, 6, 4))])
def test_keras_files_go_both_ways(build, shape, keras, tmp_path):
    x = _x(*shape)
    ours = _randomize(build(layers, pykern))
    ours.save(tmp_path / "p.keras")
    theirs = keras.models.load_model(tmp_path / "p.keras")
    assert [type(l).__name__ for l in theirs.layers] == [type(l).__name__ for l in ours.layers]
    _predict_both(ours, theirs, x)
    k_model = _randomize(build(keras.layers, keras))
    k_model.save(tmp_path / "k.keras")
    back = pykern.models.load_model(tmp_path / "k.keras")
    assert [l.name for l in back.layers] == [l.name for l in k_model.layers]
    _predict_both(back, k_model, x)


# --- bilinear upsampling --------------------------------------------------------------------
def test_bilinear_upsampling_uses_half_pixel_centers():
    # TF's half-pixel rule on [0, 4] by 2: sources -0.25, 0.25, 0.75, 1.25 -> clamp, lerp
    x = np.array([0.0, 4.0], np.float32).reshape(1, 1, 2, 1)
    y = layers.UpSampling2D((1, 2), interpolation="bilinear")(x).numpy().ravel()
    np.testing.assert_allclose(y, [0.0, 1.0, 3.0, 4.0])


# --- masks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"keepdims": True}, CF])
def test_global_average_pooling_1d_averages_the_kept_steps_like_keras(kwargs, keras):
    import tensorflow as tf
    x = _x(3, 5, 4)
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    steps_axis = 2 if kwargs.get("data_format") == "channels_first" else 1
    x = np.moveaxis(x, 1, steps_axis)
    r = _x(*keras.layers.GlobalAveragePooling1D(**kwargs).compute_output_shape(x.shape))
    tx = tf.Variable(x)
    with tf.GradientTape() as tape:
        ty = keras.layers.GlobalAveragePooling1D(**kwargs)(tx, mask=mask)
        tloss = tf.reduce_sum(ty * r)
    px = pykern.Variable(x)
    with pykern.GradientTape() as ptape:
        py = layers.GlobalAveragePooling1D(**kwargs)(px, mask=mask)
        ploss = pykern.ops.sum(py * r)
    np.testing.assert_allclose(py.numpy(), ty.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ptape.gradient(ploss, px).numpy(),
                               tape.gradient(tloss, tx).numpy(), rtol=1e-5, atol=1e-6)
    assert getattr(py, "_keras_mask", None) is None


def test_global_average_pooling_1d_takes_the_mask_of_a_masking_layer(keras):
    x = _x(2, 5, 3)
    x[0, 1:3] = 0.0
    x[1, 4] = 0.0

    def build(L, M):
        inp = M.Input((5, 3))
        return M.Model(inp, L.GlobalAveragePooling1D()(L.Masking()(inp)))
    np.testing.assert_allclose(build(layers, pykern).predict_on_batch(x),
                               np.asarray(build(keras.layers, keras)(x)), rtol=1e-6)
    np.testing.assert_allclose(build(layers, pykern).predict_on_batch(x)[0],
                               x[0, [0, 3, 4]].mean(0), rtol=1e-6)


def test_global_max_pooling_1d_ignores_the_mask_as_keras():
    x = _x(2, 5, 3)
    mask = np.zeros((2, 5), bool)
    np.testing.assert_array_equal(layers.GlobalMaxPooling1D()(x, mask=mask).numpy(), x.max(1))


# --- spatial dropout ------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs,shape,spatial", [
    ("SpatialDropout1D", {}, (4, 9, 16), (1,)),
    ("SpatialDropout2D", {}, (4, 5, 7, 16), (1, 2)),
    ("SpatialDropout2D", CF, (4, 16, 5, 7), (2, 3)),
    ("SpatialDropout3D", {}, (4, 3, 5, 2, 16), (1, 2, 3)),
    ("SpatialDropout3D", CF, (4, 16, 3, 5, 2), (2, 3, 4)),
])
def test_spatial_dropout_drops_whole_channels_while_training(name, kwargs, shape, spatial):
    layer = getattr(layers, name)(0.25, seed=5, **kwargs)
    x = pykern.Variable(np.ones(shape, np.float32))
    with pykern.GradientTape() as tape:
        y = layer(x, training=True)
    g = tape.gradient(pykern.ops.sum(y), x).numpy()
    y = y.numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    first = y[tuple(slice(0, 1) if i in spatial else slice(None) for i in range(len(shape)))]
    assert (y == first).all()  # constant over the spatial dims: one draw per sample and channel
    assert 0 < (first == 0).mean() < 0.6
    np.testing.assert_array_equal(g, y)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    again = getattr(layers, name)(0.25, seed=5, **kwargs)(x, training=True).numpy()
    np.testing.assert_array_equal(again, y)


def test_spatial_dropout_takes_only_keras_arguments():
    with pytest.raises(TypeError):
        layers.SpatialDropout1D(0.5, trainable=False)
    with pytest.raises(TypeError):
        layers.SpatialDropout1D(0.5, data_format="channels_first")
    with pytest.raises(ValueError, match=r"SpatialDropout2D 'sd'.*rate.*1\.5"):
        layers.SpatialDropout2D(1.5, name="sd")


# --- unit normalization -----------------------------------------------------------------
def test_unit_normalization_of_zeros_is_zero_with_keras_gradient(keras):
    import tensorflow as tf
    x = np.zeros((2, 3), np.float32)
    x[1] = [3.0, 0.0, 4.0]
    r = np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 2.0]], np.float32)
    tx = tf.Variable(x)
    with tf.GradientTape() as tape:
        tloss = tf.reduce_sum(keras.layers.UnitNormalization()(tx) * r)
    px = pykern.Variable(x)
    with pykern.GradientTape() as ptape:
        py = layers.UnitNormalization()(px)
        ploss = pykern.ops.sum(py * r)
    np.testing.assert_allclose(py.numpy(), [[0, 0, 0], [0.6, 0, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(ptape.gradient(ploss, px).numpy(),
                               tape.gradient(tloss, tx).numpy(), rtol=1e-5)


# --- bad arguments and inputs -----------------------------------------------------------------
@pytest.mark.parametrize("make,message", [
    (lambda: layers.ZeroPadding1D(-1, name="zp"), r"ZeroPadding1D 'zp'.*padding.*-1"),
    (lambda: layers.ZeroPadding2D(-2, name="zp"), r"ZeroPadding2D 'zp'.*padding.*-2"),
    (lambda: layers.ZeroPadding2D(((1, -1), (0, 0)), name="zp"),
     r"ZeroPadding2D 'zp'.*1st entry of padding.*\(1, -1\)"),
    (lambda: layers.ZeroPadding2D((1, 2, 3), name="zp"), r"ZeroPadding2D 'zp'.*\(1, 2, 3\)"),
    (lambda: layers.ZeroPadding3D(((1, 1), (0, 0), (2, -3)), name="zp"),
     r"ZeroPadding3D 'zp'.*3rd entry of padding.*\(2, -3\)"),
    (lambda: layers.ZeroPadding2D(1.5, name="zp"), r"ZeroPadding2D 'zp'.*1\.5"),
    (lambda: layers.Cropping1D(-1, name="cr"), r"Cropping1D 'cr'.*cropping.*-1"),
    (lambda: layers.Cropping2D(-1, name="cr"), r"Cropping2D 'cr'.*cropping.*-1"),
    (lambda: layers.Cropping3D((1, 2), name="cr"), r"Cropping3D 'cr'.*\(1, 2\)"),
    (lambda: layers.UpSampling1D(0, name="up"), r"UpSampling1D 'up'.*size.*0"),
    (lambda: layers.UpSampling2D((2, 0), name="up"), r"UpSampling2D 'up'.*size.*\(2, 0\)"),
    (lambda: layers.UpSampling3D(2.0, name="up"), r"UpSampling3D 'up'.*size.*2\.0"),
    (lambda: layers.UpSampling2D(interpolation="cubic", name="up"),
     r"UpSampling2D 'up'.*interpolation.*'cubic'"),
    (lambda: layers.ZeroPadding2D(data_format="nhwc", name="zp"),
     r"ZeroPadding2D 'zp'.*data_format.*'nhwc'"),
    (lambda: layers.GlobalMaxPooling2D(data_format="NCHW", name="gm"),
     r"GlobalMaxPooling2D 'gm'.*data_format.*'NCHW'"),
])
def test_bad_arguments_raise_value_errors_naming_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unsupported_interpolations_and_bad_types_are_refused():
    with pytest.raises(NotImplementedError, match="'bicubic'.*'nearest' and 'bilinear'"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(TypeError, match=r"UpSampling1D.*integer.*2\.0"):
        layers.UpSampling1D(2.0)
    with pytest.raises(TypeError, match="UnitNormalization.*axis.*'last'"):
        layers.UnitNormalization(axis="last")


@pytest.mark.parametrize("make,shape,message", [
    (lambda: layers.Cropping1D((2, 1), name="c"), (1, 3, 2), r"'c'.*\(2, 1\).*\(1, 3, 2\)"),
    (lambda: layers.Cropping2D(((2, 1), (0, 0)), name="c"), (1, 3, 4, 2),
     r"'c'.*\(\(2, 1\), \(0, 0\)\).*\(1, 3, 4, 2\)"),
    (lambda: layers.Cropping2D(((0, 0), (2, 2)), name="c", data_format="channels_first"),
     (1, 2, 5, 4), r"'c'.*\(1, 2, 5, 4\)"),
    (lambda: layers.Cropping3D(2, name="c"), (1, 5, 5, 3, 2), r"'c'.*\(1, 5, 5, 3, 2\)"),
    (lambda: layers.ZeroPadding2D(name="z"), (1, 3, 4), r"ZeroPadding2D 'z'.*rank 4.*\(1, 3, 4\)"),
    (lambda: layers.ZeroPadding1D(name="z"), (1, 3, 4, 2), r"'z'.*rank 3.*\(1, 3, 4, 2\)"),
    (lambda: layers.Cropping3D(name="c"), (1, 3, 4, 2), r"'c'.*rank 5.*\(1, 3, 4, 2\)"),
    (lambda: layers.UpSampling2D(name="u", interpolation="bilinear"), (1, 3, 4),
     r"'u'.*rank 4.*\(1, 3, 4\)"),
    (lambda: layers.UpSampling3D(name="u"), (1, 3, 4, 2), r"'u'.*rank 5.*\(1, 3, 4, 2\)"),
    (lambda: layers.SpatialDropout2D(0.5, name="s"), (1, 3, 4), r"'s'.*rank 4.*\(1, 3, 4\)"),
    (lambda: layers.GlobalAveragePooling1D(name="g"), (1, 3, 4, 2), r"'g'.*rank 3.*\(1, 3, 4, 2\)"),
    (lambda: layers.GlobalMaxPooling3D(name="g"), (1, 3, 4), r"'g'.*rank 5.*\(1, 3, 4\)"),
    (lambda: layers.UnitNormalization(axis=3, name="n"), (1, 3, 4), r"'n'.*axis 3.*\(1, 3, 4\)"),
    (lambda: layers.UnitNormalization(axis=[1, -4], name="n"), (1, 3, 4),
     r"'n'.*\[1, -4\].*\(1, 3, 4\)"),
])
def test_bad_inputs_raise_value_errors_naming_layer_and_shape(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(_x(*shape))
    with pytest.raises(ValueError, match=message.replace(r"\(1,", r"\(None,")):
        make()(pykern.Input(shape[1:]))


def test_mask_of_the_wrong_shape_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'g'.*\(2, 5\).*\(2, 4\)"):
        layers.GlobalAveragePooling1D(name="g")(_x(2, 5, 3), mask=np.ones((2, 4), bool))


def test_keras_aliases_are_the_same_classes():
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D
    assert layers.GlobalMaxPool1D is layers.GlobalMaxPooling1D
