"""keras.applications.vgg19: VGG19, its preprocess_input ('caffe') and decode_predictions."""
from pykern.applications import _vgg
from pykern.applications._common import published_files
from pykern.applications.imagenet_utils import decode_predictions, preprocess_input as _pre

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]

_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
WEIGHT_FILES = published_files(_BASE, "vgg19", ("cbe5617147190e668d6c5d5026f83318",
                                                  "253f8cb515780f3b799900260a226db6"))


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19 (16 convolutions in blocks of 2, 2, 4, 4, 4), as keras.applications.VGG19;
    the arguments are VGG16's (see pykern.applications.vgg16.VGG16)."""
    return _vgg.vgg((2, 2, 4, 4, 4), WEIGHT_FILES, include_top, weights, input_tensor,
                    input_shape, pooling, classes, classifier_activation, name)


def preprocess_input(x, data_format=None):
    """imagenet_utils.preprocess_input in 'caffe' mode (RGB -> BGR, mean subtracted)."""
    return _pre(x, data_format=data_format, mode="caffe")
