"""MobileNetV2: inverted residual blocks with linear bottlenecks, width `alpha`;
Keras' layer names (Conv1, block_<i>_expand, expanded_conv_depthwise, ...)."""
from pykern import layers
from pykern.applications import _common
from pykern.applications._common import WeightFile, correct_pad, make_divisible
from pykern.applications.imagenet_utils import decode_predictions
from pykern.applications.resnet_v2 import preprocess_input  # mode 'tf': x / 127.5 - 1

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

BASE_WEIGHT_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                    "mobilenet_v2/")
_SIZES = (96, 128, 160, 192, 224)
_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

# (filters, stride, expansion) of blocks 0..16
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6),
           (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6),
           (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6))


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    """MobileNetV2 (Sandler et al. 2018) with Keras' signature and layer names;
    inputs in [-1, 1] (`preprocess_input`). ImageNet weights exist for alpha in
    (0.35, 0.5, 0.75, 1.0, 1.3, 1.4) and square sizes 96..224."""
    _common.check_weights_argument(weights, include_top, classes)
    size = _square_size(input_shape if input_shape is not None else
                        None if input_tensor is None else tuple(input_tensor.shape)[1:])
    input_shape = _common.obtain_input_shape(input_shape, default_size=size or 224,
                                             min_size=32, require_flatten=include_top,
                                             weights=weights)
    rows, cols = input_shape[:2]
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of "
                             "`0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received "
                             f"`alpha={alpha}`")
        rows = _common.published_rows(rows, cols, _SIZES)
    img_input = _common.image_input(input_tensor, input_shape)

    x = layers.Conv2D(make_divisible(32 * alpha, 8), 3, strides=2, padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = _bn(x, "bn_Conv1")
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion, stride, make_divisible(int(filters * alpha), 8),
                                block_id)
    last_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    x = _bn(x, "Conv_1_bn")
    x = layers.ReLU(6.0, name="out_relu")(x)

    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights,
                               top_pool=None, pool_names=(None, None))

    fname = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
             f"{'' if include_top else '_no_top'}.h5")
    # Keras publishes the MobileNetV2 files without a hash
    return _common.make_model(input_tensor, img_input, x,
                              name or f"mobilenetv2_{alpha:0.2f}_{rows}", weights,
                              WeightFile(fname, BASE_WEIGHT_PATH + fname, None))


def _square_size(shape):
    """The side of a square (H, W, C) shape Keras has weights for, else None."""
    if shape is None or len(shape) < 2:
        return None
    return shape[0] if shape[0] == shape[1] and shape[0] in _SIZES else None


def _bn(x, name):
    return layers.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)(x)


def _inverted_res_block(inputs, expansion, stride, filters, block_id):
    """[1x1 expand -> BN -> ReLU6] -> [pad] 3x3 depthwise -> BN -> ReLU6 ->
    1x1 project -> BN [+ inputs]; block 0 has no expansion and is named
    expanded_conv_*."""
    in_channels = inputs.shape[-1]
    x = inputs
    if block_id:
        prefix = f"block_{block_id}_"
        x = layers.Conv2D(expansion * in_channels, 1, padding="same", use_bias=False,
                          name=f"{prefix}expand")(x)
        x = _bn(x, f"{prefix}expand_BN")
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(3, strides=stride, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = _bn(x, f"{prefix}depthwise_BN")
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(x, f"{prefix}project_BN")
    if in_channels == filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x

