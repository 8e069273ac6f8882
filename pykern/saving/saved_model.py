"""SavedModel export (`model.export(path, format="tf_saved_model")`).

The model goes through its own `.keras` file into Keras 3 on TensorFlow, and
Keras' own export writes the SavedModel (a `serve` endpoint and the
`serving_default` signature, as `keras.Model.export` writes them). Why this
path rather than TensorFlow ops written here for each layer: the `.keras` file
is the interchange format pykern already keeps exact in both directions (weights,
names and configs are parity-tested layer by layer against Keras), so the
SavedModel computes what Keras computes with the same weights, for every layer
Keras has (masks and recurrent layers included) and with the code TensorFlow
Serving users already rely on; a second translation of every layer into TF ops
would be one more thing to keep in step with the layers. The cost is importing
TensorFlow for the export.

The signature's inputs are named after the model's InputLayers and its outputs
output_0, ... (pykern.saving.signature: the ONNX export and pykern.serve use the
same names). The directory is written under a temporary name beside `filepath`
and renamed into place.
"""
import os
import tempfile

from pykern.saving.atomic import atomic_directory
from pykern.saving.signature import input_specs

__all__ = ["export_saved_model"]

INSTALL_HINT = 'pip install "pykern[tf]"'


def _tensorflow_keras():
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(f"export(format='tf_saved_model') needs TensorFlow (2.16 or later, "
                          f"with Keras 3): {INSTALL_HINT}") from None
    import keras
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"export(format='tf_saved_model') runs Keras 3 on TensorFlow, but "
                           f"Keras is set to the {keras.backend.backend()!r} backend; unset "
                           f"KERAS_BACKEND or set it to 'tensorflow'")
    return tf, keras


def _keras_twin(model, keras, workdir):
    """The same model in Keras 3, from pykern's .keras file (weights included)."""
    path = os.path.join(workdir, "model.keras")
    model.save(path, include_optimizer=False)
    return keras.saving.load_model(path, compile=False)


def export_saved_model(model, filepath, verbose=None, input_signature=None):
    """Writes `model` as a TensorFlow SavedModel directory at `filepath`; returns it."""
    if input_signature is not None:
        raise NotImplementedError("export: input_signature is not supported; the model's "
                                  "own input shapes are used (batch dimension symbolic)")
    specs = input_specs(model)
    tf, keras = _tensorflow_keras()
    signature = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in specs]
    path = os.fspath(filepath)
    with tempfile.TemporaryDirectory() as workdir:
        twin = _keras_twin(model, keras, workdir)
        with atomic_directory(path) as tmp:
            twin.export(tmp, format="tf_saved_model", verbose=False,
                        input_signature=signature if len(signature) == 1 else [signature])
    if verbose:
        print(f"Saved TensorFlow SavedModel to {path}")
    return filepath
