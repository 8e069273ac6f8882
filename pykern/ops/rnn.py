"""Recurrent and embedding ops.

`rnn` runs a whole LSTM/GRU/SimpleRNN sequence as ONE differentiable op: one
native call forward (it saves the gates its backward reads), one native call
backward for the gradients of the inputs, the weights and the initial states
(csrc/include/pykern/rnn.h). Its outputs are the sequence y (B,T,U) in
processing order and the final states; the states are side outputs of the
sequence node, so a loss on y, on the states or on both still costs one
backward call.

`embedding` gathers table rows at integer ids; its gradient sums rows per id.
"""
from pykern.backend import devices
from pykern.backend.tensor import Tensor, recording
from pykern.ops.core import _out, _t, _wrap, cast, convert_to_tensor

__all__ = ["rnn", "embedding", "KERNEL_ACTIVATIONS"]

_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}

# The activations the recurrent kernels compute inside their fused gate pass
# (csrc/include/pykern/activation.h, Keras 3's formulas); others need a step loop.
KERNEL_ACTIVATIONS = frozenset({"linear", "relu", "sigmoid", "tanh", "hard_sigmoid", "elu",
                                "selu", "softsign", "softplus", "silu", "exponential"})


def _act(name, op):
    if name not in KERNEL_ACTIVATIONS:
        raise ValueError(f"{op}: activation {name!r} is not computed by the recurrent kernel; "
                         f"expected one of {sorted(KERNEL_ACTIVATIONS)}")
    return "none" if name == "linear" else name


def _mask_storage(mask, batch, steps, d, op):
    """The (B, T) step mask as boolean storage on d (floats: nonzero = used)."""
    m = mask if isinstance(mask, Tensor) else convert_to_tensor(mask)
    if len(m.shape) != 2 or any(a is not None and b is not None and a != b
                                for a, b in zip(m.shape, (batch, steps))):
        raise ValueError(f"{op}: the mask must have shape (batch, timesteps) = "
                         f"{(batch, steps)}, got {tuple(m.shape)}")
    data = m._data if m.device is d or d is devices.META else d.k.from_host(m.numpy())
    if data.dtype.kind == "f":
        data = d.k.binary("not_equal", data, 0.0)
    return data


def rnn(cell, inputs, kernel, recurrent_kernel, bias=None, initial_state=None, mask=None,
        go_backwards=False, activation="tanh", recurrent_activation="sigmoid",
        reset_after=True, zero_output_for_mask=False, name=None):
    """One recurrent layer over a whole sequence (Keras 3's cells and backend.rnn masking).

    cell: 'lstm' (gates i, f, c, o), 'gru' (z, r, h) or 'simple_rnn'. inputs (B,T,F),
    kernel (F,G*U), recurrent_kernel (U,G*U), bias (G*U,) or, for GRU with
    reset_after, (2, 3U); initial_state: None (zeros) or [h0] ([h0, c0] for LSTM),
    each (B,U); mask (B,T): masked steps carry the states and repeat the previous
    output (zeros with zero_output_for_mask). Activations are names from
    KERNEL_ACTIVATIONS.

    Returns (outputs (B,T,U) in processing order: reversed with go_backwards,
    [h] or [h, c]), all differentiable.
    """
    op = name or cell
    if cell not in _GATES:
        raise ValueError(f"{op}: cell must be one of {sorted(_GATES)}, got {cell!r}")
    act, rec_act = _act(activation, op), _act(recurrent_activation, op)
    x, w, r = _t(inputs), _t(kernel), _t(recurrent_kernel)
    n_states = 2 if cell == "lstm" else 1
    states = [] if initial_state is None else [_t(s) for s in initial_state]
    if initial_state is not None and len(states) != n_states:
        raise ValueError(f"{op}: initial_state must hold {n_states} tensor(s), got "
                         f"{len(states)}")
    b = None if bias is None else _t(bias)
    parents = (x, w, r) + (() if b is None else (b,)) + tuple(states)
    d = devices.of(parents, op)
    k = d.k
    _check_shapes(cell, op, x.shape, w.shape, r.shape, None if b is None else b.shape,
                  [s.shape for s in states], reset_after)
    batch, steps = x.shape[0], x.shape[1]
    m = None if mask is None else _mask_storage(mask, batch, steps, d, op)
    h0 = states[0]._data if states else None
    c0 = states[1]._data if len(states) > 1 else None
    xv, wv, rv, bv = x._data, w._data, r._data, None if b is None else b._data
    options = (go_backwards, act, rec_act, reset_after, zero_output_for_mask)
    y, h, c, ws = k.rnn(cell, xv, wv, rv, bv, h0, c0, m, go_backwards, act, rec_act,
                        reset_after, zero_output_for_mask, recording())
    side = {}  # gradients of the state outputs, left by their nodes for the one backward

    def backward(g, needs):
        # only the final states' nodes fed the sequence: no output gradient to read
        dy = None if g is side.pop("zero", None) else g
        grads = k.rnn_backward(cell, dy, side.pop("h", None), side.pop("c", None), xv, wv, rv,
                               bv, h0, c0, m, ws, *options)
        dx, dw, dr, db, dh0, dc0 = grads
        out = [dx if needs[0] else None, dw, dr]
        if b is not None:
            out.append(db)
        return tuple(out + [dh0, dc0][:len(states)])
    outputs = _out(y, parents, backward, d)
    return outputs, [_state(outputs, h, "h", side, d)] + (
        [_state(outputs, c, "c", side, d)] if cell == "lstm" else [])


def _state(outputs, data, key, side, d):
    """A final state as a node whose parent is the sequence node: its gradient is
    handed to the sequence's backward, and the sequence node gets zeros so that
    its backward (the one kernel call) runs even when only the states are used. The
    zeros are a broadcast scalar, and the sequence's backward recognises them by
    identity (the engine sums gradients into new arrays, never in place), so the
    kernel then reads no (B, T, U) output gradient at all."""
    k = d.k

    def backward(g, needs):
        side[key] = g
        zero = side.get("zero")
        if zero is None:
            zero = side["zero"] = k.broadcast_to(k.full((), 0.0), outputs.shape)
        return (zero,)
    if outputs._parents or outputs._backward:
        return _out(data, (outputs,), backward, d)
    return _wrap(data, d)


def _check_shapes(cell, op, x, w, r, b, states, reset_after):
    g = _GATES[cell]
    if len(x) != 3:
        raise ValueError(f"{op}: inputs must be 3-D (batch, timesteps, features), got shape "
                         f"{tuple(x)}")
    if len(r) != 2 or (r[0] is not None and r[1] is not None and r[1] != g * r[0]):
        raise ValueError(f"{op}: recurrent_kernel must have shape (units, {g} * units), got "
                         f"{tuple(r)}")
    units = r[0]
    if len(w) != 2 or (x[2] is not None and w[0] != x[2]) or w[1] != r[1]:
        raise ValueError(f"{op}: kernel must have shape (features, {g} * units) = "
                         f"{(x[2], r[1])} for inputs of shape {tuple(x)}, got {tuple(w)}")
    if b is not None:
        want = (2, r[1]) if cell == "gru" and reset_after else (r[1],)
        if tuple(b) != want:
            raise ValueError(f"{op}: bias must have shape {want}, got {tuple(b)}")
    for i, s in enumerate(states):
        if len(s) != 2 or s[1] != units or (s[0] is not None and x[0] is not None
                                             and s[0] != x[0]):
            raise ValueError(f"{op}: initial state {i} must have shape (batch, units) = "
                             f"{(x[0], units)}, got {tuple(s)}")


def embedding(table, ids):
    """table (V, D) rows gathered at integer ids (any shape) -> ids.shape + (D,);
    differentiable in table (rows summed per id). Non-integer ids are cast to
    int32 (as Keras' Embedding); an id outside [0, V) is a ValueError."""
    t = _t(table)
    d = t.device
    if len(t.shape) != 2:
        raise ValueError(f"embedding: the table must be 2-D (input_dim, output_dim), got shape "
                         f"{tuple(t.shape)}")
    i = ids if isinstance(ids, Tensor) else _wrap(d.k.from_host(ids), d)
    if i.device is not d and i.device is not devices.META and d is not devices.META:
        raise ValueError(f"embedding: ids are on {i.device.name}, the table on {d.name}")
    if i.dtype.name not in ("int32", "int64"):
        i = cast(i, "int32")
    d = devices.META if devices.META in (i.device, d) else d
    k = d.k
    iv, vocab = i._data, t.shape[0]
    y = k.embedding(t._data, iv)
    return _out(y, (t,), lambda g, needs: (k.embedding_backward(g, iv, vocab),), d)
