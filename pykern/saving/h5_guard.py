"""Opening HDF5 files that may be corrupt without risking the process.

The HDF5 C library trusts a file's metadata: a few flipped bits in an object
header can make it read out of bounds and crash the interpreter (found by
fuzzing Keras .h5 files: a segfault inside `attrs.get`). So before a file is
read here, a forked child reads every group, attribute and dataset of it; if
the child dies of a signal (or hangs), the file is reported as corrupt and
never parsed in this process. Python-level errors in the child are ignored:
the parent then hits them again and reports them normally.

Without os.fork (Windows) the check is skipped.
"""
import faulthandler
import io
import os
import time

__all__ = ["open_h5", "check_in_child"]

_MIN_TIMEOUT_S = 30.0
_READ_BYTES_PER_S = 50e6  # a slow disk; the timeout grows with the file


def _read_everything(source):
    import h5py
    with h5py.File(source, "r") as f:
        objects = [f]
        f.visititems(lambda name, obj: objects.append(obj))
        for obj in objects:
            for key in obj.attrs:
                obj.attrs[key]
            if isinstance(obj, h5py.Dataset):
                obj[()]


def check_in_child(source, size_bytes):
    """Reads `source` (a path or bytes) fully in a forked child; raises
    ValueError if that crashes or does not finish."""
    if not hasattr(os, "fork"):
        return
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        faulthandler.disable()  # a crash here is the expected answer, not news for stderr
        try:
            _read_everything(io.BytesIO(source) if isinstance(source, bytes) else source)
        except BaseException:  # noqa: BLE001 - a Python error is the parent's to report
            pass
        os._exit(0)
    deadline = time.monotonic() + _MIN_TIMEOUT_S + size_bytes / _READ_BYTES_PER_S
    delay = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise ValueError("the HDF5 data could not be read in the time allowed (corrupt "
                             "metadata can make the HDF5 library loop)")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    if os.WIFSIGNALED(status):
        raise ValueError(f"the HDF5 data is corrupt: reading it crashed the HDF5 library "
                         f"(signal {os.WTERMSIG(status)}) in a check process")


def open_h5(source):
    """h5py.File for reading `source` (a path or bytes), checked first."""
    import h5py  # imported on first use: `import pykern` stays free of it (~80 ms)
    if isinstance(source, bytes):
        check_in_child(source, len(source))
        return h5py.File(io.BytesIO(source), "r")
    check_in_child(source, os.path.getsize(source))
    return h5py.File(source, "r")
