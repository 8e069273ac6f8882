"""Reading data set files without running code from them.

CIFAR's batches are pickles and IMDB/Reuters' .npz files hold object arrays
(pickled lists); a pickle may name any importable callable (os.system, ...)
and have it called while loading. RestrictedUnpickler resolves only the
globals NumPy array reconstruction needs and refuses every other one by name.
"""
import io
import pickle
import zipfile

import numpy as np

__all__ = ["RestrictedUnpickler", "load_pickle", "load_npz"]


def _multiarray():
    try:
        from numpy._core import multiarray  # NumPy >= 2
    except ImportError:  # pragma: no cover - NumPy 1.x
        from numpy.core import multiarray
    return multiarray


# Both spellings appear in files: numpy.core (written by NumPy 1.x and Python 2) and
# numpy._core (NumPy 2). Each resolves to the live object, without importing by name.
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray()._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray()._reconstruct,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler whose find_class returns only NumPy's array-reconstruction globals."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"Refusing to load the global {module}.{name} from a data set file: only "
                f"NumPy array reconstruction is allowed. The file may be corrupt or "
                f"malicious.") from None


def load_pickle(f, encoding="bytes"):
    """The object pickled in the binary file object f, through RestrictedUnpickler."""
    return RestrictedUnpickler(f, encoding=encoding).load()


def _load_npy(data):
    f = io.BytesIO(data)
    try:
        return np.lib.format.read_array(f, allow_pickle=False)
    except ValueError:  # an object array: its payload is a pickle
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy format version {version}") from None
        return load_pickle(f, encoding="ASCII")


def load_npz(path):
    """{name: array} of an .npz file, read whole; object arrays only through
    RestrictedUnpickler (np.load would need allow_pickle=True)."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                arrays[member[:-len(".npy")]] = _load_npy(archive.read(member))
    return arrays
