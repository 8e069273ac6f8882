"""The CUDA side of the kernel tests: pykern._cuda and a CUDA kernel table for
device 0, next to the CPU table they are compared with, plus the helpers that
move test data and compare results.

PYKERN_TEST_FAKE_CUDA=1 binds them to the NumPy stand-in (fake_cuda.py) instead,
so the GPU tests' own logic (shapes, dtypes, expected errors) can be dry-run on a
machine without a GPU; tests of real device behaviour (memory, DLPack, launch
failures) are skipped then (`real_gpu_only`)."""
import os

import numpy as np
import pytest

from pykern.backend.devices.cpu import CpuKernels

FAKE = bool(os.environ.get("PYKERN_TEST_FAKE_CUDA"))
CPU = CpuKernels()

if FAKE:
    import fake_cuda as cuda
else:
    try:
        from pykern import _cuda as cuda
    except ImportError:
        cuda = None


def gpu_table():
    """The table of device 0; in a dry run, the stand-in's, also registered as 'cuda:0'."""
    if not FAKE:
        from pykern.backend.devices import cuda as module
        return module.CudaKernels(0)
    import sys
    sys.modules.setdefault("pykern._cuda", cuda)
    from pykern.backend import devices
    from pykern.backend.devices import cuda as module
    module._cuda, module.Array = cuda, cuda.Array
    table = cuda.kernels_class(module)(0)
    devices._devices["cuda:0"] = devices.Device("cuda", 0, table)
    return table


GPU = gpu_table() if cuda is not None and (FAKE or cuda.device_count() > 0) else None
real_gpu_only = pytest.mark.skipif(FAKE, reason="needs the real device, not the stand-in")


def dev(v):
    """Host data (and nested tuples/lists of it) as device Arrays."""
    if isinstance(v, np.ndarray):
        return cuda.to_device(v)
    if isinstance(v, tuple):
        return tuple(dev(x) for x in v)
    if isinstance(v, list):
        return [dev(x) for x in v]
    return v


def host(x):
    if isinstance(x, (tuple, list)):
        return type(x)(host(v) for v in x)
    return cuda.to_host(x)


def assert_same(got, want, rtol=0.0, atol=0.0, what=""):
    """got (device storage) equals want (CPU storage) in shape and dtype, and in value
    bitwise (rtol == atol == 0) or within rtol/atol; NaN matches NaN."""
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, rtol, atol, f"{what}[{i}]")
        return
    g, w = host(got), np.asarray(want)
    assert g.shape == w.shape, f"{what}: shape {g.shape} != {w.shape}"
    assert g.dtype == w.dtype, f"{what}: dtype {g.dtype} != {w.dtype}"
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(g, w, err_msg=what)
    else:
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def check(method, *args, rtol=0.0, atol=0.0, **kwargs):
    """The CUDA table's `method` on the device copies of args equals the CPU table's."""
    want = getattr(CPU, method)(*args, **kwargs)
    got = getattr(GPU, method)(*dev(args), **kwargs)
    shapes = tuple(getattr(a, "shape", type(a).__name__) for a in args)
    assert_same(got, want, rtol, atol, f"{method}{shapes}")
    return got


def rand(shape, seed=0, dtype=np.float32, low=-3.0, high=3.0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return np.asarray(rng.random(shape) > 0.5)
    if np.dtype(dtype).kind in "iu":
        return np.asarray(rng.integers(int(low), int(high) + 1, shape)).astype(dtype)
    return np.asarray(low + (high - low) * rng.random(shape)).astype(dtype)
