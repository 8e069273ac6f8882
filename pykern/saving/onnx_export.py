"""ONNX export (opset 17) of Sequential and functional models: each layer (and
each op applied to symbolic tensors: arithmetic, element-wise functions,
reductions, softmax, transpose, pad) maps to a few standard ONNX operators, weights
become initializers, and the batch dimension stays symbolic. The convolution,
pooling and normalization layers map in onnx_conv.py, the recurrent layers in
onnx_recurrent.py (ONNX's LSTM, GRU and RNN operators, or a Scan over the cell's
step where there are masks). Keras' masks travel with the tensors as pykern's
layers hand them on: Embedding(mask_zero=True) and Masking make them, the
recurrent layers and GlobalAveragePooling1D use them, merges combine them; a
layer that would use a mask in a way the export does not write (Softmax with a
mask, a mask into a custom layer) is refused.
A layer without a mapping raises NotImplementedError naming it; nothing is
silently approximated.

Inputs are named after the model's InputLayers, outputs `output_0`, ... (as
Keras' own ONNX export names them: pykern.saving.signature).
"""
import itertools

import numpy as np

from pykern import activations as A
from pykern.saving.atomic import write_bytes_atomic
from pykern.saving.signature import input_specs, output_specs

__all__ = ["export_onnx", "OPSET"]

OPSET = 17
_IR_VERSION = 8  # the IR version that goes with opset 17; onnxruntime reads it


class _Graph:
    def __init__(self, helper, numpy_helper, counter=None):
        self.h, self.nh = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self._counter = counter or itertools.count(1)  # names unique across subgraphs too
        self._transposes = {}  # output name -> (input name, perm) of each Transpose
        self.masks = {}  # tensor name -> its Keras mask: a BOOL (B, T) tensor's name

    def fresh(self, hint):
        return f"{hint}_{next(self._counter)}"

    def subgraph(self):
        """An empty graph for a Scan body; its names never collide with this one's."""
        return _Graph(self.h, self.nh, self._counter)

    def graph(self, name, inputs, outputs):
        """This graph's nodes and constants as a GraphProto (a subgraph's body)."""
        return self.h.make_graph(self.nodes, name, inputs, outputs,
                                 initializer=self.initializers)

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


def _sparse_plus(g, x):  # 0 for x <= -1, (x + 1)^2 / 4 below 1, x from 1
    one = g.const(1.0)
    shifted = g.op("Add", [x, one])
    inner = g.op("Where", [g.op("Less", [x, one]),
                           g.op("Mul", [g.op("Mul", [shifted, shifted]), g.const(0.25)]), x])
    return g.op("Where", [g.op("LessOrEqual", [x, g.const(-1.0)]), g.const(0.0), inner])


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
    A.celu: lambda g, x: g.op("Celu", [x], alpha=1.0),
    A.hard_shrink: lambda g, x: g.op("Shrink", [x], bias=0.0, lambd=0.5),
    A.soft_shrink: lambda g, x: g.op("Shrink", [x], bias=0.5, lambd=0.5),
    A.hard_tanh: lambda g, x: g.op("Clip", [x, g.const(-1.0), g.const(1.0)]),
    A.log_sigmoid: lambda g, x: g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])]),
    A.sparse_plus: _sparse_plus,
    # 0.5 (x + 1) clipped to [0, 1]: the same three pieces
    A.sparse_sigmoid: lambda g, x: g.op("Clip", [g.op("Mul", [g.op("Add", [x, g.const(1.0)]),
                                                              g.const(0.5)]),
                                                 g.const(0.0), g.const(1.0)]),
    A.squareplus: lambda g, x: g.op("Mul", [g.op("Add", [x, g.op("Sqrt", [g.op(
        "Add", [g.op("Mul", [x, x]), g.const(4.0)])])]), g.const(0.5)]),
    A.tanh_shrink: lambda g, x: g.op("Sub", [x, g.op("Tanh", [x])]),
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


def _embedding(g, layer, x):
    ids = g.op("Cast", [x], to=7)  # INT64: Keras casts ids to integers
    out = g.op("Gather", [g.const(layer.embeddings.numpy(), f"{layer.name}_embeddings"), ids])
    if layer.mask_zero:  # the layer's mask: inputs != 0
        g.masks[out] = g.op("Not", [g.op("Equal", [x, g.const(0.0)])])
    return out


def _masking(g, layer, x):
    """Steps whose features all equal mask_value become zeros and masked."""
    differs = g.op("Cast", [g.op("Not", [g.op("Equal", [x, g.const(layer.mask_value)])])],
                   to=1)  # FLOAT: ReduceMax takes no booleans in opset 17
    keep = g.op("Cast", [g.op("ReduceMax", [differs], axes=[-1], keepdims=1)], to=9)  # BOOL
    out = g.op("Where", [keep, x, g.const(0.0)])
    g.masks[out] = g.op("Squeeze", [keep, g.const([-1], "axes", np.int64)])
    return out


def _masked_average_1d(g, layer, x, mask):
    """GlobalAveragePooling1D with a mask: the mean over the kept steps (0/0 = NaN for
    a fully masked sample, as Keras)."""
    steps = layer._spatial_axes()[0]
    keep = g.op("Unsqueeze", [mask, g.const([2 if steps == 1 else 1], "axes", np.int64)])
    axes = g.const([steps], "axes", np.int64)
    total = g.op("ReduceSum", [g.op("Where", [keep, x, g.const(0.0)]), axes],
                 keepdims=int(bool(layer.keepdims)))
    count = g.op("ReduceSum", [g.op("Cast", [keep], to=1), axes],
                 keepdims=int(bool(layer.keepdims)))
    return g.op("Div", [total, count])


def _time_distributed(g, layer, x, shape):
    """The wrapped layer on x (B, T, ...) folded to (B*T, ...), then unfolded."""
    dims = g.op("Shape", [x])

    def dims_from(start, end=None, of=dims):
        ends = [end] if end is not None else [np.iinfo(np.int64).max]
        return g.op("Slice", [of, g.const([start], "starts", np.int64),
                              g.const(ends, "ends", np.int64)])
    folded = g.op("Reshape", [x, g.op("Concat", [g.const([-1], "shape", np.int64),
                                                 dims_from(2)], axis=0)])
    y = _layer(g, layer.layer, folded, (None, *shape[2:]))
    if isinstance(y, list):
        raise NotImplementedError(f"export: TimeDistributed {layer.name!r} wraps a layer with "
                                  f"several outputs")
    return g.op("Reshape", [y, g.op("Concat", [dims_from(0, 2), dims_from(1, of=g.op(
        "Shape", [y]))], axis=0)])


def _rescaling(g, layer, x):
    x = g.op("Cast", [x], to=1)  # FLOAT, as the layer casts
    y = g.op("Mul", [x, g.const(np.asarray(layer.scale, np.float32), f"{layer.name}_scale")])
    return g.op("Add", [y, g.const(np.asarray(layer.offset, np.float32), f"{layer.name}_offset")])


def _normalization(g, layer, x):
    """(x - mean) / max(sqrt(variance), 1e-7), or its inverse, with the layer's own
    statistics broadcast as it broadcasts them."""
    from pykern.layers.preprocessing.image import _EPSILON
    if layer._consts is not None:
        mean, variance = layer._consts
    else:
        mean = np.reshape(layer.adapt_mean.numpy(), layer._broadcast)
        variance = np.reshape(layer.adapt_variance.numpy(), layer._broadcast)
    std = np.maximum(np.sqrt(np.asarray(variance, np.float32)), np.float32(_EPSILON))
    x = g.op("Cast", [x], to=1)
    mean = g.const(np.asarray(mean, np.float32), f"{layer.name}_mean")
    std = g.const(std, f"{layer.name}_std")
    if layer.invert:
        return g.op("Add", [mean, g.op("Mul", [x, std])])
    return g.op("Div", [g.op("Sub", [x, mean]), std])


def _resizing(g, layer, x, shape, where):
    """tf.image.resize without antialiasing: bilinear is ONNX's half-pixel linear
    Resize (sources clamped to the edges), nearest takes floor((o + 0.5) n / out)
    (tf_half_pixel_for_nn); the sizes are set, the batch and channels kept."""
    if layer.crop_to_aspect_ratio or layer.pad_to_aspect_ratio:
        raise NotImplementedError(f"export: {where} crops or pads to the aspect ratio; "
                                  f"only plain resizing exports")
    h_axis, w_axis = layer._hw_axes(len(shape))
    pieces = []
    for axis in range(len(shape)):
        if axis in (h_axis, w_axis):
            pieces.append(g.const([layer.height if axis == h_axis else layer.width], "size",
                                  np.int64))
        else:
            pieces.append(g.op("Slice", [g.op("Shape", [x]), g.const([axis], "starts", np.int64),
                                         g.const([axis + 1], "ends", np.int64)]))
    sizes = g.op("Concat", pieces, axis=0)
    x = g.op("Cast", [x], to=1)
    if layer.interpolation == "nearest":
        return g.op("Resize", [x, "", "", sizes], mode="nearest", nearest_mode="floor",
                    coordinate_transformation_mode="tf_half_pixel_for_nn")
    if layer.interpolation != "bilinear":
        raise NotImplementedError(f"export: {where} uses interpolation="
                                  f"{layer.interpolation!r}; bilinear and nearest export")
    return g.op("Resize", [x, "", "", sizes], mode="linear",
                coordinate_transformation_mode="half_pixel")


def _center_crop(g, layer, x, shape, where):
    """The central window, for inputs at least that large (smaller ones resize)."""
    h_axis, w_axis = layer._hw_axes(len(shape))
    h, w = shape[h_axis], shape[w_axis]
    if h is None or w is None or h < layer.height or w < layer.width:
        raise NotImplementedError(f"export: {where} needs inputs of a known size at least "
                                  f"({layer.height}, {layer.width}), got shape {shape}")
    starts = [(h - layer.height) // 2, (w - layer.width) // 2]
    return g.op("Slice", [g.op("Cast", [x], to=1), g.const(starts, "starts", np.int64),
                          g.const([starts[0] + layer.height, starts[1] + layer.width], "ends",
                                  np.int64),
                          g.const([h_axis, w_axis], "axes", np.int64)])


_MERGES = {"Add": "Sum", "Maximum": "Max", "Minimum": "Min"}
# inference leaves these unchanged (noise, dropout and augmentation act while training only)
_IDENTITY = ("Dropout", "Identity", "ActivityRegularization", "InputLayer", "GaussianNoise",
             "GaussianDropout", "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D",
             "SpatialDropout3D", "RandomFlip", "RandomRotation", "RandomZoom",
             "RandomTranslation", "RandomContrast", "RandomBrightness")
_SYMBOLIC = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "TrueDivide": "Div",
             "Power": "Pow", "Matmul": "MatMul"}


def _mask_aware():
    """Layer classes whose emitters read or make masks themselves."""
    from pykern.layers import (Bidirectional, Embedding, GlobalAveragePooling1D, Masking,
                               TimeDistributed)
    from pykern.layers.recurrent import RNN
    from pykern.models.model import Model
    return (RNN, Bidirectional, Embedding, Masking, GlobalAveragePooling1D, TimeDistributed,
            Model)


def _passes_mask(layer):
    """True for a layer that hands its input's mask on and computes what it would
    without one (pykern's Layer.__call__: the base compute_mask, no mask in call;
    BatchNormalization reads a mask while training only)."""
    from pykern.layers import BatchNormalization
    from pykern.layers.layer import Layer
    plain = type(layer).compute_mask is Layer.compute_mask and not layer._call_takes_mask
    return layer.supports_masking and (plain or isinstance(layer, BatchNormalization))


def _concatenate_mask(g, layer, args, masks):
    """Concatenate's mask (Keras' rule): each input's mask broadcast over its
    features (all True where it has none), joined along the axis, any() over the
    last axis."""
    parts = []
    for x, m in zip(args, masks):
        shape = g.op("Shape", [x])
        if m is None:
            parts.append(g.op("Expand", [g.const(1.0), shape]))
        else:
            m = g.op("Unsqueeze", [g.op("Cast", [m], to=1), g.const([-1], "axes", np.int64)])
            parts.append(g.op("Expand", [m, shape]))
    joined = g.op("Concat", parts, axis=layer.axis)
    return g.op("Cast", [g.op("ReduceMax", [joined], axes=[-1], keepdims=0)], to=9)  # BOOL


def _merge_mask(g, layer, args, masks, out):
    """The mask of a merge's output, as the merging layers compute it: the OR of the
    masks when every input has one (element-wise merges), Concatenate's rule, none
    after Dot."""
    from pykern.layers.merging import Concatenate, Dot, _Merge
    if isinstance(layer, Concatenate):
        g.masks[out] = _concatenate_mask(g, layer, args, masks)
    elif isinstance(layer, _Merge) and not isinstance(layer, Dot):
        if all(m is not None for m in masks):
            g.masks[out] = _chain(g, "Or", masks)
    elif not isinstance(layer, Dot):
        raise NotImplementedError(f"export: {type(layer).__name__} {layer.name!r} receives "
                                  f"masked inputs; the ONNX export does not combine their "
                                  f"masks")


def _layer(g, layer, args, shapes, explicit_masks=None):
    """ONNX for one call of `layer`: args are tensor names (a list for merges),
    shapes the matching Keras shapes. Returns the output name(s). Masks go with
    the tensors as pykern's Layer.__call__ hands them on (g.masks), unless the
    call names its mask (`explicit_masks`, as Keras 3 files record it)."""
    listed = isinstance(args, list)
    if explicit_masks is None:
        masks = [g.masks.get(a) for a in (args if listed else [args])]
    else:
        masks = explicit_masks if listed else [explicit_masks]
    if isinstance(layer, _mask_aware()):
        return _emit(g, layer, args, shapes, None if listed else masks[0])
    out = _emit(g, layer, args, shapes, None)
    if all(m is None for m in masks):
        return out
    if listed:
        _merge_mask(g, layer, args, masks, out)
    elif _passes_mask(layer):
        for name in out if isinstance(out, list) else [out]:
            g.masks[name] = masks[0]
    elif layer.supports_masking or layer._call_takes_mask:
        raise NotImplementedError(f"export: {type(layer).__name__} {layer.name!r} receives a "
                                  f"mask; the ONNX export carries masks into LSTM, GRU, "
                                  f"SimpleRNN, Bidirectional and GlobalAveragePooling1D, and "
                                  f"through layers that pass them on unchanged")
    return out


def _emit(g, layer, args, shapes, mask):
    """The ONNX nodes of one layer call; `mask` is the single input's mask, given to
    the layers of _mask_aware() only."""
    from pykern.layers.recurrent import RNN
    from pykern.models.model import Model
    from pykern.saving import onnx_recurrent
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
        return onnx_recurrent.recurrent_layer(g, layer, x, mask)
    if kind == "Bidirectional":
        return onnx_recurrent.bidirectional(g, layer, x, mask)
    if kind == "Embedding":
        return _embedding(g, layer, x)
    if kind == "Masking":
        return _masking(g, layer, x)
    if kind == "GlobalAveragePooling1D" and mask is not None:
        return _masked_average_1d(g, layer, x, mask)
    if kind == "TimeDistributed":
        if layer.layer._call_takes_mask or layer.layer._makes_masks:
            if mask is not None:
                raise NotImplementedError(f"export: {where} hands a mask to "
                                          f"{type(layer.layer).__name__}")
        if type(layer.layer).__name__ in ("Dense", "Activation"):
            y = _layer(g, layer.layer, x, shapes)  # both act on the last axis of any rank
        else:
            y = _time_distributed(g, layer, x, shapes)
        if mask is not None:
            g.masks[y] = mask
        return y
    if kind == "Rescaling":
        return _rescaling(g, layer, x)
    if kind == "Normalization":
        return _normalization(g, layer, x)
    if kind == "Resizing":
        return _resizing(g, layer, x, tuple(shapes), where)
    if kind == "CenterCrop":
        return _center_crop(g, layer, x, tuple(shapes), where)
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
                              f"SpatialDropout, global pooling, UnitNormalization, Rescaling, "
                              f"Normalization, Resizing, CenterCrop, the random augmentation "
                              f"layers (inactive in inference), Embedding, Masking, LSTM, GRU, "
                              f"SimpleRNN, Bidirectional, TimeDistributed and nested models")


_UNARY = {"Negative": "Neg", "Abs": "Abs", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt",
          "Floor": "Floor", "Sign": "Sign", "Reciprocal": "Reciprocal", "Round": "Round",
          "StopGradient": "Identity", "Linear": "Identity", "LogicalNot": "Not"}
_UNARY_ACTIVATIONS = {"Relu": A.relu, "Relu6": A.relu6, "Sigmoid": A.sigmoid, "Tanh": A.tanh,
                      "Softplus": A.softplus, "Softsign": A.softsign, "Selu": A.selu,
                      "Silu": A.silu, "HardSigmoid": A.hard_sigmoid, "HardSilu": A.hard_silu,
                      "Exponential": A.exponential}
# comparisons give BOOL tensors: the masks Keras 3 files record as graph ops (NotEqual)
_BINARY = dict(_SYMBOLIC, Maximum="Max", Minimum="Min", Equal="Equal", Greater="Greater",
               GreaterEqual="GreaterOrEqual", Less="Less", LessEqual="LessOrEqual",
               LogicalAnd="And", LogicalOr="Or", NotEqual="Equal")
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
        out = g.op(_BINARY[name], list(args))
        return g.op("Not", [out]) if name == "NotEqual" else out
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


def _explicit_masks(g, mask, cache):
    """A call's mask= argument as BOOL tensor names (a list for list inputs), or None."""
    if mask is None:
        return None
    if isinstance(mask, (list, tuple)):
        return [_explicit_masks(g, m, cache) for m in mask]
    return g.op("Cast", [_value(g, mask, cache)], to=9)  # BOOL, as the layers read masks


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
        kwargs = {k: v for k, v in node.kwargs.items() if v is not None}
        # Keras 3 files record a call's mask (mask=<the tensor of a NotEqual op>) and
        # training=False; an exported model only predicts
        mask = kwargs.pop("mask", None)
        if kwargs.get("training") is False:
            kwargs.pop("training")
        if kwargs:  # Keras configs record mask=None on nested-model calls
            raise NotImplementedError(f"export: layer {node.layer.name!r} is called with "
                                      f"keyword arguments {sorted(kwargs)}")
        if len(node.args) != 1:
            raise NotImplementedError(f"export: layer {layer.name!r} takes "
                                      f"{len(node.args)} positional inputs")
        arg = node.args[0]
        if isinstance(arg, (list, tuple)):
            args = [_value(g, a, cache) for a in arg]
            shapes = [a.shape for a in arg]
        else:
            args, shapes = _value(g, arg, cache), arg.shape
        out = _layer(g, layer, args, shapes, _explicit_masks(g, mask, cache))
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
