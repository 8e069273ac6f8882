"""pykern: the Keras API on native C++/CUDA kernels."""
from pykern import _cpu
from pykern.backend import config
from pykern import backend
from pykern import ops
from pykern.backend import GradientTape, Tensor, Variable, no_grad
from pykern import activations, constraints, initializers, regularizers, utils
from pykern import layers
from pykern.layers import Input, InputLayer, Layer
from pykern import models
from pykern.models import Model, Sequential
from pykern import callbacks, losses, metrics, optimizers

__version__ = "0.1.0"

__all__ = ["config", "ops", "backend", "GradientTape", "Variable", "Tensor", "no_grad",
           "activations", "constraints", "initializers", "regularizers", "utils", "layers",
           "Input", "InputLayer", "Layer", "models", "Model", "Sequential", "callbacks",
           "losses", "metrics", "optimizers", "__version__"]
