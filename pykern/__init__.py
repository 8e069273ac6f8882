"""pykern: the Keras API on native C++/CUDA kernels."""
from pykern import _cpu
from pykern.backend import config
from pykern import backend
from pykern import ops
from pykern.backend import GradientTape, Variable, Tensor, no_grad

__version__ = "0.1.0"

__all__ = ["config", "ops", "backend", "GradientTape", "Variable", "Tensor", "no_grad",
           "__version__"]
