"""text_dataset_from_directory: a folder of .txt files (one subfolder per class) as a
Sequence of (texts, labels) batches."""
import numpy as np

from pykern.utils import directory_index as index
from pykern.utils.file_sequence import FileSequence

__all__ = ["text_dataset_from_directory"]


def _reader(max_length):
    def read(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return text if max_length is None else text[:max_length]
    return read


def _strings(texts):
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


def text_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                class_names=None, batch_size=32, max_length=None, shuffle=True,
                                seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """A FileSequence of (texts, labels) batches (texts alone with labels or label_mode
    None) from the .txt files, as keras.utils.text_dataset_from_directory: texts are a
    1-d object array of str (UTF-8 decoded, cut to max_length characters; Keras' tf
    format gives bytes cut to max_length bytes), labels as image_dataset_from_directory
    gives them. Listing, shuffling and splitting are Keras' own. The Sequence has
    .class_names and .file_paths."""
    labels, label_mode = index.check_arguments(labels, label_mode, class_names,
                                               validation_split, subset, shuffle, seed, "text")
    seed = np.random.randint(1_000_000) if seed is None else seed
    paths, labels, class_names = index.index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")
    num_classes = len(class_names) if class_names else 0

    def subset_sequence(name, shuffled):
        files, subset_labels = index.split_subset(paths, labels, validation_split, name)
        if not files:
            kind = f"{name} text files" if subset == "both" else "text files"
            raise ValueError(f"No {kind} found in directory {directory}. Allowed format: .txt")
        return FileSequence(files, index.encode_labels(subset_labels, label_mode, num_classes,
                                                       directory),
                            class_names, batch_size, _reader(max_length), _strings, shuffled,
                            seed)

    if subset == "both":
        return [subset_sequence("training", shuffle), subset_sequence("validation", False)]
    return subset_sequence(subset, shuffle)
