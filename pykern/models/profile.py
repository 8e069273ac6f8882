"""model.profile: per-layer forward and backward wall time of one training step,
with GFLOP/s and the share of the machine's measured fp32 peak.

How the backward pass is split by layer: every Tensor carries a creation number
(`_seq`) and the backward function of the op that made it. While profiling,
each top-level layer's `call` is wrapped (on the instance, undone afterwards) to
note the range of creation numbers it used and its wall time; the tensors of
the step's graph whose numbers fall in a layer's range are that layer's ops.
Before the ordinary backward pass (`grad_arrays`, as fit runs it) their
backward functions are wrapped with a timer, so each op's backward is timed
where the engine calls it and summed per layer. What no layer owns (the loss,
summing the gradients of a tensor used twice, copies handed to the optimizer)
is in the step's total, not in a row. The optimizer is not run, so the weights
do not change; non-trainable state (BatchNormalization's moving statistics) is
restored afterwards.

Kernels run synchronously on the CPU, so wall time around a call is its compute
time (a device with asynchronous kernels would need a synchronisation per
timer). Times include the Python op overhead a real step pays.

FLOPs are counted from the shapes of each call (a multiply-add is 2 FLOPs; bias
adds and activations are not counted):
  Dense                 2 * rows * in * units (rows: every leading dim, batch included)
  Conv1D/2D/3D          2 * N * out_spatial * prod(kernel) * C_in / groups * filters
  Conv*Transpose        2 * N * in_spatial * prod(kernel) * C_in * filters
  DepthwiseConv*        2 * N * out_spatial * prod(kernel) * C_in * depth_multiplier
  SeparableConv*        the depthwise count + 2 * N * out_spatial * C_in * M * filters
  pooling               one compare/add per window element of each output
  global pooling        one per input element
  Batch/Layer/GroupNorm 8 per element (mean 1, variance 3, normalize and scale 4)
  UnitNormalization     3 per element (square, sum, divide)
Backward: for Dense and convolutions the forward count once per gradient
computed (the weights' when the layer trains, the input's when an earlier
trainable layer needs it); for pooling and normalization the forward count
(one pass over the same elements). Other layers report no FLOPs.
"""
import bisect
import math
import statistics
import time

import numpy as np

from pykern.backend import tensor as tensor_module
from pykern.backend.autograd import _interior, grad_arrays
from pykern.backend.tensor import Tensor, no_grad, record

__all__ = ["profile_model"]

_PEAK_GFLOPS = {}  # threads -> measured fp32 FMA peak, once per process


def _peak_gflops():
    from pykern.backend import config
    threads = config.num_threads()
    if threads not in _PEAK_GFLOPS:
        _PEAK_GFLOPS[threads] = config.peak_gflops(0.2, threads)
    return _PEAK_GFLOPS[threads]


def _first(data, n):
    """The first n samples of an array or a list/tuple/dict of arrays."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _first(v, n) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_first(v, n) for v in data)
    return np.asarray(data)[:n]


def _size(shape):
    return math.prod(int(d) for d in shape)


def _forward_flops(layer, in_shape, out_shape):
    """(forward FLOPs, True for GEMM-like layers whose backward has one pass per
    gradient) from the shapes of one call, or (None, False) when unknown."""
    from pykern.layers import convolutional as conv
    from pykern.layers import normalization as norm
    from pykern.layers import pooling, pooling_global
    from pykern.layers.core import Dense
    if isinstance(layer, Dense):
        return 2 * _size(in_shape) * layer.units, True
    if isinstance(layer, conv._BaseConv):
        channels_last = layer.data_format == "channels_last"
        c_in = in_shape[-1] if channels_last else in_shape[1]
        taps = _size(layer.kernel_size)
        out_pixels = _size(out_shape) // (out_shape[-1] if channels_last else out_shape[1])
        if isinstance(layer, conv._ConvTranspose):
            return 2 * (_size(in_shape) // c_in) * taps * c_in * layer.filters, True
        if isinstance(layer, conv._DepthwiseConv):
            return 2 * out_pixels * taps * c_in * layer.depth_multiplier, True
        if isinstance(layer, conv._SeparableConv):
            depth = c_in * layer.depth_multiplier
            return 2 * out_pixels * (taps * depth + depth * layer.filters), True
        groups = getattr(layer, "groups", 1)
        return 2 * out_pixels * taps * (c_in // groups) * layer.filters, True
    if isinstance(layer, pooling._Pooling):
        return _size(out_shape) * _size(layer.pool_size), False
    if isinstance(layer, pooling_global._GlobalPooling):
        return _size(in_shape), False
    if isinstance(layer, (norm.BatchNormalization, norm.LayerNormalization,
                          norm.GroupNormalization)):
        return 8 * _size(in_shape), False
    if isinstance(layer, norm.UnitNormalization):
        return 3 * _size(in_shape), False
    return None, False


class _Recorder:
    """Wraps the layers' `call`s for one step: wall time and creation-number range of
    each call."""

    def __init__(self, layers):
        self.layers = layers
        self.calls = []  # (layer index, first seq, last seq, seconds, input tensors, output)

    def __enter__(self):
        for i, layer in enumerate(self.layers):
            object.__setattr__(layer, "call", self._timed(i, layer.call))
        return self

    def __exit__(self, *exc):
        for layer in self.layers:
            object.__delattr__(layer, "call")  # the class's call shows through again
        return False

    def _timed(self, index, call):
        def timed(*args, **kwargs):
            first = next(tensor_module._creation)
            start = time.perf_counter()
            out = call(*args, **kwargs)
            seconds = time.perf_counter() - start
            inputs = [t for t in _flat(args) if isinstance(t, Tensor)]
            self.calls.append((index, first, next(tensor_module._creation), seconds, inputs,
                               out))
            return out
        return timed


def _flat(x):
    if isinstance(x, dict):
        return [v for item in x.values() for v in _flat(item)]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def _needs_grad(roots, trainable):
    """Ids of the tensors that lie on a path from a trainable variable (the ones
    whose gradient the backward pass computes)."""
    relevant = {id(v) for v in trainable}
    for t in _interior(roots):
        if any(id(p) in relevant for p in t._parents):
            relevant.add(id(t))
    return relevant


def _time_backwards(roots, calls, n_layers):
    """Wraps the backward functions of every op in the graph below `roots` that a
    recorded layer call created; returns the per-layer seconds list they fill."""
    seconds = [0.0] * n_layers
    calls = sorted(calls, key=lambda c: c[1])
    starts = [c[1] for c in calls]
    for t in _interior(roots):
        i = bisect.bisect_right(starts, t._seq) - 1
        if i < 0 or t._seq > calls[i][2]:
            continue
        layer_index = calls[i][0]
        t._backward = _timed_backward(t._backward, seconds, layer_index)
    return seconds


def _timed_backward(backward, seconds, index):
    def timed(g, needs):
        start = time.perf_counter()
        out = backward(g, needs)
        seconds[index] += time.perf_counter() - start
        return out
    return timed


def _step(model, layers, x, ys, sws, n):
    """One forward + backward; per-layer (forward s, backward s), the calls, the
    ids of tensors whose gradient is computed, and the whole step's seconds."""
    trainable = model.trainable_weights
    start = time.perf_counter()
    with _Recorder(layers) as rec, record():
        outs = model._forward(x, True)
        roots = [model._total_loss(ys, outs, sws)[0]] if ys is not None else outs
    backward_s = _time_backwards(roots, rec.calls, len(layers))
    relevant = _needs_grad(roots, trainable) if trainable else set()
    if trainable:
        grad_arrays(roots, trainable)
    total_s = time.perf_counter() - start
    forward_s = [0.0] * len(layers)
    for index, _, _, seconds, _, _ in rec.calls:
        forward_s[index] += seconds
    return forward_s, backward_s, rec.calls, relevant, total_s


def _layer_flops(layer, calls, relevant, trainable_ids):
    forward = backward = 0
    for _, _, _, _, inputs, out in calls:
        outputs = [t for t in _flat(out) if isinstance(t, Tensor)]
        if not inputs or not outputs:
            return None, None
        f, gemm_like = _forward_flops(layer, inputs[0].shape, outputs[0].shape)
        if f is None:
            return None, None
        forward += f
        if gemm_like:
            weight_grad = any(id(w) in trainable_ids for w in layer.trainable_weights)
            input_grad = any(id(t) in relevant for t in inputs)
            backward += f * (weight_grad + input_grad)
        else:
            backward += f
    return forward, backward


def profile_model(model, x, y=None, batch_size=32, steps=5, print_fn=None):
    """Times `steps` training steps (after one warm-up step) on the first
    `batch_size` samples of x (and y) and returns one dict per layer; see the
    module docstring for the method. With y, the step's loss is the compiled one
    (the model must be compiled); without, the backward pass starts from ones
    (the gradient of the sum of the outputs). Prints a table (print_fn, default
    print; pass print_fn=False for none)."""
    from pykern.layers.input_layer import InputLayer
    from pykern.models.data import standardize
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"profile: steps must be a positive int, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"profile: batch_size must be a positive int, got {batch_size!r}")
    if y is not None and model._compiled is None:
        raise ValueError(f"profile: model {model.name!r} must be compiled to profile with "
                         f"targets y (the loss comes from compile); pass y=None to start "
                         f"the backward pass from the outputs")
    names = model._compiled.output_names if model._compiled else model._output_names()
    xb, ys, sws, n = standardize(model, _first(x, batch_size), _first(y, batch_size), None,
                                 None, names, what="profile", need_targets=False)
    if not model.built or not model.weights:
        with no_grad():
            model(xb, training=False)
    device = model._device()
    xb = model._place(device, xb)
    ys = None if y is None else model._place(device, ys)
    sws = model._place(device, sws)
    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    state = [(v, v.numpy()) for v in model.non_trainable_weights]
    try:
        runs = [_step(model, layers, xb, ys, sws, n) for _ in range(steps + 1)][1:]
    finally:
        for v, value in state:
            v.assign(value)
    trainable_ids = {id(w) for w in model.trainable_weights}
    _, _, calls, relevant, _ = runs[-1]
    peak = _peak_gflops()
    rows = []
    for i, layer in enumerate(layers):
        fwd = statistics.median(r[0][i] for r in runs)
        bwd = statistics.median(r[1][i] for r in runs)
        flops = _layer_flops(layer, [c for c in calls if c[0] == i], relevant, trainable_ids)
        rows.append(_row(layer, calls, i, fwd, bwd, flops, peak))
    if print_fn is not False:
        total_s = statistics.median(r[4] for r in runs)
        (print_fn or print)(_table(model, rows, n, steps, total_s, peak))
    return rows


def _row(layer, calls, index, forward_s, backward_s, flops, peak):
    outs = [c[5] for c in calls if c[0] == index]
    shape = tuple(outs[0].shape) if outs and isinstance(outs[0], Tensor) else None
    row = {"layer": layer.name, "type": getattr(layer, "_class_name", type(layer).__name__),
           "output_shape": shape, "calls": len(outs), "forward_ms": 1e3 * forward_s,
           "backward_ms": 1e3 * backward_s, "forward_flops": flops[0],
           "backward_flops": flops[1]}
    for part, seconds, count in (("forward", forward_s, flops[0]),
                                 ("backward", backward_s, flops[1])):
        rate = count / seconds * 1e-9 if count and seconds > 0 else None
        row[f"{part}_gflops"] = rate
        row[f"{part}_pct_peak"] = None if rate is None or not peak else 100.0 * rate / peak
    return row


def _table(model, rows, n, steps, total_s, peak):
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)
    header = ["Layer (type)", "Output shape", "fwd ms", "bwd ms", "fwd GFLOP/s", "bwd GFLOP/s",
              "fwd %peak", "bwd %peak"]
    body = [[f"{r['layer']} ({r['type']})", str(r["output_shape"]),
             num(r["forward_ms"], ".3f"), num(r["backward_ms"], ".3f"),
             num(r["forward_gflops"], ".1f"), num(r["backward_gflops"], ".1f"),
             num(r["forward_pct_peak"], ".1f"), num(r["backward_pct_peak"], ".1f")]
            for r in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    lines = [(f'Profile of "{model.name}": batch {n}, median of {steps} steps, measured '
              f"fp32 peak {peak:.1f} GFLOP/s")]
    lines += ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(line, widths))) for line in [header] + body]
    lines.insert(2, "-" * len(lines[1]))
    fwd = sum(r["forward_ms"] for r in rows)
    bwd = sum(r["backward_ms"] for r in rows)
    lines.append(f"layers: forward {fwd:.3f} ms, backward {bwd:.3f} ms; whole step (loss, "
                 f"gradient sums, no optimizer) {1e3 * total_s:.3f} ms")
    return "\n".join(lines)
