"""Weight constraints, applied by the optimizer after each update
(`variable.assign(constraint(variable))`). They act on tensors through
pykern.ops (so on the variable's device) and return tensors; epsilon 1e-7 as
Keras."""
from pykern import ops
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        resolve_identifier, serialize_keras_object)

__all__ = ["Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm", "max_norm", "non_neg",
           "unit_norm", "min_max_norm", "get", "serialize", "deserialize"]

_EPS = 1e-7


def _array(w):
    return ops.cast(ops.convert_to_tensor(w), "float32")


def _norms(w, axis):
    return ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))


def _rescale(w, desired, norms):
    return ops.multiply(w, ops.divide(desired, ops.add(norms, _EPS)))


class Constraint:
    """Base class: subclasses implement __call__(w) -> constrained array."""

    _keras_module = "keras.constraints"

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescales slices along `axis` whose L2 norm exceeds max_value."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        return _rescale(w, ops.clip(norms, 0, self.max_value), norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zeroes negative entries."""

    def __call__(self, w):
        w = _array(w)
        return ops.multiply(w, ops.cast(ops.greater_equal(w, 0.0), "float32"))


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _array(w)
        return ops.divide(w, ops.add(_norms(w, self.axis), _EPS))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        desired = ops.add(ops.multiply(self.rate, ops.clip(norms, self.min_value,
                                                           self.max_value)),
                          ops.multiply(1 - self.rate, norms))
        return _rescale(w, desired, norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


for _cls in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm):
    register_builtin("keras.constraints", _cls)

max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm
_BY_NAME = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
            "min_max_norm": MinMaxNorm, "maxnorm": MaxNorm, "nonneg": NonNeg,
            "unitnorm": UnitNorm, "minmaxnorm": MinMaxNorm}


def serialize(constraint):
    return serialize_keras_object(constraint)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects)


def get(identifier, custom_objects=None):
    return resolve_identifier(identifier, "constraint", Constraint, _BY_NAME, custom_objects,
                              listed=[k for k in _BY_NAME if "_" in k])
