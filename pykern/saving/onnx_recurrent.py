"""ONNX (opset 17) for the recurrent layers: LSTM, GRU, SimpleRNN (and RNN of
their cells), Bidirectional of them, with or without a mask.

Two forms, the same values:
- ONNX's LSTM / GRU / RNN operator where it describes the layer (no mask, and
  activations the operator offers): Keras' gate blocks reordered (LSTM i,f,c,o ->
  i,o,f,c), GRU's reset_after as linear_before_reset.
- Otherwise a Scan over the steps whose body is the cell's step in plain ONNX ops,
  after one MatMul that projects the inputs of all steps: any activation the
  exporter knows, and Keras' masks (backend.rnn): a masked step keeps the
  states and repeats the previous output (zeros with zero_output_for_mask), for
  any pattern of masked steps — not only the trailing padding that the
  operators' `sequence_lens` describes.

A mask is a boolean (B, T) tensor that the exporter carries beside the tensor it
belongs to (`_Graph.masks`); Embedding(mask_zero=True) and Masking make one.
"""
import numpy as np

from pykern import activations as A
from pykern.saving.onnx_export import _activation

__all__ = ["recurrent_layer", "bidirectional"]

# Keras gate blocks along the G*U axis -> ONNX's: LSTM i,f,c,o -> i,o,f,c; GRU z,r,h as is
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2], "RNN": [0]}
# Keras activation -> (ONNX recurrent activation name, alpha, beta)
_RNN_ACTIVATIONS = {A.sigmoid: ("Sigmoid", None, None), A.tanh: ("Tanh", None, None),
                    A.relu: ("Relu", None, None), A.hard_sigmoid: ("HardSigmoid", 1 / 6, 0.5),
                    A.elu: ("Elu", 1.0, None), A.softsign: ("Softsign", None, None),
                    A.softplus: ("Softplus", None, None), A.linear: ("Affine", 1.0, 0.0)}
_INT64 = np.int64


def _where(layer):
    return f"{type(layer).__name__} {layer.name!r}"


def _kind(layer):
    """"LSTM", "GRU" or "RNN" for a layer running a built-in cell; refuses the rest."""
    from pykern.layers.recurrent import GRUCell, LSTMCell, SimpleRNNCell
    for cell, kind in ((LSTMCell, "LSTM"), (GRUCell, "GRU"), (SimpleRNNCell, "RNN")):
        if type(layer.cell) is cell:
            if layer.stateful:
                raise NotImplementedError(f"export: {_where(layer)} is stateful (its carried "
                                          f"states do not map to ONNX)")
            return kind
    raise NotImplementedError(f"export: {_where(layer)} runs a cell "
                              f"({type(layer.cell).__name__}) that the ONNX export does not "
                              f"describe (LSTMCell, GRUCell and SimpleRNNCell do)")


def _activations(layer, kind):
    cell = layer.cell
    return [cell.activation] if kind == "RNN" else [cell.recurrent_activation] + \
        [cell.activation] * (2 if kind == "LSTM" else 1)


def _axes(g, *axes):
    return g.const(list(axes), "axes", _INT64)


# --- ONNX's recurrent operators ---------------------------------------------------------------
def _gate_blocks(w, kind, units):
    """(..., G*U) Keras weights with their gate blocks in ONNX's order."""
    blocks = [w[..., i * units:(i + 1) * units] for i in _GATE_ORDER[kind]]
    return np.concatenate(blocks, axis=-1)


def _operator(g, layer, kind, x):
    """ONNX's LSTM/GRU/RNN operator on x (B, T, F): (outputs (B, T, U) in input
    time order, final states [h] or [h, c])."""
    cell, names, alphas, betas = layer.cell, [], [], []
    for fn in _activations(layer, kind):
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
    # Y (T, 1, B, U) -> (B, T, U); Y_h, Y_c (1, B, U) -> (B, U)
    seq = g.op("Transpose", [g.op("Squeeze", [outs[0], _axes(g, 1)])], perm=[1, 0, 2])
    return seq, [g.op("Squeeze", [o, _axes(g, 0)]) for o in outs[1:]]


# --- a Scan over the cell's step ----------------------------------------------------------------
def _gate(g, z, k, units):
    """The k-th block of `units` columns of z (B, G*U)."""
    return g.op("Slice", [z, g.const([k * units], "starts", _INT64),
                          g.const([(k + 1) * units], "ends", _INT64), _axes(g, 1)])


def _step(g, layer, kind, xw, states):
    """One step of the cell in the Scan body: new states ([h] or [h, c]); xw (B, G*U)
    is the projected input (with the input bias)."""
    cell, u, where = layer.cell, layer.cell.units, _where(layer)

    def act(fn, v):
        return _activation(g, fn, v, where)
    h = states[0]
    r_kernel = cell.recurrent_kernel.numpy()
    if kind == "RNN":
        rec = g.op("MatMul", [h, g.const(r_kernel, f"{layer.name}_R")])
        return [act(cell.activation, g.op("Add", [xw, rec]))]
    if kind == "LSTM":
        z = g.op("Add", [xw, g.op("MatMul", [h, g.const(r_kernel, f"{layer.name}_R")])])
        i, f, c_in, o = (_gate(g, z, k, u) for k in range(4))
        ra = cell.recurrent_activation
        c = g.op("Add", [g.op("Mul", [act(ra, f), states[1]]),
                         g.op("Mul", [act(ra, i), act(cell.activation, c_in)])])
        return [g.op("Mul", [act(ra, o), act(cell.activation, c)]), c]
    # GRU, gates z, r, h: h' = z * h + (1 - z) * act(x_h + r * (h R_h [+ b_h]))
    x_z, x_r, x_h = (_gate(g, xw, k, u) for k in range(3))
    if cell.reset_after:
        rec = g.op("MatMul", [h, g.const(r_kernel, f"{layer.name}_R")])
        if cell.bias is not None:
            rec = g.op("Add", [rec, g.const(cell.bias.numpy()[1], f"{layer.name}_recurrent_b")])
        r_z, r_r, r_h = (_gate(g, rec, k, u) for k in range(3))
    else:
        rec = g.op("MatMul", [h, g.const(r_kernel[:, :2 * u], f"{layer.name}_R_zr")])
        r_z, r_r = _gate(g, rec, 0, u), _gate(g, rec, 1, u)
    z = act(cell.recurrent_activation, g.op("Add", [x_z, r_z]))
    r = act(cell.recurrent_activation, g.op("Add", [x_r, r_r]))
    if cell.reset_after:
        reset = g.op("Mul", [r, r_h])
    else:
        reset = g.op("MatMul", [g.op("Mul", [r, h]), g.const(r_kernel[:, 2 * u:],
                                                              f"{layer.name}_R_h")])
    hh = act(cell.activation, g.op("Add", [x_h, reset]))
    carried = g.op("Mul", [z, h])
    return [g.op("Add", [carried, g.op("Mul", [g.op("Sub", [g.const(1.0), z]), hh])])]


def _zeros(g, x, units):
    """Zeros (B, units) for x (B, ...)."""
    shape = g.op("Concat", [g.op("Slice", [g.op("Shape", [x]), g.const([0], "starts", _INT64),
                                           g.const([1], "ends", _INT64)]),
                            g.const([units], "units", _INT64)], axis=0)
    return g.op("ConstantOfShape", [shape],
                value=g.nh.from_array(np.zeros(1, np.float32), "value"))


def _scan(g, layer, kind, x, mask):
    """The layer as a Scan on x (B, T, F): (outputs (B, T, U) in processing order,
    final states)."""
    from onnx import TensorProto
    cell, u = layer.cell, layer.cell.units
    n_states = 2 if kind == "LSTM" else 1
    carry_output = mask is not None and not layer.zero_output_for_mask
    # all steps' input projection as one MatMul: (T, B, F) @ (F, G*U) [+ input bias]
    xw = g.op("MatMul", [g.op("Transpose", [x], perm=[1, 0, 2]),
                         g.const(cell.kernel.numpy(), f"{layer.name}_W")])
    if cell.bias is not None:
        b = cell.bias.numpy()
        xw = g.op("Add", [xw, g.const(b[0] if b.ndim == 2 else b, f"{layer.name}_b")])
    scan_inputs = [xw]
    if mask is not None:  # (B, T) -> (T, B, 1)
        scan_inputs.append(g.op("Unsqueeze", [g.op("Transpose", [mask], perm=[1, 0]),
                                              _axes(g, 2)]))
    zeros = _zeros(g, x, u)
    initial = [zeros] * (n_states + int(carry_output))

    body = g.subgraph()
    state_in = [body.fresh(f"{layer.name}_state_in") for _ in initial]
    xw_t = body.fresh(f"{layer.name}_xw_t")
    keep_t = body.fresh(f"{layer.name}_keep_t") if mask is not None else None
    new = _step(body, layer, kind, xw_t, state_in[:n_states])
    out = new[0]
    if mask is not None:
        previous = state_in[-1] if carry_output else body.const(0.0)
        new = [body.op("Where", [keep_t, n, s]) for n, s in zip(new, state_in)]
        out = body.op("Where", [keep_t, out, previous])
    state_out = new + ([out] if carry_output else [])
    y_t = body.op("Identity", [out])
    floats = lambda n: body.h.make_tensor_value_info(n, TensorProto.FLOAT, None)  # noqa: E731
    inputs = [floats(n) for n in state_in + [xw_t]]
    if keep_t is not None:
        inputs.append(body.h.make_tensor_value_info(keep_t, TensorProto.BOOL, None))
    graph = body.graph(f"{layer.name}_step", inputs, [floats(n) for n in state_out + [y_t]])

    outs = [g.fresh(f"{layer.name}_final") for _ in state_out] + [g.fresh(f"{layer.name}_Y")]
    direction = int(layer.go_backwards)
    g.nodes.append(g.h.make_node("Scan", initial + scan_inputs, outs, body=graph,
                                 num_scan_inputs=len(scan_inputs),
                                 scan_input_directions=[direction] * len(scan_inputs)))
    return g.op("Transpose", [outs[-1]], perm=[1, 0, 2]), outs[:n_states]


# --- layers -----------------------------------------------------------------------------------
def _run(g, layer, x, mask):
    """(outputs (B, T, U), in_time_order, last output (B, U), final states)."""
    kind = _kind(layer)
    native = mask is None and all(fn in _RNN_ACTIVATIONS for fn in _activations(layer, kind))
    if native:
        seq, states = _operator(g, layer, kind, x)
        return seq, True, states[0], states
    seq, states = _scan(g, layer, kind, x, mask)
    last = g.op("Gather", [seq, g.const(-1, "last", _INT64)], axis=1)
    return seq, not layer.go_backwards, last, states


def _flip_time(g, seq):
    return g.op("Slice", [seq, g.const([-1], "starts", _INT64),
                          g.const([-(2 ** 62)], "ends", _INT64), _axes(g, 1),
                          g.const([-1], "steps", _INT64)])


def _ordered(g, seq, in_time_order, want_time_order):
    return seq if in_time_order == want_time_order else _flip_time(g, seq)


def recurrent_layer(g, layer, x, mask):
    """LSTM / GRU / SimpleRNN / RNN(cell): its output, or [output, *states] with
    return_state; the output keeps the mask with return_sequences."""
    seq, in_time_order, last, states = _run(g, layer, x, mask)
    if layer.return_sequences:
        # Keras returns go_backwards outputs in processing order
        out = _ordered(g, seq, in_time_order, not layer.go_backwards)
        if mask is not None:
            g.masks[out] = mask
    else:
        out = last
    return [out, *states] if layer.return_state else out


def bidirectional(g, layer, x, mask):
    """Bidirectional: both directions, merged as merge_mode says; with return_state
    [output(s), *forward states, *backward states]."""
    outs, states = [], []
    for sub in (layer.forward_layer, layer.backward_layer):
        seq, in_time_order, last, final = _run(g, sub, x, mask)
        # with return_sequences Keras flips the backward outputs back to time order
        outs.append(_ordered(g, seq, in_time_order, True) if layer.return_sequences else last)
        states += final
    y, y_rev = outs
    mode = layer.merge_mode
    if mode == "concat":
        merged = [g.op("Concat", [y, y_rev], axis=-1)]
    elif mode == "sum":
        merged = [g.op("Add", [y, y_rev])]
    elif mode == "mul":
        merged = [g.op("Mul", [y, y_rev])]
    elif mode == "ave":
        merged = [g.op("Div", [g.op("Add", [y, y_rev]), g.const(2.0)])]
    else:
        merged = [y, y_rev]
    if mask is not None and layer.return_sequences:
        for name in merged:
            g.masks[name] = mask
    if layer.return_state or mode is None:
        return merged + states
    return merged[0]
