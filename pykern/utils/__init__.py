"""Utilities: seeding, to_categorical / normalize, Sequence and the input pipelines
(pad_sequences, timeseries / image / text datasets, split_dataset), get_file, the
serialization registry."""
from pykern.backend.random import set_random_seed
from pykern.utils.file_utils import get_file
from pykern.utils.image_dataset import image_dataset_from_directory
from pykern.utils.numerical import normalize, to_categorical
from pykern.utils.sequence import PyDataset, Sequence
from pykern.utils.sequence_utils import pad_sequences
from pykern.utils.serialization import (SafeModeScope, deserialize_keras_object,
                                        enable_unsafe_deserialization, get_registered_name,
                                        get_registered_object, register_keras_serializable,
                                        serialize_keras_object)
from pykern.utils.split_dataset import split_dataset
from pykern.utils.text_dataset import text_dataset_from_directory
from pykern.utils.timeseries import timeseries_dataset_from_array

__all__ = ["set_random_seed", "to_categorical", "normalize", "Sequence", "PyDataset",
           "pad_sequences", "timeseries_dataset_from_array", "split_dataset",
           "image_dataset_from_directory", "text_dataset_from_directory", "get_file",
           "register_keras_serializable", "get_registered_object",
           "get_registered_name", "serialize_keras_object", "deserialize_keras_object",
           "enable_unsafe_deserialization", "SafeModeScope"]
