"""Operations on symbolic tensors: `Dense(3)(x) * 2.0 + x[:, :3]` in a functional
model. Each operator on a KerasTensor becomes a weightless graph node named as
Keras names its ops (multiply, add, get_item, ...); `model.layers` leaves them
out, as Keras does, while summaries and configs list them."""
import numpy as np

from pykern import ops
from pykern.backend.state import to_snake_case, uniquify
from pykern.backend.tensor import no_grad
from pykern.layers.layer import (KerasTensor, Layer, Node, _flatten, _input_shapes,
                                 _merge_probes)

__all__ = ["SymbolicOp"]

# Keras op class name -> pykern op
_OPS = {"Add": ops.add, "Subtract": ops.subtract, "Multiply": ops.multiply,
        "TrueDivide": ops.divide, "Negative": ops.negative, "Power": ops.power,
        "Matmul": ops.matmul, "GetItem": ops.getitem}


class SymbolicOp(Layer):
    """One pykern op recorded in a functional graph (no weights)."""

    _is_operation = True
    _keras_module = "keras.src.ops.numpy"

    def __init__(self, op_name, name=None, **kwargs):
        if op_name not in _OPS:
            raise ValueError(f"SymbolicOp: unknown op {op_name!r}; expected one of "
                             f"{sorted(_OPS)}")
        super().__init__(name=name or uniquify(to_snake_case(op_name)), **kwargs)
        self.op_name = op_name
        self._class_name = self._registered_name = op_name
        self.built = True

    def call(self, *args):
        return _OPS[self.op_name](*args)

    def __call__(self, *args, **kwargs):
        if not any(isinstance(a, KerasTensor) for a in _flatten(list(args))):
            return _OPS[self.op_name](*args)
        probes = []
        for fill in (2, 3):
            dummy = [np.zeros(tuple(fill if d is None else d for d in a.shape), np.float32)
                     if isinstance(a, KerasTensor) else a for a in args]
            with no_grad():
                probes.append(_input_shapes(_OPS[self.op_name](*dummy)))
        out = KerasTensor(_merge_probes(*probes), name=self.name)
        Node(self, tuple(args), {}, out)
        return out

    def get_config(self):
        return {"name": self.name}


def _register():
    """Each Keras op class name deserializes to a SymbolicOp of that op."""
    from pykern.utils.serialization import register_builtin
    for op_name in _OPS:
        def from_config(config, op_name=op_name):
            return SymbolicOp(op_name, name=config.get("name"))
        holder = type(op_name, (), {"from_config": staticmethod(from_config)})
        register_builtin("keras.src.ops.numpy", holder, bare=False)


def symbolic(op_name):
    def method(*args):
        return SymbolicOp(op_name)(*args)
    return method


def _reflected(op_name):
    def method(self, other):
        return SymbolicOp(op_name)(other, self)
    return method


def _attach():
    table = {"__add__": symbolic("Add"), "__radd__": _reflected("Add"),
             "__sub__": symbolic("Subtract"), "__rsub__": _reflected("Subtract"),
             "__mul__": symbolic("Multiply"), "__rmul__": _reflected("Multiply"),
             "__truediv__": symbolic("TrueDivide"), "__rtruediv__": _reflected("TrueDivide"),
             "__pow__": symbolic("Power"), "__rpow__": _reflected("Power"),
             "__matmul__": symbolic("Matmul"), "__rmatmul__": _reflected("Matmul"),
             "__neg__": symbolic("Negative"), "__getitem__": symbolic("GetItem")}
    for name, fn in table.items():
        setattr(KerasTensor, name, fn)


_attach()
_register()
