"""get_file: Keras' cached downloader (keras.utils.get_file), on urllib.

A file is downloaded to a temporary name beside its target, checked against
its hash there, and only then renamed into place: an interrupted or corrupt
download never lands under the cached name. Archives are extracted the same
way (into a temporary folder, renamed when whole), with members that would land
outside the folder refused.
"""
import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import zipfile
from urllib.request import urlopen

from pykern.saving.atomic import atomic_path
from pykern.utils.progbar import Progbar

__all__ = ["get_file", "pykern_home", "keras_home", "hash_file", "validate_file",
           "extract_archive", "DownloadError"]

_CHUNK_BYTES = 1 << 16


class DownloadError(OSError):
    """A URL could not be fetched (offline, HTTP error, refused connection)."""


def pykern_home():
    """$PYKERN_HOME, else ~/.pykern: where pykern caches downloads."""
    return os.path.expanduser(os.environ.get("PYKERN_HOME") or os.path.join("~", ".pykern"))


def keras_home():
    """$KERAS_HOME, else ~/.keras: where Keras caches its downloads (read, never written)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def _hasher(algorithm, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and
                                 len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {algorithm!r}")


def hash_file(fpath, algorithm="sha256", chunk_size=_CHUNK_BYTES):
    """Hex digest of the file (algorithm 'sha256' or 'md5', or a hashlib object)."""
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_CHUNK_BYTES):
    """Whether the file's hash equals file_hash ('auto': sha256 for 64 hex digits, else md5)."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _inside(base, name):
    target = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([target, base]) == base


def _extract(archive_path, archive_format, directory):
    """Extracts into `directory` (which exists); True when the format matched."""
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    base = os.path.realpath(directory)
    for kind in formats:
        if kind == "tar" and tarfile.is_tarfile(archive_path):
            with tarfile.open(archive_path) as archive:
                # 'data' refuses absolute names, '..', links out of the folder and devices
                archive.extractall(base, filter="data")
            return True
        if kind == "zip" and zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                bad = [n for n in archive.namelist() if not _inside(base, n)]
                if bad:
                    raise ValueError(f"{archive_path}: archive members {bad[:3]} would be "
                                     f"written outside {directory}")
                archive.extractall(base)
            return True
        if kind not in ("tar", "zip"):
            raise ValueError(f"archive_format must be 'auto', 'tar', 'zip' or a list of them, "
                             f"got {archive_format!r}")
    return False


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar or zip archive to `path` whole or not at all (a temporary folder
    renamed into place); False when the file is no archive of the given format."""
    if archive_format is None:
        return False
    file_path, path = os.fspath(file_path), os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        if not _extract(file_path, archive_format, tmp):
            return False
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        os.replace(tmp, path)
        return True
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _download(origin, target, file_hash, hash_algorithm):
    """Streams origin into `target` through a temporary file, with a progress bar."""
    try:
        response = urlopen(origin)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"URL fetch failure on {origin}: {e.code} -- {e.msg}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"URL fetch failure on {origin}: "
                            f"{getattr(e, 'reason', e)}") from e
    with contextlib.closing(response), atomic_path(target) as tmp:
        size = response.headers.get("Content-Length") if response.headers else None
        bar = Progbar(int(size) if size else None)
        done = 0
        try:
            with open(tmp, "wb") as out:
                for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(done)
        except OSError as e:
            raise DownloadError(f"URL fetch failure on {origin}: the transfer broke off after "
                                f"{done} bytes ({e})") from e
        bar.update(done, finalize=True)
        if file_hash is not None and not validate_file(tmp, file_hash, hash_algorithm):
            raise ValueError(f"Incomplete or corrupted file downloaded from {origin}: its "
                             f"{_hasher(hash_algorithm, file_hash).name} hash does not match "
                             f"{file_hash}; nothing was written to {target}")


def _targets(fname, origin, datadir, extract, provided):
    """(download target, extraction folder or None), with Keras' names."""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin {origin!r}; pass "
                             f"`fname`")
    elif os.sep in fname or (os.altsep and os.altsep in fname):
        raise ValueError(f"fname must be a file name, not a path (got {fname!r}); use "
                         f"cache_dir / cache_subdir for the folder")
    if not extract:
        return os.path.join(datadir, fname), None
    if provided and "." in fname:
        return os.path.join(datadir, fname), os.path.join(datadir,
                                                          fname[:fname.find(".")] + "_extracted")
    return os.path.join(datadir, fname + "_archive"), os.path.join(datadir, fname)


def _writable_base(cache_dir):
    base = os.path.expanduser(cache_dir)
    with contextlib.suppress(OSError):
        os.makedirs(base, exist_ok=True)
    if os.access(base, os.W_OK):
        return base
    return os.path.join(tempfile.gettempdir(), ".pykern")


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False):
    """Path to the cached copy of `origin` (downloaded if absent, or if present but its
    hash differs from file_hash), as keras.utils.get_file; the cache is
    `cache_dir/cache_subdir` with cache_dir defaulting to pykern_home(). With
    extract (or untar) the archive is extracted and the folder's path returned."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(_writable_base(cache_dir or pykern_home()), cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    extract = extract or untar
    target, folder = _targets(os.fspath(fname) if fname else fname, origin, datadir,
                              extract, bool(fname))
    fetched = force_download or not os.path.exists(target) or (
        file_hash is not None and not validate_file(target, file_hash, hash_algorithm))
    if fetched:
        _download(origin, target, file_hash, hash_algorithm)
    if folder is None:
        return target
    if fetched or not os.path.isdir(folder):
        if not extract_archive(target, folder, "tar" if untar else archive_format):
            raise ValueError(f"{target} is not a {archive_format} archive; it could not be "
                             f"extracted")
    return folder
