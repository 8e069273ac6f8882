"""keras.applications.densenet: DenseNet121/169/201 (Huang et al., CVPR 2017)
with Keras' layer names.

A dense block appends 32 channels per building block (`{block}_block{i}`: BN-ReLU,
1x1 conv to 128, BN-ReLU, 3x3 conv to 32, concatenated to the input); transition
blocks (`pool2..pool4`) halve channels (1x1 conv) and size (2x2 average pool).
The stem is a 7x7/2 conv and a 3x3/2 max pool behind two unnamed ZeroPadding2D
layers; the tail is `bn` / `relu`, then avg_pool + predictions.
"""
from pykern import layers
from pykern.applications import _common
from pykern.applications._common import BN_AXIS
from pykern.applications.imagenet_utils import decode_predictions, preprocess_input as _pre

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "preprocess_input",
           "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"
_HASHES = {  # (with the classifier, without), as Keras publishes them
    "densenet121": ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    "densenet169": ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    "densenet201": ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}
_GROWTH_RATE = 32


WEIGHT_FILES = {name: _common.published_files(_BASE, name, hashes)
                for name, hashes in _HASHES.items()}



def conv_block(x, growth_rate, name):
    """One building block: x concatenated with `growth_rate` new feature maps."""
    y = _common.batch_norm(f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = _common.batch_norm(f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=BN_AXIS, name=f"{name}_concat")([x, y])


def dense_block(x, blocks, name):
    for i in range(1, blocks + 1):
        x = conv_block(x, _GROWTH_RATE, name=f"{name}_block{i}")
    return x


def transition_block(x, reduction, name):
    """BN-ReLU, a 1x1 conv to `reduction` of the channels, 2x2/2 average pooling."""
    x = _common.batch_norm(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[BN_AXIS] * reduction), 1, use_bias=False,
                      name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def densenet(blocks, weights_name, include_top, weights, input_tensor, input_shape, pooling,
             classes, classifier_activation, name):
    """DenseNet with `blocks[i]` building blocks in dense block i (4 blocks)."""
    _common.check_weights_argument(weights, include_top, classes)
    input_shape = _common.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                             require_flatten=include_top, weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _common.batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = _common.batch_norm("bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights)
    files = WEIGHT_FILES[weights_name]
    return _common.make_model(input_tensor, img_input, x, name, weights,
                              files["top" if include_top else "notop"])


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    """DenseNet121 (dense blocks of 6, 12, 24, 16), as keras.applications.DenseNet121.
    The arguments are VGG16's (see pykern.applications.vgg16.VGG16); inputs are
    preprocessed with densenet.preprocess_input ('torch')."""
    return densenet((6, 12, 24, 16), "densenet121", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation, name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    """DenseNet169 (dense blocks of 6, 12, 32, 32); arguments as DenseNet121."""
    return densenet((6, 12, 32, 32), "densenet169", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation, name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    """DenseNet201 (dense blocks of 6, 12, 48, 32); arguments as DenseNet121."""
    return densenet((6, 12, 48, 32), "densenet201", include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """imagenet_utils.preprocess_input in 'torch' mode (x / 255, then ImageNet mean/std)."""
    return _pre(x, data_format=data_format, mode="torch")
