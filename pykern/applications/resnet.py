"""keras.applications.resnet: ResNet50/101/152 (He et al., CVPR 2016) with Keras'
layer names, and the shared ResNet body that resnet_v2 also builds on.

Layout: conv1 (7x7/2 after a 3-pixel zero pad `conv1_pad`), a 3x3/2 max pool
(`pool1_pad`, `pool1_pool`), four stacks conv2..conv5 of bottleneck blocks
(`conv{s}_block{b}_{0..3}_{conv,bn}`), then avg_pool + predictions. v1 blocks
put BatchNormalization (epsilon 1.001e-5) after each convolution and sum
`_add` then ReLU `_out`; v2 blocks pre-activate (`_preact_bn`) and the model
ends with `post_bn` / `post_relu`.
"""
from pykern import layers
from pykern.applications import _common
from pykern.applications.imagenet_utils import decode_predictions, preprocess_input as _pre

__all__ = ["ResNet50", "ResNet101", "ResNet152", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
_HASHES = {  # (with the classifier, without), as Keras publishes them
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


WEIGHT_FILES = {name: _common.published_files(_BASE, name, hashes)
                for name, hashes in _HASHES.items()}



def block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A v1 bottleneck: 1x1 (stride) -> kxk 'same' -> 1x1 (4*filters), BN after each,
    added to the shortcut (a 1x1 conv + BN when conv_shortcut) and ReLU'd."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _common.batch_norm(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _common.batch_norm(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = _common.batch_norm(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _common.batch_norm(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` v1 bottlenecks; the first has the conv shortcut and stride `stride1`."""
    x = block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """A v2 (pre-activation) bottleneck: BN-ReLU first; the stride sits on the kxk
    conv; the shortcut is a 1x1 conv of the pre-activation, a 1x1/stride max pool
    of the input, or the input itself."""
    preact = _common.batch_norm(f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    elif stride > 1:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x)  # unnamed in Keras
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _common.batch_norm(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False,
                      name=f"{name}_2_conv")(x)
    x = _common.batch_norm(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` v2 bottlenecks: the first with the conv shortcut, the last with
    stride `stride1` (v2 downsamples at the end of a stack)."""
    x = block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = block_v2(x, filters, name=f"{name}_block{i}")
    return block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def resnet(stack_fn, preact, use_bias, weights_name, include_top, weights, input_tensor,
           input_shape, pooling, classes, classifier_activation, name):
    """The ResNet body around `stack_fn(x)` (the four stacks); preact selects the
    v2 stem/tail; weights_name picks the published file ('resnet50', ...)."""
    _common.check_weights_argument(weights, include_top, classes)
    input_shape = _common.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                             require_flatten=include_top, weights=weights)
    img_input = _common.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _common.batch_norm("conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _common.batch_norm("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    x = _common.classifier_top(x, include_top, pooling, classes, classifier_activation, weights)
    files = WEIGHT_FILES[weights_name]
    return _common.make_model(input_tensor, img_input, x, name, weights,
                              files["top" if include_top else "notop"])


def _v1_stacks(depths):
    def stack_fn(x):
        x = stack_v1(x, 64, depths[0], stride1=1, name="conv2")
        for stage, (filters, blocks) in enumerate(zip((128, 256, 512), depths[1:]), start=3):
            x = stack_v1(x, filters, blocks, name=f"conv{stage}")
        return x
    return stack_fn


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50 (stacks of 3, 4, 6, 3 bottlenecks), as keras.applications.ResNet50.
    The arguments are VGG16's (see pykern.applications.vgg16.VGG16); inputs are
    preprocessed with resnet.preprocess_input ('caffe')."""
    return resnet(_v1_stacks((3, 4, 6, 3)), False, True, "resnet50", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet101 (stacks of 3, 4, 23, 3 bottlenecks); arguments as ResNet50."""
    return resnet(_v1_stacks((3, 4, 23, 3)), False, True, "resnet101", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet152 (stacks of 3, 8, 36, 3 bottlenecks); arguments as ResNet50."""
    return resnet(_v1_stacks((3, 8, 36, 3)), False, True, "resnet152", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """imagenet_utils.preprocess_input in 'caffe' mode (RGB -> BGR, mean subtracted)."""
    return _pre(x, data_format=data_format, mode="caffe")
