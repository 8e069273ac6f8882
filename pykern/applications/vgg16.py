"""keras.applications.vgg16: VGG16, its preprocess_input ('caffe') and decode_predictions."""
from pykern.applications import _vgg
from pykern.applications._common import published_files
from pykern.applications.imagenet_utils import decode_predictions, preprocess_input as _pre

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
WEIGHT_FILES = published_files(_BASE, "vgg16", ("64373286793e3c8b2b4e3219cbf3544b",
                                                  "6d6bbae143d832006294945121d1f1fc"))


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16 (13 convolutions in blocks of 2, 2, 3, 3, 3), as keras.applications.VGG16.

    include_top: add the Flatten/fc1/fc2/predictions classifier (input 224x224x3
      with ImageNet weights).
    weights: None (random), 'imagenet' (Keras' published file, see
      pykern.applications) or the path of a weights file.
    input_tensor: a KerasTensor to build the model on (default: a new Input).
    input_shape: (H, W, 3), H and W >= 32; default (224, 224, 3) with the
      classifier, (None, None, 3) without.
    pooling: without the classifier, None (4-D features), 'avg' or 'max'.
    classes, classifier_activation: the classifier's size and activation (with
      ImageNet weights: 1000 and None or 'softmax').
    Inputs are preprocessed with vgg16.preprocess_input.
    """
    return _vgg.vgg((2, 2, 3, 3, 3), WEIGHT_FILES, include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """imagenet_utils.preprocess_input in 'caffe' mode (RGB -> BGR, mean subtracted)."""
    return _pre(x, data_format=data_format, mode="caffe")
