"""Listing a folder of samples for image_ and text_dataset_from_directory: file paths,
labels and class names, shuffled and split exactly as Keras does (Keras' order of
files, np.random.RandomState(seed) shuffles, the validation subset taken last)."""
import os

import numpy as np

__all__ = ["check_arguments", "index_directory", "split_subset", "encode_labels"]


def check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed,
                    what):
    """Keras' argument checks; returns (labels, label_mode) with None for both when
    either is None."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"`labels` argument should be a list/tuple of integer labels, of "
                             f"the same size as the number of {what} files in the target "
                             f"directory. If you wish to infer the labels from the "
                             f"subdirectory names in the target directory, pass "
                             f'`labels="inferred"`. If you wish to get a dataset that only '
                             f"contains {what}s (no labels), pass `labels=None`. Received: "
                             f"labels={labels}")
        if class_names:
            raise ValueError(f'You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f'`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide "
                         "a `seed` argument, to make sure that there is no overlap between "
                         "the training and validation subset.")
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def _files(directory, follow_links, formats):
    """Paths relative to `directory`'s parent, in Keras' order: folders sorted by
    path, files sorted by name within each."""
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda w: w[0])
    base = os.path.basename(directory)
    return [os.path.join(base, os.path.relpath(os.path.join(root, f), directory))
            for root, _, files in walk for f in sorted(files) if f.lower().endswith(formats)]


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """(file_paths, labels int32 array or None, class_names) as Keras' index_directory:
    with labels='inferred' one class per subfolder (sorted, or class_names' order);
    otherwise every matching file under `directory` and the labels given."""
    if not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} does not exist or is not a folder")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"The `class_names` passed did not match the names of the "
                                 f"subdirectories of the target directory {directory}. "
                                 f"Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        subdirs = [""]
    files, label_list = [], []
    for index, sub in enumerate(subdirs):
        found = _files(os.path.join(directory, sub), follow_links, formats)
        files += found
        label_list += [index] * len(found)
    if labels == "inferred":
        names, labels = subdirs, np.asarray(label_list, np.int32)
    elif labels is None:
        names = None
    else:
        if len(labels) != len(files):
            raise ValueError(f"Expected the lengths of `labels` to match the number of files in "
                             f"the target directory. len(labels) is {len(labels)} while we "
                             f"found {len(files)} files in directory {directory}.")
        names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        print(f"Found {len(files)} files." if labels is None else
              f"Found {len(files)} files belonging to {len(names)} classes.")
    paths = [os.path.join(directory, f) for f in files]
    if shuffle:
        seed = np.random.randint(1_000_000) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, names


def split_subset(paths, labels, validation_split, subset):
    """The 'training' (all but the last int(split * n)) or 'validation' (those) part."""
    if not validation_split:
        return paths, labels
    num_val = int(validation_split * len(paths))
    if subset == "training":
        print(f"Using {len(paths) - num_val} files for training.")
        cut = slice(None, len(paths) - num_val)
    else:
        print(f"Using {num_val} files for validation.")
        cut = slice(len(paths) - num_val, None)
    return paths[cut], None if labels is None else labels[cut]


def encode_labels(labels, label_mode, num_classes, directory):
    """int32 labels (n,), float32 binary labels (n, 1) or float32 one-hot rows."""
    if label_mode is None:
        return None
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"labels for {directory} must be integers, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= max(num_classes, 1) or
                        (label_mode == "binary" and labels.max() > 1)):
        raise ValueError(f"labels for {directory} must lie in [0, {num_classes}) (the number "
                         f"of classes), got values in [{labels.min()}, {labels.max()}]")
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels]
    return labels.astype(np.int32)
