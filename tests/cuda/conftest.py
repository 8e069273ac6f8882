"""tests/cuda: tests marked `cuda` (the marker is registered in pyproject.toml) run
only where pykern._cuda is built and sees a GPU, and are skipped cleanly elsewhere.
Unmarked tests here run everywhere (import, device listing, argument checks, the
CUDA table on a NumPy stand-in)."""
import os
import pathlib

import pytest

try:
    from pykern import _cuda
except ImportError:
    _cuda = None

GPU = _cuda is not None and _cuda.device_count() > 0
WHY = ("pykern._cuda is not built" if _cuda is None else
       "no CUDA device is visible" if not GPU else "")


def pytest_collection_modifyitems(config, items):
    if GPU or os.environ.get("PYKERN_TEST_FAKE_CUDA"):  # gpu_table.py: a dry run on NumPy
        return
    here = pathlib.Path(__file__).parent
    skip = pytest.mark.skip(reason=WHY)
    for item in items:  # this hook sees the whole session's items: only ours are skipped
        if item.get_closest_marker("cuda") and here in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(skip)
