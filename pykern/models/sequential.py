"""Sequential: a stack of single-input layers.

Built as soon as the input shape is known (an Input/InputLayer first, or
`input_shape=` on the first layer), otherwise on the first call. `layers`
excludes the InputLayer, as in Keras. A call runs the layers in a plain loop.
"""
from pykern.layers.input_layer import InputLayer
from pykern.layers.layer import _SCOPE, KerasTensor, Layer
from pykern.models.model import Model
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["Sequential"]


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        object.__setattr__(self, "_input_layer", None)
        object.__setattr__(self, "_checked_shape", None)
        object.__setattr__(self, "_layers", [])
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer, rebuild=True):
        """Appends a layer (or an Input tensor, as the first element)."""
        if isinstance(layer, KerasTensor):
            origin = layer._keras_history[0] if layer._keras_history else None
            if not isinstance(origin, InputLayer):
                raise ValueError(f"Sequential {self.name!r}: only an Input tensor can be added, "
                                 f"got {layer!r}")
            layer = origin
        if not isinstance(layer, Layer):  # ValueError, as Keras
            raise ValueError(f"Sequential {self.name!r}: the added layer must be a Layer "
                             f"instance, got {layer!r} of type {type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"Sequential {self.name!r}: an InputLayer can only be the "
                                 f"first layer")
            object.__setattr__(self, "_input_layer", layer)
            object.__setattr__(self, "_checked_shape", None)
        else:
            names = {lyr.name for lyr in self._layers}
            if layer.name in names:
                raise ValueError(f"Sequential {self.name!r}: all layers need unique names; "
                                 f"{layer.name!r} is already in the model")
            self._layers.append(layer)
        if rebuild:
            self._maybe_build()

    def pop(self, rebuild=True):
        """Removes and returns the last layer."""
        if not self._layers:
            raise TypeError(f"Sequential {self.name!r}: there are no layers to pop")
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._maybe_build()
        return layer

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._layers and self._layers[0]._batch_input_shape is not None:
            return self._layers[0]._batch_input_shape
        return None

    def _maybe_build(self):
        shape = self._known_input_shape()
        if shape is not None and self._layers:
            self._build_once(shape)

    def build(self, input_shape=None):
        """Connects the layers symbolically from an input of `input_shape` (batch dim
        included), building each layer and checking that their shapes chain."""
        if _SCOPE.get()[-1:] != (self.name,):  # weight paths start with the model's name
            token = _SCOPE.set(_SCOPE.get() + (self.name,))
            try:
                return self.build(input_shape)
            finally:
                _SCOPE.reset(token)
        if input_shape is None:
            input_shape = self._known_input_shape()
        if input_shape is None:
            raise ValueError(f"Sequential {self.name!r}: cannot build without an input shape; "
                             f"pass input_shape or add an Input first")
        if not self._layers:
            raise ValueError(f"Sequential {self.name!r} has no layers; add some before "
                             f"building it")
        input_shape = tuple(input_shape)  # a batch size from the first data stays, as Keras
        if self._input_layer is None or self._input_layer.batch_shape != input_shape:
            object.__setattr__(self, "_input_layer", InputLayer(batch_shape=input_shape))
            object.__setattr__(self, "_checked_shape", None)
        x = self._input_layer.output
        for layer in self._layers:
            x = layer(x)
        object.__setattr__(self, "_output_tensor", x)
        self.built = True

    def _build_once(self, input_shape):
        self.build(input_shape)

    def call(self, inputs, training=None, mask=None):
        shape = getattr(inputs, "shape", None)
        if self._input_layer is not None and shape != self._checked_shape:
            spec = self._input_layer.batch_shape
            if shape is not None and (len(shape) != len(spec) or any(
                    s is not None and d != s for d, s in zip(shape[1:], spec[1:]))):
                raise ValueError(f"Input 0 of model {self.name!r} is incompatible: expected "
                                 f"shape {spec}, got {tuple(shape)}")
            object.__setattr__(self, "_checked_shape", shape)  # checked once per shape
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        shape = input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def input_shape(self):
        if self._input_layer is None:
            raise AttributeError(f"Sequential {self.name!r} is not built, so it has no input "
                                 f"shape")
        return self._input_layer.batch_shape

    @property
    def input(self):
        if self._input_layer is None:
            raise AttributeError(f"Sequential {self.name!r} is not built, so it has no input")
        return self._input_layer.output

    @property
    def output(self):
        if not self.built or not self._layers:
            raise AttributeError(f"Sequential {self.name!r} is not built, so it has no output")
        return self._output_tensor

    @property
    def output_shape(self):
        if not self.built or not self._layers:
            raise AttributeError(f"Sequential {self.name!r} is not built, so it has no output "
                                 f"shape")
        return self.compute_output_shape(self.input_shape)

    @property
    def inputs(self):
        if self._input_layer is None:
            raise AttributeError(f"Sequential {self.name!r} is not built, so it has no inputs")
        return [self._input_layer.output]

    @property
    def outputs(self):
        return [self.output]

    def get_config(self):
        layers = [serialize_keras_object(layer) for layer in self._layers]
        if self._input_layer is not None:
            layers.insert(0, serialize_keras_object(self._input_layer))
        return {"name": self.name, "trainable": self.trainable,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": "float32"}, "registered_name": None},
                "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize_keras_object(entry, custom_objects), rebuild=False)
        model._maybe_build()
        return model
