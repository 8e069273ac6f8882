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
from pykern import callbacks, losses, metrics, optimizers
from pykern import preprocessing

__version__ = "0.1.0"

__all__ = ["config", "ops", "backend", "GradientTape", "Variable", "Tensor", "no_grad", "device",
           "activations", "constraints", "initializers", "regularizers", "utils", "layers",
           "Input", "InputLayer", "Layer", "models", "Model", "Sequential", "callbacks",
           "losses", "metrics", "optimizers", "preprocessing", "__version__"]
