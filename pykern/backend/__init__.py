"""Tensors, variables, autograd and the runtime configuration."""
from pykern.backend import config

__all__ = ["config"]
