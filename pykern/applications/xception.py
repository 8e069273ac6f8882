"""Xception: entry flow, eight middle-flow residual blocks and exit flow of
separable convolutions; Keras' layer names (block<i>_sepconv<j>, ...)."""
from pykern import layers
from pykern.applications import _common
from pykern.applications.imagenet_utils import decode_predictions
from pykern.applications.resnet_v2 import preprocess_input  # mode 'tf': x / 127.5 - 1

__all__ = ["Xception", "preprocess_input", "decode_predictions"]

WEIGHT_FILES = _common.published_files(
    "https://storage.googleapis.com/tensorflow/keras-applications/xception/", "xception",
    ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97"))


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Xception (Chollet 2017) with Keras' signature and layer names; inputs in
    [-1, 1] (`preprocess_input`), at least 71x71."""
    _common.check_weights_argument(weights, include_top, classes)
    input_shape = _common.obtain_input_shape(input_shape, default_size=299, min_size=71,
                                             require_flatten=include_top, weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = _downsampling_block(x, (128, 128), "block2", first_act=False)
    x = _downsampling_block(x, (256, 256), "block3")
    x = _downsampling_block(x, (728, 728), "block4")
    for i in range(8):
        residual = x
        for j in (1, 2, 3):
            x = _sepconv_bn(x, 728, f"block{i + 5}_sepconv{j}", act_before=True)
        x = layers.add([x, residual])
    x = _downsampling_block(x, (728, 1024), "block13")
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)

    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               pool_names=(None, None))
    return _common.make_model(input_tensor, img_input, x, name, weights,
                              WEIGHT_FILES["top" if include_top else "notop"])


def _sepconv_bn(x, filters, name, act_before=False):
    """[ReLU] -> 3x3 SeparableConv2D (no bias) -> BN, named <name>_act, <name> and
    <name>_bn."""
    if act_before:
        x = layers.Activation("relu", name=f"{name}_act")(x)
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _downsampling_block(x, filters, prefix, first_act=True):
    """Two separable convs and a stride-2 max pool, plus a strided 1x1 conv shortcut
    (auto-named, as in Keras). Block 2 skips the first ReLU: its input is already
    activated."""
    residual = layers.Conv2D(filters[1], (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization()(residual)
    x = _sepconv_bn(x, filters[0], f"{prefix}_sepconv1", act_before=first_act)
    x = _sepconv_bn(x, filters[1], f"{prefix}_sepconv2", act_before=True)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{prefix}_pool")(x)
    return layers.add([x, residual])
