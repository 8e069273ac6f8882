"""Input / InputLayer: the entry points of a functional graph."""
from pykern.layers.layer import KerasTensor, Layer, Node

__all__ = ["InputLayer", "Input", "KerasTensor"]


class InputLayer(Layer):
    """Holds the symbolic input of a model: shape excludes the batch dim;
    the config stores `batch_shape` = (batch_size, *shape). No weights."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if sparse or ragged:
            raise ValueError(f"InputLayer {self.name!r}: sparse and ragged inputs are not "
                             f"supported")
        if shape is not None and batch_shape is not None:
            raise ValueError(f"InputLayer {self.name!r}: pass shape or batch_shape, not both "
                             f"(got {shape} and {batch_shape})")
        if batch_shape is None:
            if shape is None:
                raise ValueError(f"InputLayer {self.name!r}: a shape or batch_shape is needed")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        for d in batch_shape:
            if d is not None and d < 0:
                raise ValueError(f"InputLayer {self.name!r}: negative dimension in shape "
                                 f"{batch_shape}")
        self.batch_shape = batch_shape
        self._dtype_name = dtype or "float32"
        self.optional = optional
        self.built = True
        tensor = KerasTensor(batch_shape, dtype=self._dtype_name, name=self.name)
        Node(self, (), {}, tensor)
        self._input_tensor = tensor

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self._dtype_name, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None):
    """A symbolic tensor for a functional model input; `shape` excludes the batch dim."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       batch_shape=batch_shape, name=name, input_tensor=tensor,
                       optional=optional, ragged=ragged)
    return layer.output
