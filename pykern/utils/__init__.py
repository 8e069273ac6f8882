"""Utilities: seeding, the serialization registry."""
from pykern.backend.random import set_random_seed
from pykern.utils.serialization import (SafeModeScope, deserialize_keras_object,
                                        enable_unsafe_deserialization, get_registered_name,
                                        get_registered_object, register_keras_serializable,
                                        serialize_keras_object)

__all__ = ["set_random_seed", "register_keras_serializable", "get_registered_object",
           "get_registered_name", "serialize_keras_object", "deserialize_keras_object",
           "enable_unsafe_deserialization", "SafeModeScope"]
