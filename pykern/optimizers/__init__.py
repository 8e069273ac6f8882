"""Optimizers with Keras 3's formulas and defaults; each step updates every
parameter in one native call (csrc/cpu/optim.cpp)."""
from pykern.optimizers import schedules
from pykern.optimizers.adagrad import Adadelta, Adagrad
from pykern.optimizers.adam import Adam, Adamax, AdamW, Nadam
from pykern.optimizers.base import Optimizer
from pykern.optimizers.rmsprop import RMSprop
from pykern.optimizers.sgd import SGD
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax",
           "Nadam", "schedules", "get", "serialize", "deserialize"]

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad,
            "adadelta": Adadelta, "adamax": Adamax, "nadam": Nadam}


def serialize(optimizer):
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    if isinstance(config, dict) and str(config.get("class_name", "")).lower() in _BY_NAME \
            and "module" not in config:
        cls = _BY_NAME[config["class_name"].lower()]
        return cls.from_config(config.get("config", {}))
    return deserialize_keras_object(config, custom_objects=custom_objects)


def get(identifier):
    """An Optimizer from an instance, a name ('adam', 'RMSprop', ...) or a config."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}; "
                             f"known names are {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
