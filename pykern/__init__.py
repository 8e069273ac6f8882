"""pykern: the Keras API on native C++/CUDA kernels."""
from pykern import _cpu
from pykern.backend import config
from pykern import ops

__version__ = "0.1.0"

__all__ = ["config", "ops", "__version__"]
