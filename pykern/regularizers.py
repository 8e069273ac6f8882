"""Weight penalties. A layer's `losses` holds regularizer(weight) for each of its
trainable weights; the training loss adds them (Keras: L2(0.01) adds
0.01 * sum(w**2), no 1/2)."""
import numpy as np

from pykern import ops
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        resolve_identifier, serialize_keras_object)

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize",
           "deserialize"]


def _check(name, value):
    value = float(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


class Regularizer:
    """Base class: subclasses implement __call__(weight) -> scalar Tensor."""

    _keras_module = "keras.regularizers"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check("l1", l1)
        self.l2 = _check("l2", l2)

    def __call__(self, x):
        penalty = None
        if self.l1:
            penalty = ops.multiply(self.l1, ops.sum(ops.abs(x)))
        if self.l2:
            term = ops.multiply(self.l2, ops.sum(ops.square(x)))
            penalty = term if penalty is None else ops.add(penalty, term)
        return penalty if penalty is not None else ops.convert_to_tensor(0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        # Keras holds L1's factor in a float32 tensor, so its config shows 0.30000001...
        return {"l1": float(np.float32(self.l1))}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


for _cls in (L1L2, L1, L2):
    register_builtin("keras.regularizers", _cls)


# Keras 3 exports the classes under these names too (so l1_l2() has zero factors)
l1, l2, l1_l2 = L1, L2, L1L2
_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2}


def serialize(regularizer):
    return serialize_keras_object(regularizer)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects)


def get(identifier, custom_objects=None):
    return resolve_identifier(identifier, "regularizer", Regularizer, _BY_NAME, custom_objects)
