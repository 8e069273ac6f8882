"""Saving and loading in Keras' own file formats, and ONNX export.

- `.keras` (Keras 3 zip: config.json, metadata.json, model.weights.h5)
- legacy `.h5` (Keras 2 / Keras 3 HDF5 whole-model files; tf-keras files load)
- `.weights.h5` and legacy `.h5` weight files (`by_name`, `skip_mismatch`)
- JSON configs (`model.to_json`, `model_from_json`)
- ONNX (`model.export(path, format="onnx")`) and TensorFlow SavedModel
  (`model.export(path, format="tf_saved_model")`, through Keras 3 on TensorFlow)

Every write goes to a temporary file (directory) that is fsynced and renamed; loading never
runs code from the file unless `safe_mode=False`.
"""
from pykern.saving.api import load_model, load_weights, save_model, save_weights
from pykern.saving.config_io import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                     model_from_json, to_json)
from pykern.utils.serialization import (deserialize_keras_object, get_registered_name,
                                        get_registered_object, register_keras_serializable,
                                        serialize_keras_object)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_json",
           "to_json", "register_keras_serializable", "get_registered_object",
           "get_registered_name", "serialize_keras_object", "deserialize_keras_object",
           "custom_object_scope", "CustomObjectScope", "get_custom_objects", "export"]


def export(model, filepath, format="onnx", **kwargs):  # noqa: A002 - Keras' name
    """model.export: writes `model` to `filepath` for inference, as an ONNX file
    (format="onnx") or a TensorFlow SavedModel directory (format="tf_saved_model",
    needs TensorFlow: pip install "pykern[tf]")."""
    if format == "onnx":
        from pykern.saving.onnx_export import export_onnx
        return export_onnx(model, filepath, **kwargs)
    if format == "tf_saved_model":
        from pykern.saving.saved_model import export_saved_model
        return export_saved_model(model, filepath, **kwargs)
    raise ValueError(f"export: pykern exports format='onnx' or format='tf_saved_model', got "
                     f"format={format!r}")
