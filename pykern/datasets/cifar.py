"""CIFAR batches: pickled dicts {b'data': uint8 (n, 3072), b'labels' | b'fine_labels' |
b'coarse_labels': [int]}, read from the extracted folder or straight from the
.tar.gz (no extraction) through the restricted unpickler."""
import io
import os
import tarfile

import numpy as np

from pykern.datasets import cache
from pykern.datasets.safe_load import load_pickle

__all__ = ["load_batch", "load_batches"]


def _decode(raw, label_key):
    d = load_pickle(io.BytesIO(raw), encoding="bytes")
    if not isinstance(d, dict):
        raise ValueError(f"a CIFAR batch is a dict, got {type(d).__name__}")
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    data, labels = d["data"], d[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or \
            data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"a CIFAR batch holds uint8 data (n, 3072) and n labels, got "
                         f"{getattr(data, 'dtype', type(data))} {np.shape(data)} and "
                         f"{len(labels)} labels")
    return data.reshape(len(data), 3, 32, 32), labels


def load_batch(fpath, label_key="labels"):
    """(data uint8 (n, 3, 32, 32), labels list) of one batch file, as Keras' load_batch."""
    with open(fpath, "rb") as f:
        return _decode(f.read(), label_key)


def _members(archive_path, folder, names):
    """{name: bytes} of folder/name for each name, in one pass over the archive."""
    wanted = {f"{folder}/{n}": n for n in names}
    found = {}
    with tarfile.open(archive_path, "r:*") as archive:
        for member in archive:
            if member.name in wanted and member.isfile():
                found[wanted[member.name]] = archive.extractfile(member).read()
    missing = [f"{folder}/{n}" for n in names if n not in found]
    if missing:
        raise KeyError(f"the archive lacks {missing}")
    return found


def load_batches(path, folder, names, label_key):
    """[(data, labels)] of the named batches, from `path`: the extracted folder (holding
    the batch files) or the archive (holding folder/<name>)."""
    if os.path.isdir(path):
        return [load_batch(os.path.join(path, n), label_key) for n in names]
    raw = _members(path, folder, names)
    return [_decode(raw[n], label_key) for n in names]


def candidates(folder, archive_names):
    """Cached copies to try, pykern's then Keras': extracted folders (Keras 3 extracts
    to <folder>-target/<folder>, Keras 2 to <folder>), then archives (hash-checked)."""
    out = []
    for home in cache.cache_dirs():
        out += [os.path.join(home, f"{folder}-target", folder), os.path.join(home, folder)]
        out += [(os.path.join(home, name), True) for name in archive_names]
    return out


def to_channels_last(x):
    """(n, 32, 32, 3), a view as Keras returns it (fit copies it once, contiguous)."""
    return x.transpose(0, 2, 3, 1)
