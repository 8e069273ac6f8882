"""Recurrent layers: the cells (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells),
the generic RNN layer, and SimpleRNN, LSTM and GRU.

Keras 3's structure (keras_behaviour.md §2.13-2.16): each recurrent layer is an
RNN around a cell that owns the weights (paths `lstm/lstm_cell/kernel`, files
`layers/lstm/cell/vars`). A call of an RNN whose cell is a built-in cell with
activations the kernel computes runs the whole sequence as ONE fused op
(pykern.ops.rnn: one native call forward, one backward) — LSTM(...) and
RNN(LSTMCell(...)) alike. Everything else (user-written cells, stacked cells,
other activations, recurrent dropout while training) runs the cell step by
step through the differentiable ops, as Keras' backend.rnn does: slower, the
same values and gradients.

Masks follow backend.rnn: a masked step carries the states and repeats the
previous output (zeros with zero_output_for_mask). Dropout masks are drawn once
per call from the cell's seeded generator and reused at every step.
"""
import numpy as np

from pykern import activations as kactivations
from pykern import constraints as kconstraints
from pykern import initializers as kinitializers
from pykern import ops
from pykern import regularizers as kregularizers
from pykern.backend import devices
from pykern.backend.random import SeedGenerator
from pykern.backend.tensor import Tensor, Variable
from pykern.layers.layer import Layer, _flatten
from pykern.ops.nn import dense as _dense
from pykern.ops.rnn import KERNEL_ACTIVATIONS
from pykern.ops.rnn import rnn as _rnn
from pykern.utils.serialization import deserialize_keras_object, serialize_keras_object

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "StackedRNNCells", "DropoutRNNCell"]


def _kernel_activation(fn):
    """The kernel's name for a built-in activation function, None for any other."""
    name = getattr(fn, "__name__", None)
    if name in KERNEL_ACTIVATIONS and kactivations.get(name) is fn:
        return name
    return None


def _units(layer, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: units must be a positive integer, got {value!r}")
    return int(value)


def _rate(value):
    return min(1.0, max(0.0, float(value)))


# --- cells -----------------------------------------------------------------------------------
class DropoutRNNCell:
    """Dropout masks of a cell: drawn on first use in a call from the cell's
    `seed_generator`, reused at every step, dropped by the RNN after the call.
    `dropout_mask_count` (set when per-gate masks are used) gives one mask per gate."""

    def _create_dropout_mask(self, step_input, rate):
        count = getattr(self, "dropout_mask_count", None)
        ones = ops.ones_like(step_input)
        if count is None:
            return ops.dropout(ones, rate, seed=self.seed_generator)
        return [ops.dropout(ones, rate, seed=self.seed_generator) for _ in range(count)]

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(step_input,
                                                                     self.recurrent_dropout)
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self._recurrent_dropout_mask = None


class _ForgetBiasOne:
    """LSTM's bias initializer with unit_forget_bias: [init(U), ones(U), init(2U)]
    (the forget slice is set to 1, not added)."""

    def __init__(self, init, units):
        self.init, self.units = init, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate([self.init((u,), dtype), kinitializers.Ones()((u,), dtype),
                               self.init((2 * u,), dtype)])


_BASE_CELL_ARGS = ("units", "activation", "use_bias", "kernel_initializer",
                   "recurrent_initializer", "bias_initializer", "kernel_regularizer",
                   "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                   "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
                   "seed")


def _base_cell_args(values):
    """_Cell's arguments among a gated cell constructor's locals()."""
    return {k: values[k] for k in _BASE_CELL_ARGS}


class _Cell(Layer, DropoutRNNCell):
    """What the three built-in cells share: weights kernel (F, G*U),
    recurrent_kernel (U, G*U), bias; Keras' arguments and config keys."""

    _GATES = 1
    _KERNEL_CELL = None  # the fused kernel's cell name
    _CONFIG = ()  # the cell-specific config keys, in Keras' order

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 implementation=2, **kwargs):
        super().__init__(**kwargs)
        self.units = _units(f"{type(self).__name__} {self.name!r}", units)
        self.activation = kactivations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kinitializers.get(kernel_initializer)
        self.recurrent_initializer = kinitializers.get(recurrent_initializer)
        self.bias_initializer = kinitializers.get(bias_initializer)
        self.kernel_regularizer = kregularizers.get(kernel_regularizer)
        self.recurrent_regularizer = kregularizers.get(recurrent_regularizer)
        self.bias_regularizer = kregularizers.get(bias_regularizer)
        self.kernel_constraint = kconstraints.get(kernel_constraint)
        self.recurrent_constraint = kconstraints.get(recurrent_constraint)
        self.bias_constraint = kconstraints.get(bias_constraint)
        self.dropout = _rate(dropout)
        self.recurrent_dropout = _rate(recurrent_dropout)
        # Keras' implementation 1 (per-gate matmuls and masks) whenever recurrent dropout is set
        self.implementation = 1 if self.recurrent_dropout else implementation
        if self.implementation == 1 and self._GATES > 1:
            self.dropout_mask_count = self._GATES
        self.seed = seed
        self.seed_generator = SeedGenerator(seed)
        self.state_size = self.units
        self.output_size = self.units
        self.kernel = self.recurrent_kernel = self.bias = None

    def _bias_shape(self):
        return (self._GATES * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: the feature dimension of "
                             f"the inputs must be known, got shape {tuple(input_shape)}")
        width = self._GATES * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], width), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, width),
                                                name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(shape=self._bias_shape(), name="bias",
                                        initializer=self._bias_init(),
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [ops.full((batch_size, s), 0.0) for s in sizes]

    def _fused_options(self, training):
        """ops.rnn's arguments for this cell, or None when the step loop must run it
        (activations the kernel lacks, per-step recurrent or per-gate dropout masks)."""
        if training and (self.recurrent_dropout > 0 or (self.dropout > 0 and
                                                         self.implementation == 1)):
            return None
        act = _kernel_activation(self.activation)
        rec = _kernel_activation(getattr(self, "recurrent_activation", kactivations.sigmoid))
        if act is None or rec is None:
            return None
        return {"cell": self._KERNEL_CELL, "activation": act, "recurrent_activation": rec,
                "reset_after": getattr(self, "reset_after", True)}

    def _dropped(self, inputs, h, training):
        """The step input and state, one copy per gate (Keras' implementation 1) or
        one, with the dropout masks applied while training."""
        n = self._GATES if self.implementation == 1 and self._GATES > 1 else 1
        xs, hs = [inputs] * n, [h] * n
        if training and 0.0 < self.dropout < 1.0:
            m = self.get_dropout_mask(inputs)
            xs = [ops.multiply(inputs, v) for v in (m if isinstance(m, list) else [m] * n)]
        if training and 0.0 < self.recurrent_dropout < 1.0:
            m = self.get_recurrent_dropout_mask(h)
            hs = [ops.multiply(h, v) for v in (m if isinstance(m, list) else [m] * n)]
        return xs, hs

    def _projections(self, xs, hs, input_bias=None, recurrent_bias=None):
        """[x_g W_g + b_g] and [h_g R_g (+ b'_g)] per gate g: one GEMM each when the
        copies are shared, else per gate."""
        if len(xs) == 1:
            return [_dense(xs[0], self.kernel, input_bias)], [
                ops.matmul(hs[0], self.recurrent_kernel) if recurrent_bias is None else
                _dense(hs[0], self.recurrent_kernel, recurrent_bias)]
        ws = ops.split(self.kernel, self._GATES, axis=1)
        rs = ops.split(self.recurrent_kernel, self._GATES, axis=1)
        bs = [None] * self._GATES if input_bias is None else ops.split(input_bias, self._GATES)
        rbs = [None] * self._GATES if recurrent_bias is None else ops.split(recurrent_bias,
                                                                            self._GATES)
        return ([_dense(x, w, b) for x, w, b in zip(xs, ws, bs)],
                [ops.matmul(h, r) if rb is None else _dense(h, r, rb)
                 for h, r, rb in zip(hs, rs, rbs)])

    def get_config(self):
        config = {**Layer.get_config(self), "units": self.units,
                  "activation": kactivations.serialize(self.activation)}
        values = {
            "recurrent_activation": lambda: kactivations.serialize(self.recurrent_activation),
            "use_bias": lambda: self.use_bias,
            "unit_forget_bias": lambda: self.unit_forget_bias,
            "kernel_initializer": lambda: serialize_keras_object(self.kernel_initializer),
            "recurrent_initializer": lambda: serialize_keras_object(self.recurrent_initializer),
            "bias_initializer": lambda: serialize_keras_object(self.bias_initializer),
            "kernel_regularizer": lambda: serialize_keras_object(self.kernel_regularizer),
            "recurrent_regularizer": lambda: serialize_keras_object(self.recurrent_regularizer),
            "bias_regularizer": lambda: serialize_keras_object(self.bias_regularizer),
            "kernel_constraint": lambda: serialize_keras_object(self.kernel_constraint),
            "recurrent_constraint": lambda: serialize_keras_object(self.recurrent_constraint),
            "bias_constraint": lambda: serialize_keras_object(self.bias_constraint),
            "dropout": lambda: self.dropout, "recurrent_dropout": lambda: self.recurrent_dropout,
            "reset_after": lambda: self.reset_after, "seed": lambda: self.seed}
        config.update((key, values[key]()) for key in self._CONFIG)
        return config


_COMMON_TAIL = ("kernel_initializer", "recurrent_initializer", "bias_initializer",
                "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                "recurrent_dropout")


class SimpleRNNCell(_Cell):
    """h = activation(x W + b + h R); output = h. Weights kernel (F, U),
    recurrent_kernel (U, U), bias (U,)."""

    _KERNEL_CELL = "simple_rnn"
    _CONFIG = ("use_bias",) + _COMMON_TAIL + ("seed",)

    def call(self, sequence, states, training=False):
        prev = states[0] if isinstance(states, (list, tuple)) else states
        xs, hs = self._dropped(sequence, prev, training)
        (xw,), (hr,) = self._projections(xs, hs, self.bias)
        output = self.activation(ops.add(xw, hr))
        return output, [output] if isinstance(states, (list, tuple)) else output


class LSTMCell(_Cell):
    """Keras' LSTM cell, gates i, f, c, o along the 4U axis:
    z = x W + h R + b; i, f, o = recurrent_activation(z_i, z_f, z_o);
    c = f c + i activation(z_c); h = o activation(c). States [h, c]."""

    _GATES = 4
    _KERNEL_CELL = "lstm"
    _CONFIG = ("recurrent_activation", "use_bias", "unit_forget_bias") + _COMMON_TAIL + (
        "seed",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**_base_cell_args(locals()), **kwargs)
        self.recurrent_activation = kactivations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        if self.unit_forget_bias:
            return _ForgetBiasOne(self.bias_initializer, self.units)
        return self.bias_initializer

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        xs, hs = self._dropped(inputs, h_tm1, training)
        xz, hz = self._projections(xs, hs, self.bias)
        if len(xz) == 1:
            z = ops.split(ops.add(xz[0], hz[0]), 4, axis=1)
        else:
            z = [ops.add(a, b) for a, b in zip(xz, hz)]
        i, f, o = (self.recurrent_activation(z[g]) for g in (0, 1, 3))
        c = ops.add(ops.multiply(f, c_tm1), ops.multiply(i, self.activation(z[2])))
        h = ops.multiply(o, self.activation(c))
        return h, [h, c]


class GRUCell(_Cell):
    """Keras' GRU cell, gates z, r, h along the 3U axis; h = z h_prev + (1 - z) hh.
    reset_after=True (default): bias (2, 3U) [input row, recurrent row] and the
    reset gate multiplies (h R_h + b'_h); False: bias (3U,) and hh sees (r h) R_h."""

    _GATES = 3
    _KERNEL_CELL = "gru"
    _CONFIG = ("recurrent_activation", "use_bias") + _COMMON_TAIL + ("reset_after", "seed")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, seed=None, **kwargs):
        super().__init__(**_base_cell_args(locals()), **kwargs)
        self.recurrent_activation = kactivations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        h_tm1 = states[0] if nested else states
        input_bias = recurrent_bias = None
        if self.use_bias:
            if self.reset_after:
                input_bias, recurrent_bias = self.bias[0], self.bias[1]
            else:
                input_bias = self.bias
        xs, hs = self._dropped(inputs, h_tm1, training)
        u = self.units
        if self.reset_after:
            xp, hp = self._projections(xs, hs, input_bias, recurrent_bias)
            if len(xp) == 1:
                xp, hp = ops.split(xp[0], 3, axis=1), ops.split(hp[0], 3, axis=1)
            z = self.recurrent_activation(ops.add(xp[0], hp[0]))
            r = self.recurrent_activation(ops.add(xp[1], hp[1]))
            hh = self.activation(ops.add(xp[2], ops.multiply(r, hp[2])))
        else:
            rz = self.recurrent_kernel[:, :2 * u]
            if len(xs) == 1:
                xp = ops.split(_dense(xs[0], self.kernel, input_bias), 3, axis=1)
                hzr = ops.split(ops.matmul(hs[0], rz), 2, axis=1)
            else:
                ws = ops.split(self.kernel, 3, axis=1)
                bs = [None] * 3 if input_bias is None else ops.split(input_bias, 3)
                xp = [_dense(x, w, b) for x, w, b in zip(xs, ws, bs)]
                hzr = [ops.matmul(hs[g], rz[:, g * u:(g + 1) * u]) for g in (0, 1)]
            z = self.recurrent_activation(ops.add(xp[0], hzr[0]))
            r = self.recurrent_activation(ops.add(xp[1], hzr[1]))
            hh = self.activation(ops.add(xp[2], ops.matmul(ops.multiply(r, hs[-1]),
                                                           self.recurrent_kernel[:, 2 * u:])))
        h = ops.add(ops.multiply(z, h_tm1), ops.multiply(ops.subtract(1.0, z), hh))
        return h, [h] if nested else h


class StackedRNNCells(Layer):
    """Cells run one after another at every step; the states are one entry per cell."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        for cell in cells:
            if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
                raise ValueError(f"StackedRNNCells {self.name!r}: every cell needs a `call` "
                                 f"method and a `state_size`, got {cell!r}")
        self.cells = list(cells)

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        last = self.cells[-1]
        if getattr(last, "output_size", None) is not None:
            return last.output_size
        return last.state_size[0] if isinstance(last.state_size, (list, tuple)) else \
            last.state_size

    def get_initial_state(self, batch_size=None):
        return [_initial_state_of(c, batch_size) for c in self.cells]

    def build(self, input_shape):
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._build_once(tuple(input_shape))
            size = getattr(cell, "output_size", None)
            if size is None:
                size = cell.state_size[0] if isinstance(cell.state_size, (list, tuple)) else \
                    cell.state_size
            input_shape = (input_shape[0], size)
        self.built = True

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, state in zip(self.cells, states):
            listed = isinstance(state, (list, tuple))
            state = list(state) if listed else [state]
            inputs, state = _call_cell(cell, inputs, state, training)
            if not isinstance(state, (list, tuple)):
                state = [state]
            new_states.append(list(state) if listed or len(state) > 1 else state[0])
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(),
                "cells": [serialize_keras_object(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cells = [deserialize_keras_object(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


def _call_cell(cell, inputs, states, training):
    if isinstance(cell, Layer):
        if cell._call_takes_training:
            return cell(inputs, states, training=training)
        return cell(inputs, states)
    return cell.call(inputs, states)


def _sizes(state_size):
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


def _initial_state_of(cell, batch_size):
    """A cell's zero states: its get_initial_state, else zeros per state_size."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        states = fn(batch_size=batch_size)
        return states if isinstance(states, (list, tuple)) else [states]
    return [ops.full((batch_size, s), 0.0) for s in _sizes(cell.state_size)]


def _pack(template, flat):
    """flat states in the nested structure of template (lists of per-cell lists)."""
    it = iter(flat)

    def build(t):
        if isinstance(t, list):
            return [build(v) for v in t]
        return next(it)
    return build(template)


# --- the RNN layer ---------------------------------------------------------------------------
class RNN(Layer):
    """Runs `cell` over the time axis of (batch, timesteps, features) inputs
    (Keras 3's RNN; a list of cells is stacked). See the module docstring for when
    the fused kernel runs."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not hasattr(cell, "call"):
            raise ValueError(f"Argument `cell` should have a `call` method, got {cell!r}")
        state_size = getattr(cell, "state_size", None)
        if state_size is None:
            raise ValueError(f"The RNN cell {cell!r} needs a `state_size` attribute (an int or "
                             f"a list of ints, one per state)")
        if not isinstance(state_size, (list, tuple, int, np.integer)):
            raise ValueError(f"state_size must be an int or a list/tuple of ints, got "
                             f"{state_size!r}")
        if kwargs.pop("time_major", False):  # Keras 2 configs say time_major: false
            raise ValueError("RNN: time_major=True (inputs (timesteps, batch, ...)) is not "
                             "supported; transpose the inputs to (batch, timesteps, ...)")
        super().__init__(**kwargs)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.supports_masking = True
        self.states = None  # stateful: the carried states (Variables, not weights)

    # --- shapes ---------------------------------------------------------------------------
    @property
    def state_size(self):
        return _sizes(self.cell.state_size)

    def _who(self):
        return f"{type(self).__name__} {self.name!r}"

    def _state_template(self):
        """The nested structure of the states: one size per state, a list per cell
        of a stacked cell."""
        if isinstance(self.cell, StackedRNNCells):
            return [list(_sizes(c.state_size)) for c in self.cell.cells]
        return list(self.state_size)

    def _check_rank(self, shape):
        if len(shape) < 3 or (isinstance(self.cell, _Cell) and len(shape) != 3):
            want = "3-D" if isinstance(self.cell, _Cell) else "at least 3-D"
            raise ValueError(f"{self._who()} expects {want} inputs (batch, timesteps, "
                             f"features), got shape {tuple(shape)}")

    def _output_size(self):
        size = getattr(self.cell, "output_size", None)
        return self.state_size[0] if size is None else size

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        self._check_rank(shape)
        batch = shape[0]
        out = (batch, shape[1], self._output_size()) if self.return_sequences else \
            (batch, self._output_size())
        if not self.return_state:
            return out
        if isinstance(self.cell, StackedRNNCells):
            states = [[(batch, s) for s in sizes] if len(sizes) > 1 else (batch, sizes[0])
                      for sizes in self._state_template()]
        else:
            states = [(batch, s) for s in self.state_size]
        return (out, *states)

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def build(self, sequences_shape, initial_state_shape=None):
        shape = tuple(sequences_shape)
        self._check_rank(shape)
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._build_once((shape[0],) + shape[2:])
        if self.stateful:
            if shape[0] is None:
                raise ValueError(f"{self._who()}: stateful=True needs a fixed batch size (pass "
                                 f"batch_size= to Input, or batch_shape=), got input shape "
                                 f"{shape}")
            self._create_states(shape[0])
        self.built = True

    def _create_states(self, batch):
        self.states = [Variable(np.zeros((batch, s), np.float32), trainable=False,
                                name="rnn_state", path=f"{self.name}/rnn_state")
                       for s in _flatten(self._state_template())]

    # --- stateful --------------------------------------------------------------------------
    def reset_state(self):
        """Sets a stateful layer's carried states back to zeros."""
        if self.states is not None:
            for v in self.states:
                v.assign(ops.zeros_like(v))

    def reset_states(self):
        self.reset_state()

    def get_initial_state(self, batch_size):
        return _initial_state_of(self.cell, batch_size)

    # --- call ------------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        self._check_rank(x.shape)
        if self.unroll and x.shape[1] is None:
            raise ValueError(f"{self._who()}: cannot unroll an RNN whose time dimension is "
                             f"unknown (input shape {tuple(x.shape)})")
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        mask = self._standard_mask(mask, x)
        states = self._initial_states(x, initial_state)
        training = bool(training)
        cell = self.cell
        # exact built-in cells only: a subclass may change the step
        fused = cell._fused_options(training) if type(cell) in (LSTMCell, GRUCell,
                                                                SimpleRNNCell) else None
        try:
            if fused is not None:
                last, seq, final = self._run_fused(x, states, mask, training, fused)
            else:
                last, seq, final = self._run_steps(x, states, mask, training)
        finally:
            _reset_dropout_masks(cell)
        if self.stateful and last.device is not devices.META:
            for v, s in zip(self.states, _flatten(final)):
                v.assign(ops.stop_gradient(s))
        output = seq if self.return_sequences else last
        if self.return_state:
            return [output, *self._returned_states(final)]
        return output

    def _returned_states(self, final):
        """Keras' return_state structure: one tensor per state; for stacked cells one
        entry per cell (a list when the cell has several states)."""
        if not isinstance(self.cell, StackedRNNCells):
            return list(_flatten(final))
        return [s[0] if isinstance(s, list) and len(s) == 1 else s for s in final]

    def _standard_mask(self, mask, x):
        if mask is None:
            return None
        m = mask if isinstance(mask, Tensor) else ops.convert_to_tensor(mask)
        if len(m.shape) != 2 or any(a is not None and b is not None and a != b
                                    for a, b in zip(m.shape, x.shape[:2])):
            raise ValueError(f"{self._who()}: the mask must have shape (batch, timesteps) = "
                             f"{tuple(x.shape[:2])} for inputs of shape {tuple(x.shape)}, got "
                             f"{tuple(m.shape)}")
        if m.dtype != np.bool_:
            m = ops.not_equal(m, 0)
        return m

    def _initial_states(self, x, initial_state):
        """The flat list of initial states (None: zeros for the fused kernel), checked
        against the cell's state sizes."""
        batch = x.shape[0]
        sizes = list(_flatten(self._state_template()))
        if initial_state is None:
            if self.stateful:
                if self.states[0].shape[0] != batch and batch is not None:
                    raise ValueError(f"{self._who()} is stateful with batch size "
                                     f"{self.states[0].shape[0]}, got inputs of shape "
                                     f"{tuple(x.shape)}")
                return list(self.states)
            return None
        given = list(_flatten(initial_state if isinstance(initial_state, (list, tuple))
                              else [initial_state]))
        want = [(batch, s) for s in sizes]
        shapes = [tuple(getattr(s, "shape", np.shape(s))) for s in given]
        if len(given) != len(sizes) or any(
                len(g) != 2 or g[1] != w[1] or (None not in (g[0], w[0]) and g[0] != w[0])
                for g, w in zip(shapes, want)):
            raise ValueError(f"{self._who()}: initial_state must be {len(sizes)} tensor(s) of "
                             f"shape(s) {want} for inputs of shape {tuple(x.shape)}, got "
                             f"{len(given)} of shape(s) {shapes}")
        return [s if isinstance(s, Tensor) else ops.convert_to_tensor(s) for s in given]

    def _run_fused(self, x, states, mask, training, options):
        cell = self.cell
        if training and 0.0 < cell.dropout < 1.0:  # one input mask for every step
            keep = cell.get_dropout_mask(x[:, 0, :])
            x = ops.multiply(x, ops.expand_dims(keep, 1))
        seq, final = _rnn(options["cell"], x, cell.kernel, cell.recurrent_kernel, cell.bias,
                          initial_state=states, mask=mask, go_backwards=self.go_backwards,
                          activation=options["activation"],
                          recurrent_activation=options["recurrent_activation"],
                          reset_after=options["reset_after"],
                          zero_output_for_mask=self.zero_output_for_mask, name=self._who())
        # without a mask the last output is the final h; with one it is the last step's
        # output (it repeats an earlier output, or is zero, where that step is masked)
        last = final[0] if mask is None else seq[:, -1]
        return last, seq, final

    def _run_steps(self, x, states, mask, training):
        """The cell called once per step (backend.rnn's loop); states in the cell's
        nested structure."""
        template = self._state_template()
        if states is None:
            states = self.get_initial_state(x.shape[0])
            if not isinstance(self.cell, StackedRNNCells):
                states = list(_flatten(states))
        else:
            states = _pack(template, states)
        steps = ops.unstack(x, axis=1)
        keeps = None if mask is None else ops.unstack(ops.expand_dims(mask, -1), axis=1)
        order = range(len(steps) - 1, -1, -1) if self.go_backwards else range(len(steps))
        outputs, prev = [], None
        for t in order:
            out, new = _call_cell(self.cell, steps[t], states, training)
            if not isinstance(new, (list, tuple)):
                new = [new]
            if keeps is not None:
                keep = keeps[t]
                if prev is None or self.zero_output_for_mask:
                    prev = ops.zeros_like(out)
                out = ops.where(keep, out, prev)
                new = _pack(states, [ops.where(keep, n, s) for n, s in
                                     zip(_flatten(new), _flatten(states))])
            states, prev = list(new), out
            outputs.append(out)
        seq = ops.stack(outputs, axis=1) if self.return_sequences else None
        return outputs[-1], seq, states

    # --- config ----------------------------------------------------------------------------
    def _rnn_config(self):
        return {**Layer.get_config(self), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}

    def get_config(self):
        return {**self._rnn_config(), "cell": serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"), custom_objects)
        return cls(cell, **config)


def _reset_dropout_masks(cell):
    if isinstance(cell, DropoutRNNCell):
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
    for c in getattr(cell, "cells", ()):
        _reset_dropout_masks(c)


# --- SimpleRNN, LSTM, GRU --------------------------------------------------------------------
_CELL_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "reset_after", "seed")


def _cell_args(values):
    """The cell's arguments among a layer constructor's locals()."""
    return {k: values[k] for k in _CELL_ARGS if k in values}


class _RecurrentLayer(RNN):
    """An RNN around its own built-in cell, with the cell's arguments flattened
    into the layer's (Keras' SimpleRNN, LSTM, GRU)."""

    _CELL = None
    _CELL_NAME = None
    _LAYER_CONFIG = ()  # the layer's own config keys after the RNN ones, Keras' order

    def __init__(self, cell_kwargs, activity_regularizer, return_sequences, return_state,
                 go_backwards, stateful, unroll, use_cudnn, kwargs):
        implementation = kwargs.pop("implementation", 2)
        cell = self._CELL(**cell_kwargs, dtype=kwargs.get("dtype"),
                          trainable=kwargs.get("trainable", True), name=self._CELL_NAME,
                          implementation=implementation)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"{self._who()}: use_cudnn must be 'auto', True or False, got "
                             f"{use_cudnn!r}")
        self.use_cudnn = use_cudnn

    def __getattr__(self, name):
        # units, activation, dropout, ...: the cell's (as Keras' read-only properties)
        if name in _CELL_ARGS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        cell = self.cell.get_config()
        config = self._rnn_config()
        for key in self._LAYER_CONFIG:
            if key == "activity_regularizer":
                config[key] = serialize_keras_object(self.activity_regularizer)
            else:
                config[key] = cell[key]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


_LAYER_TAIL = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
               "activity_regularizer", "kernel_constraint", "recurrent_constraint",
               "bias_constraint", "dropout", "recurrent_dropout")


class SimpleRNN(_RecurrentLayer):
    """A fully-connected RNN whose output is fed back: h = activation(x W + b + h R)."""

    _CELL = SimpleRNNCell
    _CELL_NAME = "simple_rnn_cell"
    _LAYER_CONFIG = ("units", "activation", "use_bias", "kernel_initializer",
                     "recurrent_initializer", "bias_initializer") + _LAYER_TAIL

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None, **kwargs):
        super().__init__(_cell_args(locals()), activity_regularizer, return_sequences, return_state,
                         go_backwards, stateful, unroll, "auto", kwargs)


class LSTM(_RecurrentLayer):
    """Long Short-Term Memory (Hochreiter 1997) as Keras 3's LSTM; weights kernel
    (F, 4U), recurrent_kernel (U, 4U), bias (4U,), gates i, f, c, o."""

    _CELL = LSTMCell
    _CELL_NAME = "lstm_cell"
    _LAYER_CONFIG = ("units", "activation", "recurrent_activation", "use_bias",
                     "kernel_initializer", "recurrent_initializer", "bias_initializer",
                     "unit_forget_bias") + _LAYER_TAIL + ("seed",)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto",
                 **kwargs):
        super().__init__(_cell_args(locals()), activity_regularizer, return_sequences, return_state,
                         go_backwards, stateful, unroll, use_cudnn, kwargs)


class GRU(_RecurrentLayer):
    """Gated Recurrent Unit (Cho 2014) as Keras 3's GRU; weights kernel (F, 3U),
    recurrent_kernel (U, 3U), bias (2, 3U) with reset_after (default) else (3U,)."""

    _CELL = GRUCell
    _CELL_NAME = "gru_cell"
    _LAYER_CONFIG = ("units", "activation", "recurrent_activation", "use_bias",
                     "kernel_initializer", "recurrent_initializer",
                     "bias_initializer") + _LAYER_TAIL + ("reset_after", "seed")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        super().__init__(_cell_args(locals()), activity_regularizer, return_sequences, return_state,
                         go_backwards, stateful, unroll, use_cudnn, kwargs)
