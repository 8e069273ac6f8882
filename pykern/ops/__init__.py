"""Differentiable operations."""
from pykern.ops.matmul import matmul

__all__ = ["matmul"]
