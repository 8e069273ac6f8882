"""Atomic file writes: the bytes go to a temporary file beside the target,
are flushed to disk (fsync), and the temporary file is renamed over the
target. A crash at any moment leaves the old file or the new one, whole.

os.replace is atomic on POSIX and Windows when both names are on one file
system, which is why the temporary file lives in the target's directory.
"""
import contextlib
import os
import tempfile

_UMASK = os.umask(0o022)
os.umask(_UMASK)

__all__ = ["atomic_path", "write_bytes_atomic"]


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


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path to write `path`'s new contents to; on success the
    file is fsynced and renamed to `path`, on error it is removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save to {path!r}: directory {directory!r} does not "
                                f"exist")
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


def write_bytes_atomic(path, data):
    """Writes `data` (bytes) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
