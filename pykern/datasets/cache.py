"""Finding a data set's files: pykern's cache, then Keras', then the network.

Each loader names its candidate files and a `parse` function that reads one
whole (and raises on a corrupt or truncated file). A cached file that parses is
used as it is; one that does not is reported and fetched again into pykern's
cache (Keras' folder is only read). Offline, the error names the file, where to
put it and the URL it comes from. Nothing is returned half-read: a loader's
value exists only once every file it needs has parsed.
"""
import gzip
import os
import pickle
import zipfile
import zlib

from pykern.utils import file_utils

__all__ = ["load", "cache_dirs", "CORRUPT_ERRORS"]

# what parsing a damaged file raises: bad zip/gzip/tar framing, a short read, a bad
# pickle (or a refused global), a missing member or key, a wrong size or layout
CORRUPT_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, TypeError,
                  zipfile.BadZipFile, zlib.error, gzip.BadGzipFile, pickle.UnpicklingError)


def cache_dirs(subdir="datasets"):
    """[pykern's folder, Keras' folder] for `subdir`, in lookup order."""
    return [os.path.join(file_utils.pykern_home(), subdir),
            os.path.join(file_utils.keras_home(), subdir)]


def _try(path, parse, problems):
    try:
        return True, parse(path)
    except CORRUPT_ERRORS as e:
        problems.append(f"{path} ({type(e).__name__}: {e})")
        return False, None


def load(fname, origin, parse, file_hash=None, subdir="datasets", cached=None):
    """parse(path) of the first cached copy that parses, else of a fresh download
    of `origin` saved as `fname` in pykern's cache.

    cached: candidate paths to try first (default: `fname` in pykern's folder, then
    in Keras'); a candidate that is an archive is only used when its hash matches
    file_hash, so pass archives as (path, True).
    """
    if cached is None:
        cached = [os.path.join(d, fname) for d in cache_dirs(subdir)]
    problems = []
    for entry in cached:
        path, check_hash = entry if isinstance(entry, tuple) else (entry, False)
        if not os.path.exists(path):
            continue
        if check_hash and file_hash and not file_utils.validate_file(path, file_hash):
            problems.append(f"{path} (its checksum does not match {file_hash})")
            continue
        ok, value = _try(path, parse, problems)
        if ok:
            return value
    home = os.path.join(file_utils.pykern_home(), subdir)
    target = os.path.join(home, fname)
    try:
        path = file_utils.get_file(fname, origin, file_hash=file_hash, cache_subdir=subdir,
                                   cache_dir=file_utils.pykern_home(), force_download=True)
    except (file_utils.DownloadError, ValueError) as e:
        found = ("The cached copies are damaged: " + "; ".join(problems) + ". ") \
            if problems else ""
        raise file_utils.DownloadError(
            f"Could not load {fname}. {found}Downloading it failed ({e}). Put a good copy "
            f"of {origin} at {target} (or in {cache_dirs(subdir)[1]}) and try again.") from e
    ok, value = _try(path, parse, problems)
    if not ok:
        raise ValueError(f"{fname} downloaded from {origin} could not be read: "
                         f"{problems[-1]}")
    return value
