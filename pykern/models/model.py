"""Model: a Layer with a name for its sub-layers, summary and weight access.

`Model(inputs, outputs)` builds a functional model (pykern.models.functional);
subclasses with their own `call` are subclassed models whose `layers` are the
sub-layers assigned to attributes, in assignment order.
"""

from pykern.backend.tensor import no_grad
from pykern.layers.layer import Layer
from pykern.models.training import Trainer

__all__ = ["Model"]


class Model(Trainer, Layer):
    _keras_module = "keras"

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from pykern.models.functional import Functional
            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args, trainable=True, name=None, **kwargs):
        if args:
            raise TypeError(f"{type(self).__name__}: unexpected positional arguments {args!r}")
        super().__init__(trainable=trainable, name=name, **kwargs)

    @property
    def layers(self):
        return list(self._layers)

    def get_layer(self, name=None, index=None):
        """The layer called `name`, or at position `index` of `layers`."""
        if index is not None and name is not None:
            raise ValueError("get_layer: pass name or index, not both")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for model "
                                 f"{self.name!r} with {len(layers)} layers")
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name!r}. Existing layers are: "
                             f"{[layer.name for layer in layers]}")
        raise ValueError("get_layer: provide a layer name or index")

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Prints the Keras-format table of layers, output shapes and parameter counts."""
        from pykern.models.summary import print_summary
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable, expand_nested=expand_nested,
                      layer_range=layer_range)

    def profile(self, x, y=None, batch_size=32, steps=5, print_fn=None):
        """Per-layer forward and backward wall time of a training step (median of
        `steps`), GFLOP/s where the FLOPs follow from the shapes, and % of the
        measured fp32 peak; prints a table and returns one dict per layer. The
        weights do not change. Method and FLOP counts: pykern.models.profile."""
        from pykern.models.profile import profile_model
        return profile_model(self, x, y, batch_size=batch_size, steps=steps,
                             print_fn=print_fn)

    def _build_once(self, input_shape):
        if type(self).build is Model.build:  # subclassed: sub-layers build on first call
            object.__setattr__(self, "_build_shape", input_shape)
            self.built = True
            return
        super()._build_once(input_shape)

    def build(self, input_shape):
        """Builds a subclassed model by running `call` once on the meta device (shapes
        only: the layers create their weights, nothing is computed)."""
        from pykern.layers.layer import meta_call
        self.built = True
        shapes = input_shape if isinstance(input_shape, (list, dict)) else tuple(input_shape)
        meta_call(lambda x: self(x, training=False), shapes)

    def predict_on_batch(self, x):
        """The outputs for one batch as NumPy arrays (no graph is recorded)."""
        from pykern.layers.layer import _map
        with no_grad():
            out = self(x, training=False)
        return _map(lambda t: t.numpy(), out)

    # --- saving: implemented in pykern.saving --------------------------------------------------
    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the model: `.keras` (Keras 3 format) or `.h5` (legacy HDF5)."""
        from pykern.saving import save_model
        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """Saves the weights: `.weights.h5` (Keras 3 layout) or `.h5` (Keras 2 layout)."""
        from pykern.saving import save_weights
        save_weights(self, filepath, overwrite=overwrite, max_shard_size=max_shard_size)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Loads weights from `.weights.h5`, `.keras` or legacy `.h5` (`by_name=True`)."""
        from pykern.saving import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    def to_json(self, **kwargs):
        """The model's config as a JSON string (`pykern.models.model_from_json`)."""
        from pykern.saving import to_json
        return to_json(self, **kwargs)

    def export(self, filepath, format="onnx", **kwargs):  # noqa: A002 - Keras' name
        """Exports the model for inference: `format="onnx"` (opset 17) or
        `format="tf_saved_model"` (a SavedModel directory; needs TensorFlow)."""
        from pykern.saving import export
        return export(self, filepath, format=format, **kwargs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "layers" in config and "input_layers" in config:
            from pykern.models.functional import Functional
            return Functional.from_config(config, custom_objects=custom_objects)
        return cls(**config)
