"""pykern: the Keras API on native C++/CUDA kernels."""
import os as _os

# Before _cpu loads libgomp, which reads this once. By default its idle workers
# spin for ~300k iterations after each parallel region and starve other thread
# pools: a NumPy (OpenBLAS) 256^3 matmul interleaved with ours took 4.6 ms for
# the pair instead of 0.4 ms. A short spin keeps back-to-back kernels as fast
# (175 us either way) and lets the cores go (0.65-0.85 ms for the pair). The
# user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY wins.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "10000")



def _keep_freed_memory():
    """glibc returns big freed blocks to the OS (mmap/trim), so every training step's
    fresh activations fault their pages in again: on the MNIST CNN, 93-100k page
    faults for 4 epochs of 512 samples, 15k with these settings (and predict ~1.2x
    faster). Freed memory is kept for reuse instead; the peak RSS is unchanged.
    Skipped when the user tunes malloc (MALLOC_* variables) or PYKERN_MALLOC_TUNING=0."""
    if _os.environ.get("PYKERN_MALLOC_TUNING") == "0" or any(
            k.startswith("MALLOC_") for k in _os.environ):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 512 << 20)
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 64 << 20)


_keep_freed_memory()

from pykern import _cpu  # noqa: E402
from pykern.backend import config
from pykern import backend
from pykern import ops
from pykern.backend import GradientTape, Tensor, Variable, no_grad
from pykern.backend.devices import device
from pykern import activations, constraints, initializers, regularizers, utils
from pykern import layers
from pykern.layers import Input, InputLayer, Layer
from pykern import models
from pykern.models import Model, Sequential
from pykern import callbacks, distribution, losses, metrics, optimizers
from pykern import applications, datasets, preprocessing

__version__ = "0.1.0"

__all__ = ["config", "ops", "backend", "GradientTape", "Variable", "Tensor", "no_grad", "device",
           "activations", "constraints", "initializers", "regularizers", "utils", "layers",
           "Input", "InputLayer", "Layer", "models", "Model", "Sequential", "callbacks",
           "losses", "metrics", "optimizers", "applications", "datasets", "preprocessing",
           "distribution",
           "__version__"]
