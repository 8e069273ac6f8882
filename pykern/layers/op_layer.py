"""Operations on symbolic tensors: `Dense(3)(x) * 2.0 + x[:, :3]` or
`ops.relu(x)` in a functional model. Each operator or op on a KerasTensor
becomes a weightless graph node named as Keras names its ops (multiply, add,
get_item, relu, ...); `model.layers` leaves them out, as Keras does, while
summaries and configs list them."""
from pykern import ops
from pykern.ops import elementwise
from pykern.ops.matmul import matmul
from pykern.ops.shape import getitem
from pykern.backend.state import to_snake_case, uniquify
from pykern.backend import devices
from pykern.layers.layer import (KerasTensor, Layer, Node, _flatten, _input_shapes, _map,
                                 _shapes_to_tensors, meta_tensors)

__all__ = ["SymbolicOp"]

# Keras op class name -> the plain pykern op (operators, then every op in pykern.ops)
_OPS = {"Add": elementwise.add, "Subtract": elementwise.subtract,
        "Multiply": elementwise.multiply, "TrueDivide": elementwise.divide,
        "Negative": elementwise.negative, "Power": elementwise.power,
        "Matmul": matmul, "GetItem": getitem}
_OPS.update({k: v for k, v in ops.symbolic_ops.items() if k not in _OPS})


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

    def call(self, *args, **kwargs):
        return _OPS[self.op_name](*args, **kwargs)

    def __call__(self, *args, **kwargs):
        fn = _OPS[self.op_name]
        if not any(isinstance(a, KerasTensor) for a in _flatten(list(args))):
            return fn(*args, **kwargs)
        def meta(a):
            return meta_tensors(a.shape) if isinstance(a, KerasTensor) else a
        try:
            with devices.trace():
                shapes = _input_shapes(fn(*[_map(meta, a) for a in args], **kwargs))
        except ValueError as e:  # quote the symbolic inputs
            inputs = [a.shape for a in _flatten(list(args)) if isinstance(a, KerasTensor)]
            raise ValueError(f"{self.name}: cannot apply {self.op_name} to symbolic inputs "
                             f"of shapes {inputs}: {e}") from None
        outputs = _shapes_to_tensors(shapes, self.name)
        Node(self, tuple(args), dict(kwargs), outputs)
        return outputs

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
