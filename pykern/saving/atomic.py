"""Atomic file writes: the bytes go to a temporary file beside the target,
are flushed to disk (fsync), and the temporary file is renamed over the
target. A crash at any moment leaves the old file or the new one, whole.
Directories (a SavedModel) are filled under a temporary name and renamed the
same way.

os.replace is atomic on POSIX and Windows when both names are on one file
system, which is why the temporary file lives in the target's directory.
"""
import contextlib
import os
import shutil
import tempfile

_UMASK = os.umask(0o022)
os.umask(_UMASK)

__all__ = ["atomic_path", "atomic_directory", "write_bytes_atomic"]


def _fsync_dir(directory):
    # the rename itself is durable only once the directory entry is flushed
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parent(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path!r}: directory {directory!r} does not "
                                f"exist")
    return directory


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s new contents to; on success the
    file is fsynced and renamed to `path`, on error it is removed."""
    path = os.fspath(path)
    directory = _parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


@contextlib.contextmanager
def atomic_directory(path):
    """Yields an empty temporary directory beside `path` to fill; on success its
    files are fsynced and it is renamed to `path`, on error it is removed. A
    directory already at `path` is renamed aside first and removed after, so the
    only moment without a whole directory at `path` is between two renames."""
    path = os.fspath(path)
    parent = _parent(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(f"Cannot save to {path!r}: it exists and is not a directory")
    base = os.path.basename(os.path.normpath(path))
    tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes it private (0700)
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                _fsync_file(os.path.join(root, name))
            _fsync_dir(root)
        if os.path.isdir(path):
            # rename() may replace an empty directory: the reserved name is one
            old = tempfile.mkdtemp(prefix=f".{base}.", suffix=".old", dir=parent)
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(parent)


def write_bytes_atomic(path, data):
    """Writes `data` (bytes) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
