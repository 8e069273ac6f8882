"""Utilities: seeding, to_categorical, Sequence, the serialization registry, plots
(plot_model, model_to_dot, plot_history: optional pydot/Graphviz/matplotlib)."""
from pykern.backend.random import set_random_seed
from pykern.utils.history_plot import plot_history
from pykern.utils.model_visualization import model_to_dot, plot_model
from pykern.utils.numerical import to_categorical
from pykern.utils.sequence import PyDataset, Sequence
from pykern.utils.serialization import (SafeModeScope, deserialize_keras_object,
                                        enable_unsafe_deserialization, get_registered_name,
                                        get_registered_object, register_keras_serializable,
                                        serialize_keras_object)

__all__ = ["set_random_seed", "to_categorical", "Sequence", "PyDataset",
           "register_keras_serializable", "get_registered_object",
           "get_registered_name", "serialize_keras_object", "deserialize_keras_object",
           "enable_unsafe_deserialization", "SafeModeScope", "plot_model", "model_to_dot",
           "plot_history"]
