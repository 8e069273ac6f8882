"""Convolution layers against TensorFlow-Keras: outputs and gradients (inputs and
weights) after copying Keras' weights, over strides, dilations, groups, both
paddings (even kernels with 'same' put the extra pad bottom/right), causal,
channels_first, transposes with output_padding, depthwise and separable; plus
configs, symbolic shapes and the errors bad input raises."""
import numpy as np
import pytest

from pykern import layers, ops
from parity import fit_parity, layer_parity, op_parity

RNG = np.random.default_rng(5)

# float32 sums over up to k*k*C = 3*3*8 = 72 products: a few ulps of difference to
# TF's oneDNN kernels, so outputs at 1e-5 relative with a small absolute floor
TOL = dict(rtol=1e-5, atol=1e-5)


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


CASES = [
    ("Conv1D", dict(filters=4, kernel_size=3), (2, 9, 3)),
    ("Conv1D", dict(filters=4, kernel_size=2, padding="same", strides=2), (2, 9, 3)),
    ("Conv1D", dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2), (2, 8, 2)),
    ("Conv1D", dict(filters=4, kernel_size=3, groups=2, activation="relu"), (1, 7, 4)),
    ("Conv2D", dict(filters=5, kernel_size=3), (2, 7, 6, 3)),
    ("Conv2D", dict(filters=4, kernel_size=(2, 4), padding="same", strides=(2, 3)), (2, 7, 8, 3)),
    ("Conv2D", dict(filters=4, kernel_size=2, padding="same"), (1, 5, 5, 2)),
    ("Conv2D", dict(filters=3, kernel_size=3, dilation_rate=2, padding="same",
                    activation="tanh"), (2, 9, 9, 2)),
    ("Conv2D", dict(filters=6, kernel_size=3, groups=3, use_bias=False), (2, 6, 6, 3)),
    ("Conv2D", dict(filters=4, kernel_size=1, activation="sigmoid"), (2, 5, 5, 3)),
    ("Conv2D", dict(filters=4, kernel_size=3, activation="gelu", strides=2), (2, 8, 8, 3)),
    ("Conv3D", dict(filters=3, kernel_size=2, padding="same", strides=(1, 2, 2)),
     (1, 4, 5, 5, 2)),
    ("Conv1DTranspose", dict(filters=3, kernel_size=3, strides=2), (2, 5, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same"),
     (2, 4, 5, 2)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=(3, 2), strides=(2, 3)), (1, 3, 4, 3)),
    ("Conv2DTranspose", dict(filters=2, kernel_size=3, strides=2, output_padding=1,
                             activation="relu"), (1, 4, 4, 2)),
    ("Conv2DTranspose", dict(filters=3, kernel_size=3, strides=2, padding="same",
                             output_padding=1), (2, 3, 3, 2)),
    ("Conv3DTranspose", dict(filters=2, kernel_size=2, strides=2), (1, 2, 3, 3, 2)),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2), (2, 8, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3), (2, 6, 6, 4)),
    ("DepthwiseConv2D", dict(kernel_size=(3, 2), strides=2, padding="same", depth_multiplier=3,
                             activation="relu"), (2, 7, 6, 2)),
    ("DepthwiseConv2D", dict(kernel_size=3, dilation_rate=2), (1, 7, 7, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, depth_multiplier=2), (2, 8, 3)),
    ("SeparableConv2D", dict(filters=5, kernel_size=3, padding="same", strides=2), (2, 7, 7, 3)),
]


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_layer_matches_keras(name, kwargs, shape, keras):
    layer_parity(getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs),
                 _x(*shape), **TOL)


@pytest.mark.parametrize("name,kwargs,shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_symbolic_shape_and_config_match_keras(name, kwargs, shape, keras):
    ours, theirs = getattr(layers, name)(**kwargs), getattr(keras.layers, name)(**kwargs)
    out = ours(layers.Input(shape[1:]))
    assert out.shape == tuple(theirs(keras.Input(shape[1:])).shape)
    assert out.shape[1:] == ours(_x(*shape)).shape[1:]
    mine, keras_config = ours.get_config(), theirs.get_config()
    for key in ("name", "dtype"):
        mine.pop(key), keras_config.pop(key)
    assert list(mine) == list(keras_config)
    for key, value in keras_config.items():
        if isinstance(value, dict):  # initializers: Keras 3.15 adds input/output_axes
            assert mine[key]["class_name"] == value["class_name"], key
        else:
            assert mine[key] == value, key
    again = type(ours).from_config(ours.get_config())
    assert again.get_config() == ours.get_config()


def test_channels_first_is_channels_last_on_transposed_data(keras):
    # TF's CPU Conv2D has no NCHW kernel, so compare with Keras on NHWC data
    x = _x(2, 3, 6, 5)
    first = layers.Conv2D(4, 3, data_format="channels_first", padding="same")
    last = keras.layers.Conv2D(4, 3, padding="same")
    last(np.transpose(x, (0, 2, 3, 1)))
    first(x)
    first.set_weights(last.get_weights())
    got = first(x).numpy()
    want = np.transpose(last(np.transpose(x, (0, 2, 3, 1))).numpy(), (0, 3, 1, 2))
    np.testing.assert_allclose(got, want, **TOL)
    assert first(layers.Input((3, None, 5))).shape == (None, 4, None, 5)


@pytest.mark.parametrize("fn,kernel_shape,kwargs", [
    ("conv", (3, 3, 2, 4), dict(strides=2, padding="same")),
    ("conv", (3, 3, 1, 4), dict(padding="valid")),  # groups = C / kernel's in-channels = 2
    ("depthwise_conv", (3, 3, 2, 2), dict(padding="same")),
    ("conv_transpose", (3, 3, 4, 2), dict(strides=2, padding="same")),
])
def test_ops_match_keras_ops(fn, kernel_shape, kwargs, keras):
    x, w = _x(2, 6, 6, 2), _x(*kernel_shape)
    op_parity(lambda a, b: getattr(ops, fn)(a, b, **kwargs),
              lambda a, b: getattr(keras.ops, fn)(a, b, **kwargs), [x, w], **TOL)


@pytest.mark.parametrize("strides,dilation,padding", [(1, 2, "valid"), (2, 1, "same"),
                                                      (3, 1, "valid")])
def test_conv_transpose_is_the_adjoint_of_conv(strides, dilation, padding):
    """<conv_transpose(x, w), z> == <x, conv(z, w)>: checks the transposed convolution
    where TF has no CPU kernel to compare with (dilation > 1)."""
    x, w = _x(2, 4, 5, 3), _x(3, 3, 2, 3)
    y = ops.conv_transpose(x, w, strides=strides, padding=padding, dilation_rate=dilation)
    z = _x(*y.shape)
    back = ops.conv(z, w, strides=strides, padding=padding, dilation_rate=dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose(float(np.sum(y.numpy() * z)), float(np.sum(x * back.numpy())),
                               rtol=1e-4)


def test_separable_conv_op_matches_keras(keras):
    op_parity(lambda a, d, p: ops.separable_conv(a, d, p, padding="same"),
              lambda a, d, p: keras.ops.separable_conv(a, d, p, padding="same"),
              [_x(2, 5, 5, 3), _x(3, 3, 3, 2), _x(1, 1, 6, 4)], **TOL)


def test_a_small_cnn_trains_like_keras(keras):
    """Three epochs of RMSprop on a conv stack: the same loss history and weights."""
    def build(L):
        return [L.Conv2D(4, 3, activation="relu"), L.Conv2D(4, 3, padding="same", strides=2),
                L.Flatten(), L.Dense(3, activation="softmax")]
    fit_parity(build, keras, "RMSprop", _x(16, 8, 8, 2), RNG.integers(0, 3, 16))


# --- bad input ---------------------------------------------------------------------------------
def test_rank_mismatch_names_the_layer_and_shape():
    with pytest.raises(ValueError, match=r"Conv2D 'c' expects inputs of rank 4.*\(2, 5, 3\)"):
        layers.Conv2D(2, 3, name="c")(_x(2, 5, 3))


def test_channel_mismatch_after_build_names_both():
    conv = layers.Conv2D(2, 3, name="c2")
    conv(_x(1, 5, 5, 3))
    with pytest.raises(ValueError, match=r"built for inputs with 3 channels.*\(1, 5, 5, 4\)"):
        conv(_x(1, 5, 5, 4))


def test_input_smaller_than_the_kernel_with_valid_padding():
    with pytest.raises(ValueError, match=r"smaller than the kernel \(5, 5\).*'valid'"):
        layers.Conv2D(2, 5)(_x(1, 4, 6, 1))
    assert layers.Conv2D(2, 5, padding="same")(_x(1, 4, 6, 1)).shape == (1, 4, 6, 2)


def test_groups_must_divide_channels_and_filters():
    with pytest.raises(ValueError, match="divisible by groups.*groups=2.*3 channels"):
        layers.Conv2D(4, 3, groups=2)(_x(1, 5, 5, 3))
    with pytest.raises(ValueError, match="filters must be divisible by groups"):
        layers.Conv2D(3, 3, groups=2)


@pytest.mark.parametrize("kwargs,match", [
    (dict(filters=0, kernel_size=3), "filters must be a positive int"),
    (dict(filters=2, kernel_size=0), "kernel_size"),
    (dict(filters=2, kernel_size=3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (dict(filters=2, kernel_size=3, padding="causal"), "padding must be one of"),
])
def test_bad_arguments_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.Conv2D(**kwargs)


def test_native_entry_points_check_again():
    from pykern import _cpu
    with pytest.raises(ValueError, match="conv_forward"):
        _cpu.conv_forward(_x(1, 5, 5, 3), _x(3, 3, 2, 4), None, (1, 1), (1, 1), (0, 0), (0, 0),
                          1, "none")
