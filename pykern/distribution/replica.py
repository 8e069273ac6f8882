"""One process's replica of a model in data-parallel training: what the trainer
calls so that every process holds the same weights after every step.

- `start` (first step of each fit, and evaluate): the model and optimizer must
  have the same variables (shapes, dtypes, trainable flags) on every process,
  compared by a hash and reported by name when they differ; then rank 0's
  weights and optimizer state are broadcast.
- `reduce_gradients` (every step): ONE allreduce of a fusion buffer, a float32
  array that holds, in a fixed order,

      [ n_r * gradient of every trainable variable | n_r * value of every state
        variable | presence: n_r + 1 in slot r, one slot per rank | has-gradient
        flags, one per trainable variable ]

  where n_r is this process's share of the global batch (0 for an empty
  share). After the sum, every process divides by N = sum of n_r, so the
  gradient is the global batch's: with a mean loss, sum_r n_r * (mean over
  share r) / N is the mean over the whole batch, the regularization terms
  included. State variables are the float variables that training assigns
  without gradients (BatchNormalization's moving statistics: non-trainable
  weights of trainable layers); they get the same n_r-weighted mean, which for
  moving means equals the moving mean of the global batch. Every process reads
  the same reduced buffer, so the optimizer steps are bitwise identical. The
  presence slots detect a process that ran out of batches while others had one.
- `reduced` (whenever logs are read): the loss trackers' and metrics' float64
  accumulators are summed over processes in one allreduce and the logs are
  computed from the sums, so every process (and every callback) sees the
  global values while each keeps its own running state.
"""
import contextlib
import hashlib
import time
import warnings

import numpy as np

from pykern.backend import devices
from pykern.distribution.sharding import Sampler, share, take_rows
from pykern.distribution.world import DistributionError

__all__ = ["Replica"]


def _offsets(storages):
    out, o = [], 0
    for s in storages:
        out.append(o)
        o += int(np.prod(s.shape, dtype=np.int64))
    return out, o


def _state_variables(model):
    """Float non-trainable variables of trainable layers (training assigns them:
    BatchNormalization's moving mean and variance), each once, in layer order."""
    out, seen = [], set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        for v in layer._own_variables():
            if not v.trainable and layer._trainable and v.dtype.kind == "f" and \
                    id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for sub in layer._layers:
            visit(sub)
    visit(model)
    return out


class _Fusion:
    """The fusion buffer's layout for one fit: trainable variables, state variables,
    offsets, and the buffer itself on their device."""

    def __init__(self, trainable, state, size):
        self.device = devices.of(list(trainable) + list(state), "data-parallel training")
        self.k = self.device.k
        self.trainable, self.state = list(trainable), list(state)
        offsets, end = _offsets([v._data for v in self.trainable + self.state])
        self.grad_offsets = offsets[:len(self.trainable)]
        self.state_offsets = offsets[len(self.trainable):]
        self.header_at = end
        self.size = size
        self.buffer = self.k.full((end + size + len(self.trainable),), 0.0)
        self._zeros = {}

    def zeros(self, i):
        """A zero gradient for trainable variable i (packed for a None gradient)."""
        if i not in self._zeros:
            self._zeros[i] = self.k.full(self.trainable[i].shape, 0.0)
        return self._zeros[i]

    def signature(self):
        return ("fusion", self.header_at, len(self.state))


class Replica:
    """Keeps one model equal across the processes of `world` (see the module
    docstring); `stats` counts steps, bytes and seconds spent communicating."""

    def __init__(self, distribution, world):
        self.distribution, self.world = distribution, world
        self.rank, self.size = world.rank, world.size
        self.control = world.control
        self.auto_shard = distribution.auto_shard_dataset
        self.sampler = Sampler(devices.CPU.k)
        self.fusion = None
        self.step = 0
        self._metric_signature = None
        self._log_reads = 0
        self._unreducible_warned = set()
        self.stats = {"steps": 0, "bytes_per_step": 0, "allreduce_s": 0.0, "pack_s": 0.0}

    # --- data -----------------------------------------------------------------------------
    def attach(self, data, training):
        """Makes a DataHandler's shuffled order common; fit's global batch size must
        divide by the number of processes, as Keras 3 requires."""
        if not self.auto_shard or data.kind != "arrays":
            return
        if training and data.batch_size % self.size:
            raise ValueError(f"fit: the global batch_size={data.batch_size} is not divisible by "
                             f"the {self.size} processes of DataParallel; each process trains "
                             f"on batch_size / num_processes rows (Keras 3 requires the same)")
        if data.shuffle:
            data.sampler = self.sampler

    def shard(self, batches):
        """This process's rows of every global batch (all of each with
        auto_shard_dataset=False, where each process reads its own data)."""
        for x, ys, sws, n in batches:
            if not self.auto_shard:
                yield x, ys, sws, n
                continue
            lo, hi = share(n, self.rank, self.size)
            yield take_rows(x, lo, hi), take_rows(ys, lo, hi), take_rows(sws, lo, hi), hi - lo

    def agree(self, *flags):
        """Each flag OR-ed over all processes (which batch hooks need logs: a chief-only
        callback must not make rank 0 read logs alone)."""
        every = self.control.allgather_object(tuple(bool(f) for f in flags),
                                              "agreement on the callbacks' batch hooks")
        return tuple(any(col) for col in zip(*every))

    # --- start: the same model everywhere -------------------------------------------------
    def start(self, model, trainable=None, optimizer=None):
        """Checks that every process has the same model (and optimizer), then gives
        every process rank 0's weights (and optimizer state). With `trainable`,
        prepares the fusion buffer for training steps."""
        if trainable is not None:
            _check_mean_losses(model)
            self.fusion = _Fusion(trainable, _state_variables(model), self.size)
        self._check_same_model(model, optimizer)
        variables, seen = [], set()
        for v in list(model.weights) + (list(optimizer.variables) if optimizer else []):
            if id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
        self._broadcast(variables)
        if self.fusion is not None:
            self.stats["bytes_per_step"] = int(self.fusion.buffer.nbytes)

    def _signature(self, model, optimizer):
        """(what must match, names for the message) of the model and optimizer."""
        weights = [(v.path, tuple(v.shape), v.dtype.name, bool(v.trainable))
                   for v in model.weights]
        match = [w[1:] for w in weights]
        if optimizer is not None:
            match.append((type(optimizer).__name__,
                          [(tuple(v.shape), v.dtype.name) for v in optimizer.variables]))
        if self.fusion is not None:
            match.append(self.fusion.signature())
        return match, weights

    def _check_same_model(self, model, optimizer):
        match, weights = self._signature(model, optimizer)
        digest = hashlib.sha256(repr(match).encode()).hexdigest()
        what = "comparison of the model across processes"
        digests = self.control.allgather_object(digest, what)
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if not differ:
            return
        every = self.control.allgather_object((match, weights), what)
        raise DistributionError(_mismatch_message(model, every, differ))

    def _broadcast(self, variables):
        """Rank 0's values of `variables`: one broadcast per (device, dtype)."""
        groups = {}
        for v in variables:
            groups.setdefault((v.device, v.dtype), []).append(v)
        for (device, dtype), group in groups.items():
            k = device.k
            storages = [v._data for v in group]
            offsets, total = _offsets(storages)
            buf = k.full((total,), 0, dtype)
            if self.rank == 0:
                k.pack_(buf, storages, offsets)
            k.broadcast_(buf, 0, f"broadcast of rank 0's {dtype.name} weights and "
                                 f"optimizer state")
            k.unpack_(buf, storages, offsets)

    # --- one training step ----------------------------------------------------------------
    def reduce_gradients(self, grads, n):
        """The global batch's gradients (None where no process has one) from this
        process's gradients of its mean loss over its n rows; updates the state
        variables to their mean over processes."""
        f, k, size = self.fusion, self.fusion.k, self.size
        t0 = time.perf_counter()
        header = np.zeros(size + len(grads), np.float32)
        header[self.rank] = n + 1
        header[size:] = [g is not None for g in grads]
        packed = [g if g is not None else f.zeros(i) for i, g in enumerate(grads)]
        k.pack_(f.buffer, packed + [v._data for v in f.state],
                f.grad_offsets + f.state_offsets, scale=float(n))
        k.pack_(f.buffer, [k.from_host(header)], [f.header_at])
        t1 = time.perf_counter()
        k.allreduce_sum_(f.buffer, f"the allreduce of gradients at step {self.step}")
        t2 = time.perf_counter()
        head = np.array(k.to_host(k.getitem(f.buffer, slice(f.header_at, None))))
        self._check_present(head[:size], "a batch")
        total = float(head[:size].sum()) - size
        result, outs, offsets = [None] * len(grads), [], []
        for i, (g, flag) in enumerate(zip(grads, head[size:])):
            if flag > 0 and total > 0:
                result[i] = g if g is not None else k.full(f.trainable[i].shape, 0.0)
                outs.append(result[i])
                offsets.append(f.grad_offsets[i])
        if total > 0:
            k.unpack_(f.buffer, outs + [v._data for v in f.state],
                      offsets + f.state_offsets, divisor=total)
        self.step += 1
        s = self.stats
        s["steps"] += 1
        s["allreduce_s"] += t2 - t1
        s["pack_s"] += (t1 - t0) + (time.perf_counter() - t2)
        return result

    def end_of_data(self):
        """Called when this process's data ran out: fails, naming the ranks, when
        another process still had a batch for the same step."""
        f = self.fusion
        if f is None:
            return
        buf = f.k.full(f.buffer.shape, 0.0)
        f.k.allreduce_sum_(buf, f"the allreduce that ends the epoch at step {self.step}")
        head = f.k.to_host(f.k.getitem(buf, slice(f.header_at, f.header_at + self.size)))
        self._check_present(np.array(head), "a batch")

    def _check_present(self, slots, what):
        have = [r for r, v in enumerate(slots) if v > 0]
        if have and len(have) < self.size:
            lack = [r for r in range(self.size) if r not in have]
            raise DistributionError(
                f"batch count mismatch at step {self.step}: rank(s) {lack} ran out of data "
                f"while rank(s) {have} had {what}; every process must draw the same number "
                f"of batches (the same generator or Sequence length, or steps_per_epoch)")

    # --- logs -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def reduced(self, metrics, device):
        """Inside the block, `metrics` hold their sums over all processes; their own
        running state comes back after it."""
        reducible, local = [], []
        for m in metrics:
            state = m._sum_state(device)
            if state is not None:
                reducible.append(m)
                local.append(state)
            elif m.name not in self._unreducible_warned:
                self._unreducible_warned.add(m.name)
                warnings.warn(f"metric {m.name!r} ({type(m).__name__}) keeps state pykern "
                              f"cannot sum across processes; its logged value covers this "
                              f"process's share of the data only", stacklevel=4)
        flat = [s for state in local for s in state]
        self._check_same_metrics(reducible, local)
        k = device.k
        offsets, total = _offsets(flat)
        buf = k.full((total + self.size,), 0.0, "float64")
        k.pack_(buf, flat, offsets)
        self._log_reads += 1
        k.pack_(buf, [k.from_host(np.array([self._log_reads], np.float64))],
                [total + self.rank])
        k.allreduce_sum_(buf, f"the allreduce of metrics (log read {self._log_reads})")
        stamps = np.array(k.to_host(k.getitem(buf, slice(total, None))))
        if np.any(stamps != stamps[0]):
            raise DistributionError(
                f"the processes read their logs at different points: log read number per "
                f"rank {stamps.astype(int).tolist()}; they ran different numbers of steps "
                f"or callbacks")
        sums, i = [], 0
        for state in local:
            part = []
            for s in state:
                o = offsets[i]
                n = int(np.prod(s.shape, dtype=np.int64))
                part.append(k.reshape(k.getitem(buf, slice(o, o + n)), s.shape))
                i += 1
            sums.append(part)
        for m, state in zip(reducible, sums):
            m._load_sum_state(state)
        try:
            yield
        finally:
            for m, state in zip(reducible, local):
                m._load_sum_state(state)

    def _check_same_metrics(self, metrics, states):
        signature = [(type(m).__name__, [tuple(s.shape) for s in st])
                     for m, st in zip(metrics, states)]
        if signature == self._metric_signature:
            return
        every = self.control.allgather_object(signature, "comparison of the metrics")
        differ = [r for r, sig in enumerate(every) if sig != every[0]]
        if differ:
            raise DistributionError(
                f"the metrics differ between processes: rank 0 has {every[0]}, rank "
                f"{differ[0]} has {every[differ[0]]}; compile the same metrics everywhere")
        self._metric_signature = signature


def _check_mean_losses(model):
    """The n_r / N weighting makes the mean over shares the mean over the batch; a
    loss summed over the batch, or divided by its sample weights, would need other
    weights, so it is refused rather than trained wrong."""
    for name, term in zip(model._compiled.output_names, model._compiled.loss_terms):
        reduction = getattr(term.fn, "reduction", "sum_over_batch_size") if term else None
        if reduction not in (None, "sum_over_batch_size"):
            raise NotImplementedError(
                f"DataParallel averages the gradients of mean losses; the loss of output "
                f"{name!r} has reduction={reduction!r}. Use reduction='sum_over_batch_size' "
                f"(Keras' default)")


def _mismatch_message(model, every, differ):
    """Names the first weight that differs between rank 0 and each differing rank."""
    (ref, ref_names) = every[0]
    lines = []
    for r in differ:
        match, names = every[r]
        if len(names) != len(ref_names):
            lines.append(f"rank {r}'s model has {len(names)} weights, rank 0's has "
                         f"{len(ref_names)}")
            continue
        for i, (a, b) in enumerate(zip(ref_names, names)):
            if a[1:] != b[1:]:
                lines.append(f"weight {i} is {a[0]!r} {a[1]} {a[2]}"
                             f"{'' if a[3] else ' (non-trainable)'} on rank 0 but {b[0]!r} "
                             f"{b[1]} {b[2]}{'' if b[3] else ' (non-trainable)'} on rank {r}")
                break
        else:
            lines.append(f"rank {r}'s optimizer or training state differs from rank 0's: "
                         f"{match[len(names):]} vs {ref[len(ref_names):]}")
    return (f"model {model.name!r} differs between processes: " + "; ".join(lines) +
            ". Every process must build and compile the same model.")
