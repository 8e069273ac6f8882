"""keras.applications.resnet50: ResNet50 with resnet's preprocess_input and decode_predictions."""
from pykern.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
