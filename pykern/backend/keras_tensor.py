"""KerasTensor: the symbolic tensor of functional models (a shape and the layer
call that produces it). It lives in the backend so that ops can recognise it."""

__all__ = ["KerasTensor"]


class KerasTensor:
    """A symbolic tensor: a shape with None for unknown dims, and the layer call
    (`_keras_history` = (layer, node_index, tensor_index)) that produces it."""

    __slots__ = ("shape", "dtype", "name", "_keras_history")
    __array_priority__ = 1000.0  # ndarray <op> KerasTensor builds a graph node instead

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = history

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self!r} is symbolic: it has no value until the model is called on "
                        f"data")
