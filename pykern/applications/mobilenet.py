"""MobileNet (v1): depthwise-separable blocks, width `alpha`, depthwise
`depth_multiplier`; Keras' layer names (conv1, conv_dw_<i>, conv_pw_<i>, ...)."""
from pykern import layers
from pykern.applications import _common
from pykern.applications._common import WeightFile
from pykern.applications.imagenet_utils import decode_predictions
from pykern.applications.resnet_v2 import preprocess_input  # mode 'tf': x / 127.5 - 1

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_SIZES = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}

# (pointwise filters, strides) of depthwise blocks 1..13
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
           (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None):
    """MobileNet (Howard et al. 2017) with Keras' signature and layer names; inputs
    in [-1, 1] (`preprocess_input`). `alpha` scales every layer's width,
    `depth_multiplier` the depthwise outputs per channel. ImageNet weights exist
    for alpha in (0.25, 0.5, 0.75, 1.0), depth_multiplier 1 and sizes 128..224."""
    _common.check_weights_argument(weights, include_top, classes)
    rows = input_shape[0] if input_shape is not None else None
    default_size = rows if input_shape is not None and rows == input_shape[1] and \
        rows in _SIZES else 224
    input_shape = _common.obtain_input_shape(input_shape, default_size=default_size,
                                             min_size=32, require_flatten=include_top,
                                             weights=weights)
    rows, cols = input_shape[:2]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be "
                             f"1.  Received depth_multiplier={depth_multiplier}")
        if alpha not in _ALPHA_TEXT:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of "
                             f"`0.25`, `0.50`, `0.75` or `1.0` only.  Received alpha={alpha}")
        rows = _common.published_rows(rows, cols, _SIZES)
    img_input = _common.image_input(input_tensor, input_shape)

    x = layers.Conv2D(int(32 * alpha), 3, strides=2, padding="same", use_bias=False,
                      name="conv1")(img_input)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for block_id, (filters, strides) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, int(filters * alpha), depth_multiplier, strides, block_id)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        _common.validate_activation(classifier_activation, weights)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = _common.pooling_head(x, pooling)

    fname = f"mobilenet_{_ALPHA_TEXT.get(alpha)}_{rows}_tf{'' if include_top else '_no_top'}.h5"
    # Keras publishes the MobileNet files without a hash
    return _common.make_model(input_tensor, img_input, x, name or f"mobilenet_{alpha:0.2f}_{rows}",
                              weights, WeightFile(fname, BASE_WEIGHT_PATH + fname, None))


def _depthwise_conv_block(x, filters, depth_multiplier, strides, block_id):
    """[pad] -> 3x3 depthwise -> BN -> ReLU6 -> 1x1 conv -> BN -> ReLU6."""
    if strides != 1:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D(3, padding="same" if strides == 1 else "valid",
                               depth_multiplier=depth_multiplier, strides=strides,
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)
