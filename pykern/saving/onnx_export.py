"""ONNX export (opset 17) of Sequential and functional models: each layer (and
each op applied to symbolic tensors: arithmetic, element-wise functions,
reductions, softmax, transpose, pad) maps to a few standard ONNX operators, weights
become initializers, and the batch dimension stays symbolic. The convolution,
pooling and normalization layers map in onnx_conv.py; LSTM, GRU and SimpleRNN
(and RNN of their cells) map to ONNX's LSTM, GRU and RNN operators (gates
reordered, GRU's reset_after as linear_before_reset). A layer without a mapping
raises NotImplementedError naming it; nothing is silently approximated.

Inputs are named after the model's InputLayers, outputs `output_0`, ... (as
Keras' own ONNX export names them: pykern.saving.signature).
"""
import numpy as np

from pykern import activations as A
from pykern.saving.atomic import write_bytes_atomic
from pykern.saving.signature import input_specs, output_specs

__all__ = ["export_onnx", "OPSET"]

OPSET = 17
_IR_VERSION = 8  # the IR version that goes with opset 17; onnxruntime reads it


class _Graph:
    def __init__(self, helper, numpy_helper):
        self.h, self.nh = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self._count = 0
        self._transposes = {}  # output name -> (input name, perm) of each Transpose

    def fresh(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint="const", dtype=np.float32):
        name = self.fresh(hint)
        self.initializers.append(self.nh.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.fresh(hint or op_type.lower())
        self.nodes.append(self.h.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def transpose(self, x, perm):
        """x with its axes permuted; a Transpose that undoes the one that made x
        gives that one's input back, so a stack of channels-first ONNX ops keeps
        one Transpose before it and one after."""
        perm = [int(p) for p in perm]
        if perm == list(range(len(perm))):
            return x
        source = self._transposes.get(x)
        if source is not None and [source[1][p] for p in perm] == list(range(len(perm))):
            return source[0]
        out = self.op("Transpose", [x], perm=perm)
        self._transposes[out] = (x, perm)
        return out

    def prune(self, outputs):
        """Drops the nodes no output depends on (Transposes that were cancelled)."""
        needed, kept = set(outputs), []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(node.input)
        self.nodes = kept[::-1]
        self.initializers = [t for t in self.initializers if t.name in needed]


# --- activations ------------------------------------------------------------------------------
def _gelu(g, x, approximate=False):
    half = g.const(0.5)
    if approximate:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.op("Mul", [x, g.op("Mul", [x, x])])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const(np.sqrt(2 / np.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = g.op("Erf", [g.op("Div", [x, g.const(np.sqrt(2.0))])])
    return g.op("Mul", [g.op("Mul", [x, half]), g.op("Add", [t, g.const(1.0)])])


def _hard_sigmoid(g, x):  # Keras 3: relu6(x + 3) / 6
    return g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)


_ACTIVATIONS = {
    A.linear: lambda g, x: x,
    A.relu: lambda g, x: g.op("Relu", [x]),
    A.relu6: lambda g, x: g.op("Clip", [x, g.const(0.0), g.const(6.0)]),
    A.leaky_relu: lambda g, x: g.op("LeakyRelu", [x], alpha=0.2),
    A.elu: lambda g, x: g.op("Elu", [x], alpha=1.0),
    A.selu: lambda g, x: g.op("Selu", [x], alpha=1.6732632423543772,
                              gamma=1.0507009873554805),
    A.gelu: _gelu,
    A.sigmoid: lambda g, x: g.op("Sigmoid", [x]),
    A.hard_sigmoid: _hard_sigmoid,
    A.hard_silu: lambda g, x: g.op("Mul", [x, _hard_sigmoid(g, x)]),
    A.tanh: lambda g, x: g.op("Tanh", [x]),
    A.softmax: lambda g, x: g.op("Softmax", [x], axis=-1),
    A.log_softmax: lambda g, x: g.op("LogSoftmax", [x], axis=-1),
    A.softplus: lambda g, x: g.op("Softplus", [x]),
    A.softsign: lambda g, x: g.op("Softsign", [x]),
    A.silu: lambda g, x: g.op("Mul", [x, g.op("Sigmoid", [x])]),
    A.exponential: lambda g, x: g.op("Exp", [x]),
    A.mish: lambda g, x: g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])]),
}


def _activation(g, fn, x, where):
    emit = _ACTIVATIONS.get(fn)
    if emit is None:
        raise NotImplementedError(f"export: {where} uses activation {fn!r}, which has no ONNX "
                                  f"mapping")
    return emit(g, x)


# --- layers -----------------------------------------------------------------------------------
def _dense(g, layer, x):
    y = g.op("MatMul", [x, g.const(layer.kernel.numpy(), f"{layer.name}_kernel")])
    if layer.bias is not None:
        y = g.op("Add", [y, g.const(layer.bias.numpy(), f"{layer.name}_bias")])
    return _activation(g, layer.activation, y, f"Dense {layer.name!r}")


def _relu_layer(g, layer, x):
    if layer.negative_slope == 0 and layer.threshold == 0:
        y = g.op("Relu", [x])
    else:
        below = g.op("Mul", [g.op("Sub", [x, g.const(layer.threshold)]),
                             g.const(layer.negative_slope)])
        keep = g.op("GreaterOrEqual", [x, g.const(layer.threshold)])
        y = g.op("Where", [keep, x, below])
    if layer.max_value is not None:
        y = g.op("Min", [y, g.const(layer.max_value)])
    return y


def _softmax_layer(g, layer, x):
    if isinstance(layer.axis, int):
        return g.op("Softmax", [x], axis=layer.axis)
    axes = g.const(list(layer.axis), "axes", np.int64)
    shifted = g.op("Sub", [x, g.op("ReduceMax", [x], axes=list(layer.axis), keepdims=1)])
    e = g.op("Exp", [shifted])
    return g.op("Div", [e, g.op("ReduceSum", [e, axes], keepdims=1)])


def _flatten(g, layer, x, rank):
    if layer.data_format == "channels_first" and rank > 2:
        x = g.op("Transpose", [x], perm=[0, *range(2, rank), 1])
    return g.op("Flatten", [x], axis=1)


def _reshape(g, layer, x):
    shape = g.const([0, *layer.target_shape], "shape", np.int64)  # 0 copies the batch size
    return g.op("Reshape", [x, shape])


def _repeat_vector(g, layer, x):
    x = g.op("Unsqueeze", [x, g.const([1], "axes", np.int64)])
    return g.op("Tile", [x, g.const([1, layer.n, 1], "repeats", np.int64)])


def _align(g, xs, ranks):
    """Keras' element-wise merges pad lower-rank inputs with 1s after the batch dim."""
    top = max(ranks)
    out = []
    for x, r in zip(xs, ranks):
        if r < top:
            x = g.op("Unsqueeze", [x, g.const(list(range(1, 1 + top - r)), "axes", np.int64)])
        out.append(x)
    return out


def _chain(g, op_type, xs):
    y = xs[0]
    for x in xs[1:]:
        y = g.op(op_type, [y, x])
    return y


def _l2_normalize(g, x, axes, floor=1e-14):
    """x / sqrt(max(sum(x^2 over axes), floor)): with a floor, unlike LpNormalization, so
    an all-zero slice gives 0 rather than NaN."""
    sq = g.op("ReduceSum", [g.op("Mul", [x, x]), g.const(list(axes), "axes", np.int64)],
              keepdims=1)
    return g.op("Div", [x, g.op("Sqrt", [g.op("Max", [sq, g.const(floor)])])])


def _dot(g, layer, xs, shapes):
    (x, y), (s1, s2) = xs, shapes
    a1, a2 = layer._resolve_axes((s1, s2))
    if any(d is None for d in s1[1:] + s2[1:]):
        raise NotImplementedError(f"export: Dot {layer.name!r} needs static non-batch dims, "
                                  f"got {s1} and {s2}")
    if layer.normalize:
        x, y = _l2_normalize(g, x, [a1]), _l2_normalize(g, y, [a2])
    # as the layer: x -> (B, Rx, K), y -> (B, K, Ry), one MatMul, back to (B, *rest)
    xt = g.op("Transpose", [x], perm=[i for i in range(len(s1)) if i != a1] + [a1])
    yt = g.op("Transpose", [y], perm=[0, a2] + [i for i in range(1, len(s2)) if i != a2])
    k = s1[a1]
    xr = g.op("Reshape", [xt, g.const([0, -1, k], "shape", np.int64)])
    yr = g.op("Reshape", [yt, g.const([0, k, -1], "shape", np.int64)])
    z = g.op("MatMul", [xr, yr])
    rest = [d for i, d in enumerate(s1) if i not in (0, a1)] + \
        [d for i, d in enumerate(s2) if i not in (0, a2)]
    return g.op("Reshape", [z, g.const([0, *(rest or [1])], "shape", np.int64)])


def _zero_padding(g, layer, x):
    pairs = layer._per_axis(layer._pads, (0, 0))
    pads = [a for a, _ in pairs] + [b for _, b in pairs]  # ONNX: all befores, then afters
    return g.op("Pad", [x, g.const(pads, "pads", np.int64)], mode="constant")


def _cropping(g, layer, x):
    starts = [a for a, _ in layer._crops]
    ends = [-b if b else np.iinfo(np.int64).max for _, b in layer._crops]
    return g.op("Slice", [x, g.const(starts, "starts", np.int64),
                          g.const(ends, "ends", np.int64),
                          g.const(list(layer._spatial_axes()), "axes", np.int64)])


def _upsampling(g, layer, x):
    scales = g.const([float(f) for f in layer._per_axis(layer._factors, 1)], "scales")
    if getattr(layer, "interpolation", "nearest") == "nearest":
        # source floor(o / f): each element repeated f times, as the layer's repeats
        return g.op("Resize", [x, "", scales], mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    # source (o + 0.5) / f - 0.5 clamped to the edges: TF's half-pixel bilinear rule
    return g.op("Resize", [x, "", scales], mode="linear",
                coordinate_transformation_mode="half_pixel")


_GLOBAL_POOLING = {f"Global{kind}Pooling{n}D": op for kind, op in
                   (("Average", "ReduceMean"), ("Max", "ReduceMax")) for n in (1, 2, 3)}


# --- recurrent layers: ONNX's LSTM / GRU / RNN operators ---------------------------------------
# Keras gate blocks along the G*U axis -> ONNX's: LSTM i,f,c,o -> i,o,f,c; GRU z,r,h as is
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2], "RNN": [0]}
# Keras activation -> (ONNX recurrent activation name, alpha, beta)
_RNN_ACTIVATIONS = {A.sigmoid: ("Sigmoid", None, None), A.tanh: ("Tanh", None, None),
                    A.relu: ("Relu", None, None), A.hard_sigmoid: ("HardSigmoid", 1 / 6, 0.5),
                    A.elu: ("Elu", 1.0, None), A.softsign: ("Softsign", None, None),
                    A.softplus: ("Softplus", None, None), A.linear: ("Affine", 1.0, 0.0)}


def _onnx_kind(layer):
    from pykern.layers.recurrent import GRUCell, LSTMCell, SimpleRNNCell
    for cell, kind in ((LSTMCell, "LSTM"), (GRUCell, "GRU"), (SimpleRNNCell, "RNN")):
        if type(layer.cell) is cell:
            return kind
    return None


def _gate_blocks(w, kind, units):
    """(..., G*U) Keras weights with their gate blocks in ONNX's order."""
    blocks = [w[..., i * units:(i + 1) * units] for i in _GATE_ORDER[kind]]
    return np.concatenate(blocks, axis=-1)


def _recurrent(g, layer, x):
    """ONNX's recurrent operator for one Keras recurrent layer on x (B, T, F):
    (outputs (B, T, U) in input time order, final h (B, U), final c or None)."""
    kind, where = _onnx_kind(layer), f"{type(layer).__name__} {layer.name!r}"
    cell = layer.cell
    if kind is None:
        raise NotImplementedError(f"export: {where} runs a cell ({type(cell).__name__}) "
                                  f"that ONNX's LSTM/GRU/RNN operators do not describe")
    if layer.stateful:
        raise NotImplementedError(f"export: {where} is stateful (its carried states do not "
                                  f"map to ONNX)")
    acts = [cell.activation] if kind == "RNN" else [cell.recurrent_activation] + \
        [cell.activation] * (2 if kind == "LSTM" else 1)
    names, alphas, betas = [], [], []
    for fn in acts:
        if fn not in _RNN_ACTIVATIONS:
            raise NotImplementedError(f"export: {where} uses activation {fn!r}, which ONNX's "
                                      f"{kind} operator does not offer")
        name, alpha, beta = _RNN_ACTIVATIONS[fn]
        names.append(name)
        # only the functions that take an alpha (beta) consume one, in order (onnxruntime)
        alphas += [] if alpha is None else [alpha]
        betas += [] if beta is None else [beta]
    u = cell.units
    w = _gate_blocks(cell.kernel.numpy(), kind, u).T[None]
    r = _gate_blocks(cell.recurrent_kernel.numpy(), kind, u).T[None]
    inputs = [g.op("Transpose", [x], perm=[1, 0, 2]), g.const(w, f"{layer.name}_W"),
              g.const(r, f"{layer.name}_R")]
    if cell.bias is not None:
        b = cell.bias.numpy()
        rows = b if b.ndim == 2 else np.stack([b, np.zeros_like(b)])  # input, recurrent bias
        inputs.append(g.const(_gate_blocks(rows, kind, u).reshape(1, -1), f"{layer.name}_B"))
    outs = [g.fresh(f"{layer.name}_{n}") for n in (("Y", "Y_h", "Y_c") if kind == "LSTM"
                                                    else ("Y", "Y_h"))]
    attrs = dict(hidden_size=u, direction="reverse" if layer.go_backwards else "forward",
                 activations=names)
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    if kind == "GRU":
        attrs["linear_before_reset"] = int(cell.reset_after)
    g.nodes.append(g.h.make_node(kind, inputs, outs, **attrs))
    axis0 = g.const([0], "axes", np.int64)
    # Y (T, 1, B, U) -> (B, T, U); Y_h, Y_c (1, B, U) -> (B, U)
    seq = g.op("Transpose", [g.op("Squeeze", [outs[0], g.const([1], "axes", np.int64)])],
               perm=[1, 0, 2])
    return seq, g.op("Squeeze", [outs[1], axis0]), \
        (g.op("Squeeze", [outs[2], axis0]) if kind == "LSTM" else None)


def _flip_time(g, seq):
    return g.op("Slice", [seq, g.const([-1], "starts", np.int64),
                          g.const([-(2 ** 62)], "ends", np.int64), g.const([1], "axes", np.int64),
                          g.const([-1], "steps", np.int64)])


def _recurrent_layer(g, layer, x):
    seq, h, c = _recurrent(g, layer, x)
    if layer.return_sequences:
        # Keras returns go_backwards outputs in processing order, ONNX in time order
        out = _flip_time(g, seq) if layer.go_backwards else seq
    else:
        out = h
    if layer.return_state:
        return [out, h] + ([c] if c is not None else [])
    return out


def _bidirectional(g, layer, x):
    where = f"Bidirectional {layer.name!r}"
    if layer.return_state:
        raise NotImplementedError(f"export: {where} returns states; export it without "
                                  f"return_state")
    outs = []
    for sub in (layer.forward_layer, layer.backward_layer):
        seq, h, _ = _recurrent(g, sub, x)
        # with return_sequences Keras flips the backward outputs back to time order
        outs.append(seq if layer.return_sequences else h)
    y, y_rev = outs
    mode = layer.merge_mode
    if mode == "concat":
        return g.op("Concat", [y, y_rev], axis=-1)
    if mode == "sum":
        return g.op("Add", [y, y_rev])
    if mode == "mul":
        return g.op("Mul", [y, y_rev])
    if mode == "ave":
        return g.op("Div", [g.op("Add", [y, y_rev]), g.const(2.0)])
    return [y, y_rev]


def _embedding(g, layer, x):
    if layer.mask_zero:
        raise NotImplementedError(f"export: Embedding {layer.name!r} has mask_zero=True; ONNX "
                                  f"has no step masks for the layers after it")
    ids = g.op("Cast", [x], to=7)  # INT64: Keras casts ids to integers
    return g.op("Gather", [g.const(layer.embeddings.numpy(), f"{layer.name}_embeddings"), ids])


_MERGES = {"Add": "Sum", "Maximum": "Max", "Minimum": "Min"}
_IDENTITY = ("Dropout", "Identity", "ActivityRegularization", "InputLayer", "GaussianNoise",
             "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D",
             "SpatialDropout3D")
_SYMBOLIC = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "TrueDivide": "Div",
             "Power": "Pow", "Matmul": "MatMul"}


def _layer(g, layer, args, shapes):
    """ONNX for one call of `layer`: args are tensor names (a list for merges),
    shapes the matching Keras shapes. Returns the output name."""
    from pykern.layers.recurrent import RNN
    from pykern.models.model import Model
    kind = type(layer).__name__
    where = f"{kind} {layer.name!r}"
    if isinstance(layer, Model):
        return _model(g, layer, args if isinstance(args, list) else [args])
    if isinstance(args, list):
        ranks = [len(s) for s in shapes]
        if kind in _MERGES:
            return g.op(_MERGES[kind], _align(g, args, ranks))
        if kind == "Subtract":
            return g.op("Sub", _align(g, args, ranks))
        if kind == "Multiply":
            return _chain(g, "Mul", _align(g, args, ranks))
        if kind == "Average":
            total = g.op("Sum", _align(g, args, ranks))
            return g.op("Div", [total, g.const(float(len(args)))])
        if kind == "Concatenate":
            return g.op("Concat", args, axis=layer.axis)
        if kind == "Dot":
            return _dot(g, layer, args, shapes)
        raise NotImplementedError(f"export: {where} has no ONNX mapping for list inputs")
    x = args
    if kind in _IDENTITY:
        return g.op("Identity", [x])
    if kind == "Dense":
        return _dense(g, layer, x)
    if kind == "Activation":
        return _activation(g, layer.activation, x, where)
    if kind == "ReLU":
        return _relu_layer(g, layer, x)
    if kind == "LeakyReLU":
        return g.op("LeakyRelu", [x], alpha=float(layer.negative_slope))
    if kind == "ELU":
        return g.op("Elu", [x], alpha=float(layer.alpha))
    if kind == "Softmax":
        return _softmax_layer(g, layer, x)
    if kind == "PReLU":
        return g.op("PRelu", [x, g.const(layer.alpha.numpy(), f"{layer.name}_alpha")])
    if kind == "Flatten":
        return _flatten(g, layer, x, len(shapes))
    if kind == "Reshape":
        return _reshape(g, layer, x)
    if kind == "Permute":
        return g.op("Transpose", [x], perm=[0, *layer.dims])
    if kind == "RepeatVector":
        return _repeat_vector(g, layer, x)
    if isinstance(layer, RNN):
        return _recurrent_layer(g, layer, x)
    if kind == "Bidirectional":
        return _bidirectional(g, layer, x)
    if kind == "Embedding":
        return _embedding(g, layer, x)
    if kind == "TimeDistributed" and type(layer.layer).__name__ in ("Dense", "Activation"):
        return _layer(g, layer.layer, x, shapes)  # both act on the last axis of any rank
    if kind.startswith("ZeroPadding"):
        return _zero_padding(g, layer, x)
    if kind.startswith("Cropping"):
        return _cropping(g, layer, x)
    if kind.startswith("UpSampling"):
        return _upsampling(g, layer, x)
    if kind in _GLOBAL_POOLING:
        return g.op(_GLOBAL_POOLING[kind], [x], axes=list(layer._spatial_axes()),
                    keepdims=int(bool(layer.keepdims)))
    if kind == "UnitNormalization":
        axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
        return _l2_normalize(g, x, axes, floor=1e-24)  # Keras' epsilon 1e-12, squared
    from pykern.saving.onnx_conv import LAYERS
    emit = LAYERS.get(type(layer))
    if emit is not None:
        return emit(g, layer, x, tuple(shapes), where)
    raise NotImplementedError(f"export: {where} has no ONNX mapping (yet); layers that export "
                              f"are Dense, activations, Dropout, Flatten, Reshape, Permute, "
                              f"RepeatVector, merging layers, convolution, pooling and "
                              f"normalization layers, ZeroPadding, Cropping, UpSampling, "
                              f"SpatialDropout, global pooling, UnitNormalization, Embedding, "
                              f"LSTM, GRU, SimpleRNN, Bidirectional, TimeDistributed(Dense) "
                              f"and nested "
                              f"models")


_UNARY = {"Negative": "Neg", "Abs": "Abs", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt",
          "Floor": "Floor", "Sign": "Sign", "Reciprocal": "Reciprocal", "Round": "Round",
          "StopGradient": "Identity", "Linear": "Identity"}
_UNARY_ACTIVATIONS = {"Relu": A.relu, "Relu6": A.relu6, "Sigmoid": A.sigmoid, "Tanh": A.tanh,
                      "Softplus": A.softplus, "Softsign": A.softsign, "Selu": A.selu,
                      "Silu": A.silu, "HardSigmoid": A.hard_sigmoid, "HardSilu": A.hard_silu,
                      "Exponential": A.exponential}
_BINARY = dict(_SYMBOLIC, Maximum="Max", Minimum="Min")
_REDUCE = {"Sum": "ReduceSum", "Mean": "ReduceMean", "Max": "ReduceMax", "Min": "ReduceMin"}


def _reduce(g, op_name, x, rank, axis=None, keepdims=False):
    axes = list(range(rank)) if axis is None else \
        [int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if op_name == "ReduceSum":  # opset 13+: axes is an input for ReduceSum only
        return g.op(op_name, [x, g.const(axes, "axes", np.int64)], keepdims=int(keepdims))
    return g.op(op_name, [x], axes=axes, keepdims=int(keepdims))


def _pad(g, x, rank, pad_width, mode="constant", constant_values=0.0):
    from pykern.ops.shape import _pad_pairs
    pairs = _pad_pairs(pad_width, rank)
    pads = g.const([a for a, _ in pairs] + [b for _, b in pairs], "pads", np.int64)
    return g.op("Pad", [x, pads, g.const(float(constant_values), "value")], mode=mode)


def _symbolic(g, layer, args, shapes, kwargs):
    """A graph op (`x * 2`, `ops.exp(x)`, `ops.sum(x, axis=1)`, ...) as ONNX."""
    name, where = layer.op_name, f"the graph op {layer.op_name!r} ({layer.name!r})"
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    unary_ok = len(args) == 1 and not kwargs
    if name in _UNARY and unary_ok:
        return g.op(_UNARY[name], [args[0]])
    if name in _UNARY_ACTIVATIONS and unary_ok:
        return _activation(g, _UNARY_ACTIVATIONS[name], args[0], where)
    if name == "Square" and unary_ok:
        return g.op("Mul", [args[0], args[0]])
    if name in _BINARY and len(args) == 2 and not kwargs:
        return g.op(_BINARY[name], list(args))
    if name in _REDUCE and len(args) == 1 and set(kwargs) <= {"axis", "keepdims"}:
        return _reduce(g, _REDUCE[name], args[0], len(shapes[0]), **kwargs)
    if name in ("Softmax", "LogSoftmax") and len(args) == 1 and set(kwargs) <= {"axis"}:
        axis = kwargs.get("axis", -1)
        if isinstance(axis, int):
            return g.op(name, [args[0]], axis=axis)
    if name == "Pad" and len(args) == 1 and kwargs.get("mode", "constant") == "constant":
        return _pad(g, args[0], len(shapes[0]), **kwargs)
    if name == "Transpose" and len(args) == 1 and set(kwargs) <= {"axes"}:
        perm = kwargs.get("axes")
        return g.op("Transpose", [args[0]], **({"perm": list(perm)} if perm else {}))
    raise NotImplementedError(f"export: {where} has no ONNX mapping for arguments "
                              f"{len(args)} and keyword arguments {sorted(kwargs)}")


def _op_arguments(op_name, args, kwargs):
    """(operands, options) of a graph op call: binary ops take two operands (either
    may be a constant), the others one; further positional arguments are options
    named by the op's signature (`ops.sum(x, 1)` is axis=1)."""
    import inspect
    from pykern.layers.op_layer import _OPS
    n = 2 if op_name in _BINARY else 1
    params = [p for p in inspect.signature(_OPS[op_name]).parameters][n:]
    options = dict(zip(params, args[n:]))
    options.update(kwargs)
    return list(args[:n]), options


def _value(g, v, cache):
    """An argument of a node call: a tensor's name, or a constant as an initializer."""
    from pykern.layers.layer import KerasTensor
    if isinstance(v, KerasTensor):
        return cache[id(v)]
    if isinstance(v, (int, float, np.ndarray, np.generic)):
        return g.const(np.asarray(v, np.float32))
    raise NotImplementedError(f"export: cannot export the constant argument {v!r}")


def _model(g, model, inputs):
    """Emits the nodes of a nested or top-level model; returns the output name(s)."""
    from pykern.layers.layer import KerasTensor, _flatten as flat
    from pykern.models.functional import Functional
    from pykern.models.sequential import Sequential
    if isinstance(model, Sequential):
        x, shape = inputs[0], model.input_shape
        for layer in model.layers:
            x = _layer(g, layer, x, shape)
            shape = layer.compute_output_shape(shape)
        return x
    if not isinstance(model, Functional):
        raise NotImplementedError(f"export: subclassed model {model.name!r} "
                                  f"({type(model).__name__}) cannot be exported: its call() is "
                                  f"Python code; build it as a Sequential or functional model")
    cache = {id(t): name for t, name in zip(model.inputs, inputs)}
    for node in model._plan:
        layer = node.layer
        if getattr(layer, "_is_operation", False):
            operands, options = _op_arguments(layer.op_name, node.args, node.kwargs)
            args = [_value(g, a, cache) for a in operands]
            shapes = [tuple(getattr(a, "shape", np.shape(a))) for a in operands]
            out = _symbolic(g, layer, args, shapes, options)
            for t in [t for t in flat(node.outputs) if isinstance(t, KerasTensor)]:
                cache[id(t)] = out
            continue
        set_kwargs = sorted(k for k, v in node.kwargs.items() if v is not None)
        if set_kwargs:  # Keras configs record mask=None on nested-model calls
            raise NotImplementedError(f"export: layer {node.layer.name!r} is called with "
                                      f"keyword arguments {set_kwargs}")
        if len(node.args) != 1:
            raise NotImplementedError(f"export: layer {layer.name!r} takes "
                                      f"{len(node.args)} positional inputs")
        arg = node.args[0]
        if isinstance(arg, (list, tuple)):
            args = [_value(g, a, cache) for a in arg]
            shapes = [a.shape for a in arg]
        else:
            args, shapes = _value(g, arg, cache), arg.shape
        out = _layer(g, layer, args, shapes)
        outs = out if isinstance(out, list) else [out]
        for t, name in zip([t for t in flat(node.outputs) if isinstance(t, KerasTensor)], outs):
            cache[id(t)] = name
    outs = [cache[id(t)] for t in model.outputs]
    return outs[0] if len(outs) == 1 else outs


def _value_info(helper, TensorProto, name, shape):
    dims = ["batch" if i == 0 else (f"{name}_dim{i}" if d is None else int(d))
            for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def build_onnx(model):
    """The onnx.ModelProto for `model` (checked)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from pykern.models.sequential import Sequential
    if not model.built:
        raise ValueError(f"export: model {model.name!r} is not built; call it on data or "
                         f"build it with an input shape first")
    g = _Graph(helper, numpy_helper)
    if not isinstance(model, Sequential) and not getattr(model, "inputs", None):
        _model(g, model, [])  # raises the subclassed-model message
    inputs = input_specs(model)
    outs = _model(g, model, [spec.name for spec in inputs])
    outs = outs if isinstance(outs, list) else [outs]
    graph_outputs = []
    for name, spec in zip(outs, output_specs(model)):
        g.nodes.append(helper.make_node("Identity", [name], [spec.name]))
        graph_outputs.append(_value_info(helper, TensorProto, spec.name, spec.shape))
    g.prune([o.name for o in graph_outputs])
    graph = helper.make_graph(
        g.nodes, model.name, [_value_info(helper, TensorProto, spec.name, spec.shape)
                              for spec in inputs],
        graph_outputs, initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pykern")
    proto.ir_version = _IR_VERSION
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model, filepath, verbose=None, input_signature=None, opset_version=None):
    """Writes `model` as an ONNX file (atomically); returns the path."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError("export(format='onnx') needs the onnx package: pip install "
                          "'pykern[onnx]'") from None
    if input_signature is not None:
        raise NotImplementedError("export: input_signature is not supported; the model's "
                                  "own input shapes are used (batch dimension symbolic)")
    if opset_version not in (None, OPSET):
        raise ValueError(f"export: pykern writes opset {OPSET}, got opset_version="
                         f"{opset_version}")
    proto = build_onnx(model)
    write_bytes_atomic(filepath, proto.SerializeToString())
    if verbose:
        print(f"Saved ONNX model to {filepath}")
    return filepath
