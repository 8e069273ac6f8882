"""preprocess_input and decode_predictions for the ImageNet models, as Keras'
keras.applications.imagenet_utils.

preprocess_input modes (inputs are RGB images with values in [0, 255]):
  'caffe'  RGB -> BGR, then subtract the ImageNet channel means (103.939, 116.779,
           123.68 in BGR order); no scaling. VGG16/19, ResNet50/101/152.
  'tf'     x / 127.5 - 1: values in [-1, 1]. ResNetV2, MobileNet(V2), Inception, Xception.
  'torch'  x / 255, then (x - mean) / std per channel with mean (0.485, 0.456, 0.406)
           and std (0.229, 0.224, 0.225). DenseNet.
The steps and their order are Keras', so float32 results agree bit for bit.

NumPy inputs behave as in Keras: a floating array is written over (and keeps its
dtype; in 'caffe' mode the result is a channel-reversed view of it), other dtypes
are converted to float32 first. pykern Tensors and KerasTensors (inside a
functional model) give a new float32 tensor.
"""
import json

import numpy as np

from pykern import ops
from pykern.applications._common import WeightFile, imagenet_weights_path
from pykern.backend import floatx
from pykern.backend.keras_tensor import KerasTensor

__all__ = ["preprocess_input", "decode_predictions", "CLASS_INDEX_FILE"]

_MEANS = {"caffe": (103.939, 116.779, 123.68), "torch": (0.485, 0.456, 0.406)}
_TORCH_STD = (0.229, 0.224, 0.225)

# the class index Keras downloads for decode_predictions: {"0": ["n01440764", "tench"], ...}
CLASS_INDEX_FILE = (
    "imagenet_class_index.json",
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    "c2c37ea517e94d9795004a39431a14cb")
_class_index = None


def _check(mode, data_format):
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: "
                         f"mode={mode}")
    if data_format is None:
        return "channels_last"
    if data_format not in {"channels_first", "channels_last"}:
        raise ValueError(f"Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """A batch of images (or one image) scaled as `mode` says (see the module
    docstring); `x` is 3-D or 4-D with 3 colour channels, channels_last unless
    data_format='channels_first'. Returns float32 (or the input's float dtype)."""
    data_format = _check(mode, data_format)
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _channel_axis(ndim, data_format):
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _preprocess_numpy(x, data_format, mode):
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    axis = _channel_axis(x.ndim, data_format)
    if mode == "torch":
        x /= 255.0
    else:  # RGB -> BGR as a view, so the input is written over as in Keras
        x = np.flip(x, axis=axis)
    std = _TORCH_STD if mode == "torch" else None
    for c in range(3):
        channel = [slice(None)] * x.ndim
        channel[axis] = c
        channel = tuple(channel)
        x[channel] -= _MEANS[mode][c]
        if std is not None:
            x[channel] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    if not isinstance(x, KerasTensor):
        x = ops.convert_to_tensor(x)
    ndim = len(x.shape)
    axis = _channel_axis(ndim, data_format)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
    else:
        index = [slice(None)] * ndim
        channels = []
        for c in (2, 1, 0):
            index[axis] = c
            channels.append(x[tuple(index)])
        x = ops.stack(channels, axis=axis)
    shape = [1] * ndim
    shape[axis] = 3
    x = x + (-np.asarray(_MEANS[mode], np.float32)).reshape(shape)
    if mode == "torch":
        x = x / np.asarray(_TORCH_STD, np.float32).reshape(shape)
    return x


def _load_class_index():
    """The class index: pykern's cache, then Keras' (~/.keras/models), else a download."""
    global _class_index
    if _class_index is None:
        path = imagenet_weights_path(WeightFile(*CLASS_INDEX_FILE))
        with open(path) as f:
            _class_index = json.load(f)
    return _class_index


def decode_predictions(preds, top=5):
    """For each row of `preds` (N, 1000), its `top` classes as
    (wordnet id, class name, score) tuples, highest score first."""
    if isinstance(preds, KerasTensor):
        raise ValueError("decode_predictions takes values (NumPy arrays or Tensors), "
                         "not a symbolic KerasTensor")
    preds = ops.convert_to_numpy(preds) if not isinstance(preds, np.ndarray) else preds
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(f"`decode_predictions` expects a batch of predictions (i.e. a 2D "
                         f"array of shape (samples, 1000)). Received array with shape: "
                         f"{preds.shape}")
    index = _load_class_index()
    results = []
    for row in preds:
        best = row.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (row[i],) for i in best]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def _forget_class_index():
    """Drops the loaded class index (tests point the cache folders elsewhere)."""
    global _class_index
    _class_index = None

