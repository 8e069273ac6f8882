"""keras.applications.resnet_v2: ResNet50V2/101V2/152V2 (He et al., ECCV 2016,
pre-activation blocks) on the ResNet body of pykern.applications.resnet."""
from pykern.applications.imagenet_utils import decode_predictions, preprocess_input as _pre
from pykern.applications.resnet import resnet, stack_v2

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input",
           "decode_predictions"]


def _v2_stacks(depths):
    def stack_fn(x):
        for stage, (filters, blocks) in enumerate(zip((64, 128, 256), depths), start=2):
            x = stack_v2(x, filters, blocks, name=f"conv{stage}")
        return stack_v2(x, 512, depths[3], stride1=1, name="conv5")
    return stack_fn


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax",
               name="resnet50v2"):
    """ResNet50V2 (stacks of 3, 4, 6, 3 pre-activation bottlenecks), as
    keras.applications.ResNet50V2. The arguments are VGG16's (see
    pykern.applications.vgg16.VGG16); inputs are preprocessed with
    resnet_v2.preprocess_input ('tf')."""
    return resnet(_v2_stacks((3, 4, 6, 3)), True, True, "resnet50v2", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet101v2"):
    """ResNet101V2 (stacks of 3, 4, 23, 3); arguments as ResNet50V2."""
    return resnet(_v2_stacks((3, 4, 23, 3)), True, True, "resnet101v2", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="resnet152v2"):
    """ResNet152V2 (stacks of 3, 8, 36, 3); arguments as ResNet50V2."""
    return resnet(_v2_stacks((3, 8, 36, 3)), True, True, "resnet152v2", include_top, weights,
                  input_tensor, input_shape, pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """imagenet_utils.preprocess_input in 'tf' mode (x / 127.5 - 1)."""
    return _pre(x, data_format=data_format, mode="tf")
