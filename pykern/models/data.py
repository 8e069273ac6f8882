"""Data adapters for fit/evaluate/predict: arrays (or lists/dicts of them),
Python generators/iterators and pykern.utils.Sequence, all turned into batches
(x, [y per output], [sample_weight per output], batch_size).

Arrays are checked and converted once per call (float data to float32, integer
data kept, non-numeric rejected) and then only sliced per batch.
"""
import math
import warnings

import numpy as np

from pykern.backend import random as krandom
from pykern.backend.tensor import Tensor
from pykern.utils.enqueuer import Prefetcher, loading_options, ordered_batches

__all__ = ["DataHandler", "standardize", "split_validation"]

_F32 = np.float32


def _array(a, what):
    if isinstance(a, Tensor):
        a = a.numpy()
    try:
        v = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} could not be converted to an array: {e}") from None
    if v.dtype.kind not in "fiub":
        raise ValueError(f"{what} must be numeric, got an array of dtype {v.dtype}")
    if v.dtype.kind == "f" and v.dtype != _F32:
        v = v.astype(_F32)
    if v.ndim == 0:
        raise ValueError(f"{what} must have a batch dimension, got a scalar")
    return np.ascontiguousarray(v)


def _kind(model):
    """'sequential', 'functional' or None (a subclassed model)."""
    from pykern.models.functional import Functional
    from pykern.models.sequential import Sequential
    if isinstance(model, Sequential):
        return "sequential"
    return "functional" if isinstance(model, Functional) else None


def _num_inputs(model):
    kind = _kind(model)
    if kind == "sequential":
        return 1
    inputs = getattr(model, "_inputs", None) if kind == "functional" else None
    return len(inputs) if inputs else None


def _structure(data, what, n_inputs=None):
    """(flat list of arrays, rebuild function) for an array, list or dict; a list for a
    single-input model is one array (rows), not a list of inputs."""
    if isinstance(data, (list, tuple)) and n_inputs == 1 and not (
            len(data) == 1 and isinstance(data[0], (np.ndarray, Tensor))):
        data = _array(data, what)
    if isinstance(data, dict):
        keys = list(data)
        return [_array(data[k], f"{what}[{k!r}]") for k in keys], \
            lambda flat: dict(zip(keys, flat))
    if isinstance(data, (list, tuple)):
        return [_array(v, f"{what}[{i}]") for i, v in enumerate(data)], list
    return [_array(data, what)], lambda flat: flat[0]


def _per_output(data, output_names, what):
    """Targets or sample weights as one entry per output (None where absent)."""
    n = len(output_names)
    if data is None:
        return [None] * n
    if isinstance(data, dict):
        unknown = set(data) - set(output_names)
        if unknown:
            raise ValueError(f"{what} has keys {sorted(unknown)} that are not model outputs "
                             f"{output_names}")
        return [None if data.get(k) is None else _array(data[k], f"{what}[{k!r}]")
                for k in output_names]
    if isinstance(data, (list, tuple)) and n > 1:
        if len(data) != n:
            raise ValueError(f"{what} has {len(data)} entries for {n} model outputs "
                             f"{output_names}")
        return [None if d is None else _array(d, f"{what}[{i}]") for i, d in enumerate(data)]
    if n > 1:
        raise ValueError(f"{what}: the model has {n} outputs {output_names}; pass a list or "
                         f"dict with one entry per output")
    return [_array(data, what)]


def _class_weights(y, class_weight):
    """Per-sample weights class_weight[class of each sample] (argmax of one-hot rows,
    else the rounded label); classes not in the dict weigh 1."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be a dict {{class: weight}}, got {class_weight!r}")
    labels = np.argmax(y, axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else \
        np.round(y.reshape(len(y), -1)[:, 0]).astype(np.int64)
    top = max(int(k) for k in class_weight) + 1
    table = np.ones(max(top, int(labels.max(initial=0)) + 1), _F32)
    for k, w in class_weight.items():
        table[int(k)] = w
    return table[np.clip(labels, 0, len(table) - 1)]


def _check_lengths(xs, ys, sws, what):
    sizes = {len(a) for a in xs}
    if len(sizes) > 1:
        raise ValueError(f"{what}: all input arrays must have the same number of samples, got "
                         f"{sorted(len(a) for a in xs)}")
    n = sizes.pop()
    for label, arrays in (("y", ys), ("sample_weight", sws)):
        for a in arrays:
            if a is not None and len(a) != n:
                raise ValueError(f"{what} has {n} samples but {label} has {len(a)}: x and "
                                 f"{label} must have the same length")
    if n == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    return n


def _check_features(model, xs, what):
    """Compares the per-sample shapes with the model's known input shapes, once."""
    specs = None
    try:
        kind = _kind(model)
        if kind == "sequential" and model._input_layer is not None:
            specs = [model._input_layer.batch_shape]
        elif kind == "functional":
            specs = [t.shape for t in model.inputs]
    except AttributeError:
        return
    if not specs or len(specs) != len(xs):
        return
    for i, (a, spec) in enumerate(zip(xs, specs)):
        if a.ndim != len(spec) or any(s is not None and d != s
                                      for d, s in zip(a.shape[1:], spec[1:])):
            name = what if len(xs) == 1 else f"{what}[{i}]"
            raise ValueError(f"{name} has samples of shape {a.shape[1:]} but model "
                             f"{model.name!r} expects inputs of shape {tuple(spec)}")


def standardize(model, x, y, sample_weight, class_weight, output_names, what="x",
                need_targets=True):
    """One batch as (x, ys, sws, n), checked."""
    if x is None:
        raise ValueError(f"{what}: no input data was given")
    xs, rebuild = _structure(x, what, _num_inputs(model))
    ys = _per_output(y, output_names, "y") if output_names else []
    if need_targets and output_names and all(v is None for v in ys):
        raise ValueError(f"{what}: targets y are required to train or evaluate model "
                         f"{model.name!r}")
    sws = _per_output(sample_weight, output_names, "sample_weight") if output_names else []
    n = _check_lengths(xs, ys, sws, what)
    if class_weight is not None:
        if len(ys) != 1:
            raise ValueError("class_weight is only supported for models with a single output")
        cw = _class_weights(ys[0], class_weight)
        sws = [cw if sws[0] is None else sws[0] * cw]
    return rebuild(xs), ys, sws, n


def split_validation(x, y, sample_weight, validation_split):
    """(train (x, y, sw), validation (x, y, sw)): the LAST fraction, before any shuffling."""
    def take(d, sl):
        if d is None:
            return None
        if isinstance(d, dict):
            return {k: take(v, sl) for k, v in d.items()}
        if isinstance(d, (list, tuple)):
            return [take(v, sl) for v in d]
        if not hasattr(d, "__len__") or not hasattr(d, "shape") and not isinstance(d, list):
            raise ValueError("validation_split is only supported for arrays (not generators "
                             "or Sequences)")
        return np.asarray(d.numpy() if isinstance(d, Tensor) else d)[sl]

    first = x
    while isinstance(first, (list, tuple, dict)):
        first = list(first.values())[0] if isinstance(first, dict) else first[0]
    if not hasattr(first, "shape"):
        raise ValueError("validation_split is only supported for arrays (not generators or "
                         "Sequences)")
    n = len(first)
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={validation_split} leaves an empty training or "
                         f"validation set for {n} samples")
    head, tail = slice(0, split_at), slice(split_at, None)
    return ((take(x, head), take(y, head), take(sample_weight, head)),
            (take(x, tail), take(y, tail), take(sample_weight, tail)))


class DataHandler:
    """Batches for each epoch, from arrays, a Sequence or a generator. `loading`
    holds Keras 2's fit arguments workers / use_multiprocessing / max_queue_size
    (None where not given: a Sequence's own attributes apply). close() (or leaving a
    `with` block) shuts down the threads or processes that prepare batches."""

    def __init__(self, model, x, y, sample_weight, batch_size, steps, shuffle, class_weight,
                 output_names, training, what="x", need_targets=True, loading=None):
        from pykern.utils.sequence import Sequence
        self.model, self.output_names = model, output_names or []
        self.class_weight, self.need_targets, self.what = class_weight, need_targets, what
        self.exhausted = False
        self.shuffle = shuffle
        self._open = []  # batch streams to close: the epoch in progress, a prefetcher
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or
                                  steps < 1):
            raise ValueError(f"steps must be a positive int or None, got {steps!r}")
        if isinstance(x, Sequence) or _is_iterator(x):
            if batch_size is not None:
                raise ValueError(f"batch_size={batch_size} must not be given when {what} is a "
                                 f"generator or Sequence (it yields whole batches)")
            if y is not None or sample_weight is not None:
                raise ValueError(f"y and sample_weight must not be given when {what} is a "
                                 f"generator or Sequence (it yields them)")
            self.kind = "sequence" if isinstance(x, Sequence) else "generator"
            self.source = x
            self.loading = loading_options(x, **(loading or {}))
            self.iterator = None if self.kind == "sequence" else iter(x)
            if self.kind == "generator" and self.loading is not None:
                self.iterator = Prefetcher(self.iterator, self.loading[2])
                self._open.append(self.iterator)
            self.steps = steps if steps is not None else (
                len(x) if self.kind == "sequence" else None)
            if self.kind == "sequence" and self.steps == 0:
                raise ValueError(f"{what}: the Sequence is empty (len 0)")
            return
        if batch_size is None:
            batch_size = 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.kind = "arrays"
        batch, self.ys, self.sws, self.n = standardize(
            model, x, y, sample_weight, class_weight, self.output_names, what, need_targets)
        self.xs, self.rebuild = _structure(batch, what)
        _check_features(model, self.xs, what)
        self.batch_size = batch_size
        self.passes_batches = math.ceil(self.n / batch_size)
        self.steps_per_epoch = steps
        self.steps = self.passes_batches if steps is None else steps
        self._order, self._cursor = None, 0  # the pass over the data in progress

    def epoch(self, epoch):
        if self.kind == "arrays":
            return self._array_batches()
        if self.kind == "sequence":
            return self._sequence_batches()
        return self._generator_batches()

    def close(self):
        while self._open:
            self._open.pop().close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _new_pass(self):
        n, bs = self.n, self.batch_size
        order = None
        if self.shuffle == "batch":
            starts = krandom.permutation(self.passes_batches) * bs
            order = np.concatenate([np.arange(s, min(s + bs, n)) for s in starts])
        elif self.shuffle:
            order = krandom.permutation(n)
        self._order, self._cursor = (order if order is not None else False), 0

    def _array_batches(self):
        """With steps_per_epoch, a pass over the data continues across epochs and an
        epoch that reaches the end of the data stops early, as Keras 3 does."""
        n, bs = self.n, self.batch_size
        xs, ys, sws = self.xs, self.ys, self.sws
        single = len(xs) == 1
        if self._order is None or self.steps_per_epoch is None:
            self._new_pass()
        for _ in range(self.steps):
            if self._cursor >= self.passes_batches:
                warnings.warn("Your input ran out of data; interrupting the epoch. Make sure "
                              "that your data can generate at least steps_per_epoch * epochs "
                              "batches.", stacklevel=4)
                break
            lo, hi = self._cursor * bs, min(n, (self._cursor + 1) * bs)
            self._cursor += 1
            order = self._order
            if order is False:
                sl = slice(lo, hi)
                xb = xs[0][sl] if single else self.rebuild([a[sl] for a in xs])
                yb = [None if a is None else a[sl] for a in ys]
                wb = [None if a is None else a[sl] for a in sws]
            else:
                idx = order[lo:hi]
                xb = xs[0].take(idx, axis=0) if single else \
                    self.rebuild([a.take(idx, axis=0) for a in xs])
                yb = [None if a is None else a.take(idx, axis=0) for a in ys]
                wb = [None if a is None else a.take(idx, axis=0) for a in sws]
            yield xb, yb, wb, hi - lo
        if self._cursor >= self.passes_batches:
            self._order = None

    def _unpack(self, item):
        if isinstance(item, tuple) and 1 <= len(item) <= 3:
            x = item[0]
            y = item[1] if len(item) > 1 else None
            sw = item[2] if len(item) > 2 else None
        else:
            x, y, sw = item, None, None
        return standardize(self.model, x, y, sw, self.class_weight, self.output_names,
                           self.what, self.need_targets)

    def _sequence_batches(self):
        """Batch order shuffled per epoch when fit's shuffle is True, as Keras does."""
        seq = self.source
        seq.on_epoch_begin()
        n = len(seq)
        order = krandom.permutation(n) if self.shuffle else np.arange(n)
        indices = [int(order[i % n]) for i in range(self.steps)]
        if self.loading is None:
            batches = (seq[i] for i in indices)
        else:
            batches = ordered_batches(seq, indices, *self.loading)
            self._open.append(batches)
        for item in batches:
            yield self._unpack(item)
        if self.loading is not None:
            self._open.remove(batches)
        seq.on_epoch_end()

    def _generator_batches(self):
        count = 0
        while self.steps is None or count < self.steps:
            try:
                item = next(self.iterator)
            except StopIteration:
                self.exhausted = True
                return
            count += 1
            yield self._unpack(item)


def _is_iterator(x):
    if isinstance(x, (np.ndarray, Tensor, list, tuple, dict, str, bytes)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__iter__") and not hasattr(x, "__len__"))
