"""compile / fit / evaluate / predict and the batch methods, mixed into Model.

One training step is: the batch placed on the model's device (once), the
forward pass with training=True, the compiled loss (x loss_weights, + the
layers' regularization losses), one backward pass over the graph
(`grad_arrays`, owned float32 storage), one optimizer call for all parameters,
and the metric updates. Loss and metric accumulators stay on the device; values
come to the host only where a log or a callback reads them. Everything that
does not change between steps (targets, trainable variables, optimizer plan,
which callbacks need per-batch logs) is prepared once per fit, not per batch.

A sigmoid/softmax output followed by the matching crossentropy on
probabilities trains on the logits (stable): the activation op attaches its
logits to its output and the crossentropy reads them, as TensorFlow-Keras does
(keras_behaviour.md §3.2). No layer is modified for it.
"""
import contextlib
import copy
import warnings

import numpy as np

from pykern import losses as klosses
from pykern import metrics as kmetrics
from pykern import optimizers as koptimizers
from pykern.backend import devices
from pykern.backend.autograd import grad_arrays
from pykern.backend.tensor import Tensor, no_grad, record
from pykern.callbacks import CallbackList
from pykern.models.data import DataHandler, _kind, split_validation, standardize

__all__ = ["Trainer"]

_F32 = np.float32
def _loss_name(spec):
    if isinstance(spec, str):
        return spec
    return getattr(spec, "name", None) or getattr(spec, "__name__", "loss")


class _OutputLoss:
    """One output's loss: the callable and its weight."""

    def __init__(self, spec, weight):
        self.spec = spec
        self.fn = klosses.get(spec)
        self.weight = float(weight)

    def __call__(self, y, out, sw):
        if isinstance(self.fn, klosses.Loss):
            return self.fn(y, out, sample_weight=sw)
        values = self.fn(y, out)
        if not isinstance(values, Tensor):
            values = ops_convert(values, out)
        return klosses.reduce_values(values, sw, "sum_over_batch_size")


def ops_convert(values, like):
    """A custom loss's returned array as a tensor on like's device."""
    return Tensor._wrap(like.device.k.from_host(np.asarray(values, np.float32)), like.device)


def _resolve_metric(spec, y, p, output_loss):
    """A Metric for one compile entry; 'accuracy'/'acc' and 'crossentropy'/'ce' follow
    the shapes as Keras does (binary if y_pred's last dim is 1, sparse if y_true has a
    lower rank or a trailing 1 while y_pred has several classes)."""
    if isinstance(spec, str) and spec in ("accuracy", "acc", "crossentropy", "ce"):
        binary = p.shape[-1:] == (1,) if p.ndim else True
        sparse = y.ndim < p.ndim or (y.shape[-1:] == (1,) and p.shape[-1] > 1)
        if spec in ("accuracy", "acc"):
            cls = kmetrics.BinaryAccuracy if binary else (
                kmetrics.SparseCategoricalAccuracy if sparse else kmetrics.CategoricalAccuracy)
        else:
            cls = kmetrics.BinaryCrossentropy if binary else (
                kmetrics.SparseCategoricalCrossentropy if sparse else
                kmetrics.CategoricalCrossentropy)
        return cls(name=spec)
    if isinstance(spec, kmetrics.Metric):
        return spec
    m = kmetrics.get(spec)
    if not isinstance(m, kmetrics.Metric):  # a plain function
        m = kmetrics.MeanMetricWrapper(m, name=getattr(m, "__name__", "metric"))
    return m


class _Compiled:
    """What compile() fixed: optimizer, per-output losses and metric specs."""

    def __init__(self, model, optimizer, loss, loss_weights, metrics, weighted_metrics):
        self.optimizer = koptimizers.get(optimizer)
        self.output_names = model._output_names()
        if _kind(model) is None:
            # a subclassed model's outputs are known from the losses given per output
            if isinstance(loss, dict):
                self.output_names = list(loss)
            elif isinstance(loss, (list, tuple)) and len(loss) > 1:
                self.output_names = [f"output_{i}" for i in range(len(loss))]
        n = len(self.output_names)
        self.losses = self._per_output(loss, "loss", n)
        weights = self._per_output(loss_weights, "loss_weights", n, default=1.0) \
            if loss_weights is not None else [1.0] * n
        self.loss_terms = [None if spec is None else _OutputLoss(spec, w)
                           for spec, w in zip(self.losses, weights)]
        self.metric_specs = self._metric_lists(metrics, n)
        self.weighted_specs = self._metric_lists(weighted_metrics, n)
        self.metrics = None  # resolved on the first batch (they depend on shapes)
        self.loss_tracker = kmetrics.Mean(name="loss")
        self.output_loss_trackers = [kmetrics.Mean(name=f"{name}_loss")
                                     for name in self.output_names] if n > 1 else []
        self.trainable = None
        self.device = None  # the model's device, fixed for a fit
        self.loss_sources = None  # (layers, regularized variables) fixed for a fit

    def _per_output(self, spec, what, n, default=None):
        names = self.output_names
        if isinstance(spec, dict):
            unknown = set(spec) - set(names)
            if unknown:
                raise ValueError(f"compile: {what} has keys {sorted(unknown)} that are not "
                                 f"model outputs {names}")
            return [spec.get(k, default) for k in names]
        if isinstance(spec, (list, tuple)):
            if len(spec) != n:
                raise ValueError(f"compile: {what} has {len(spec)} entries for {n} model "
                                 f"outputs {names}")
            return list(spec)
        return [spec] * n

    def _metric_lists(self, metrics, n):
        if metrics is None:
            return [[] for _ in range(n)]
        if isinstance(metrics, dict):
            out = []
            for name in self.output_names:
                m = metrics.get(name, [])
                out.append(list(m) if isinstance(m, (list, tuple)) else [m])
            return out
        if isinstance(metrics, (list, tuple)) and n > 1 and metrics and all(
                isinstance(m, (list, tuple)) for m in metrics):
            if len(metrics) != n:
                raise ValueError(f"compile: metrics has {len(metrics)} lists for {n} outputs")
            return [list(m) for m in metrics]
        if not isinstance(metrics, (list, tuple)):
            raise ValueError(f"compile: metrics must be a list or dict, got {metrics!r}")
        return [list(metrics) for _ in range(n)]

    def build_metrics(self, ys, ps):
        """Resolves the metric specs against the first batch; names as the user wrote
        them (prefixed by the output name for multi-output models), duplicates _1, _2."""
        self.metrics = []
        used = {"loss"}
        multi = len(self.output_names) > 1
        for i, (name, y, p) in enumerate(zip(self.output_names, ys, ps)):
            for specs, weighted in ((self.metric_specs[i], False),
                                    (self.weighted_specs[i], True)):
                for spec in specs:
                    m = _resolve_metric(spec, y, p, self.loss_terms[i])
                    if m in [e[1] for e in self.metrics]:
                        m = copy.deepcopy(m)
                    label = spec if isinstance(spec, str) else m.name
                    if weighted and isinstance(spec, str):
                        label = f"weighted_{label}"
                    key = f"{name}_{label}" if multi else label
                    base, k = key, 1
                    while key in used:
                        key = f"{base}_{k}"
                        k += 1
                    used.add(key)
                    self.metrics.append((i, m, key, weighted))


class Trainer:
    """The Keras training API, mixed into Model."""

    optimizer = None
    loss = None
    history = None
    stop_training = False
    _compiled = None

    # --- structure ------------------------------------------------------------------------
    def _output_names(self):
        outputs = getattr(self, "_outputs", None)
        if outputs and _kind(self) == "functional":
            struct = getattr(self, "_output_struct", None)
            if isinstance(struct, dict):
                return list(struct)
            return [t._keras_history[0].name for t in outputs]
        return ["output"]

    # --- compile --------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures training: optimizer (name, config or instance), loss (one per
        output, or a dict/list), loss_weights, metrics and weighted_metrics.

        pykern always runs eagerly on native kernels, so run_eagerly, jit_compile
        and auto_scale_loss (there is no mixed precision) are accepted and change
        nothing. steps_per_execution=N keeps Keras' visible behaviour: batch-level
        callbacks run once per N steps (there is no compiled graph whose round trips
        it would save)."""
        if isinstance(steps_per_execution, bool) or not isinstance(
                steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"compile: steps_per_execution must be a positive int, got "
                             f"{steps_per_execution!r}")
        c = _Compiled(self, optimizer, loss, loss_weights, metrics, weighted_metrics)
        c.steps_per_execution = steps_per_execution
        object.__setattr__(self, "_compiled", c)
        object.__setattr__(self, "optimizer", c.optimizer)
        object.__setattr__(self, "loss", loss)
        object.__setattr__(self, "compiled_loss", loss)
        object.__setattr__(self, "_compile_config", {
            "optimizer": c.optimizer, "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": weighted_metrics,
            "run_eagerly": run_eagerly, "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile})
        self.stop_training = False

    def _require_compiled(self, what):
        if self._compiled is None:
            raise ValueError(f"You must call compile() before {what} on model {self.name!r}")
        return self._compiled

    @property
    def metrics_names(self):
        """As Keras 3: ['loss', 'compile_metrics'] when metrics were compiled, else
        ['loss'] (the per-metric names are the keys of evaluate(return_dict=True))."""
        c = self._compiled
        if c is None:
            return []
        if any(c.metric_specs) or any(c.weighted_specs):
            return ["loss", "compile_metrics"]
        return ["loss"]

    @property
    def metrics(self):
        c = self._compiled
        if c is None:
            return []
        return [c.loss_tracker] + ([m for _, m, _, _ in c.metrics] if c.metrics else [])

    def get_compile_config(self):
        """The compile arguments as JSON-ready values (Keras' compile_config): names stay
        names, objects become their serialized configs, functions their names."""
        config = getattr(self, "_compile_config", None)
        if config is None:
            return None
        return {k: _serialize_spec(v) for k, v in config.items()}

    # --- one batch ------------------------------------------------------------------------
    def _device(self):
        """The device of the model's weights (the current device before it has any)."""
        return devices.of(self.weights, f"model {self.name!r}") or devices.current()

    def _place(self, device, batch):
        """A batch's host arrays (and nested lists/dicts) as tensors on `device`: the
        one host-to-device move per batch."""
        if batch is None or isinstance(batch, Tensor):
            return batch
        if isinstance(batch, dict):
            return {k: self._place(device, v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(self._place(device, v) for v in batch)
        return Tensor._wrap(device.k.from_host(batch), device)

    def _forward(self, x, training):
        """Model outputs as a list of Tensors."""
        out = self(x, training=training)
        return list(out.values()) if isinstance(out, dict) else (
            list(out) if isinstance(out, (list, tuple)) else [out])

    def _total_loss(self, ys, outs, sws):
        c = self._compiled
        if len(outs) != len(c.loss_terms):
            raise ValueError(f"Model {self.name!r} returned {len(outs)} outputs but was "
                             f"compiled for {len(c.loss_terms)} ({c.output_names}); pass one "
                             f"loss per output (a list or dict) for models with several "
                             f"outputs")
        total, parts = None, []
        for term, y, out, sw in zip(c.loss_terms, ys, outs, sws):
            if term is None:
                parts.append(None)
                continue
            value = term(y, out, sw)
            parts.append(value)
            if term.weight != 1.0:
                value = value * term.weight
            total = value if total is None else total + value
        for r in self._extra_losses():
            total = r if total is None else total + r
        if total is None:
            raise ValueError(f"Model {self.name!r} has no loss to optimize: compile() was "
                             f"given no loss and no layer added one (add_loss or "
                             f"regularizers)")
        return total, parts

    def _extra_losses(self):
        """Regularization penalties and add_loss/activity losses of the last call: the
        same terms as `self.losses`, from sources listed once per fit (walking every
        layer's `losses` each step costs more than the rest of a small step)."""
        sources = self._compiled.loss_sources
        if sources is None:
            return self.losses
        layers, regularized = sources
        out = [v.regularizer(v) for v in regularized]
        for layer in layers:
            if layer._call_losses:
                out.extend(layer._call_losses)
        return out

    def _collect_loss_sources(self):
        layers, seen, regularized = [], set(), []

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            layers.append(layer)
            for v in layer._own_variables():
                if v.regularizer is not None and v.trainable and layer._trainable:
                    regularized.append(v)
            for sub in layer._layers:
                visit(sub)
        visit(self)
        return layers, regularized

    def _update_metrics(self, ys, outs, sws, batch_size, total, parts):
        """Loss trackers (the batch's mean loss weighted by its size, as Keras) and the
        compiled metrics; all on the device, nothing read back."""
        c = self._compiled
        for tracker, value in ((c.loss_tracker, total), *zip(c.output_loss_trackers, parts)):
            if value is not None:  # the batch's mean loss, weighted by its size (as Keras)
                tracker._add(value._data, float(batch_size), value.device, float(batch_size))
        if c.metrics is None:
            c.build_metrics(ys, outs)
        with no_grad():
            for i, m, _, weighted in c.metrics:
                m.update_state(ys[i], outs[i], sws[i] if weighted else None)

    def _logs(self):
        c = self._compiled
        logs = {"loss": float(c.loss_tracker.result())}
        for t in c.output_loss_trackers:
            logs[t.name] = float(t.result())
        for _, m, key, _ in c.metrics or ():
            r = m.result()
            logs[key] = float(r) if np.ndim(r) == 0 else np.asarray(r)
        return logs

    def _reset_metrics(self):
        c = self._compiled
        c.loss_tracker.reset_state()
        for t in c.output_loss_trackers:
            t.reset_state()
        for _, m, _, _ in c.metrics or ():
            m.reset_state()

    def _prepare_training(self):
        """Trainable variables and the optimizer, fixed for a fit (Keras likewise
        needs a recompile after trainable flags change)."""
        c = self._compiled
        variables = self.trainable_weights
        if not variables:
            raise ValueError(f"Model {self.name!r} has no trainable weights to train")
        opt = c.optimizer
        if not opt.built:
            opt.build(variables)
        index = opt._index
        missing = [v.path for v in variables if id(v) not in index]
        if missing:
            raise ValueError(f"The optimizer was built for other variables; {missing[:3]} "
                             f"are unknown to it. Compile with a new optimizer.")
        c.trainable = variables
        c.device = devices.of(variables, f"model {self.name!r}")
        c.indices = [index[id(v)] for v in variables]
        c.loss_sources = self._collect_loss_sources()

    def _train_step(self, x, ys, sws, batch_size):
        c = self._compiled
        if c.trainable is None:  # first step of a fit
            if not self.built or not self.trainable_weights:
                with no_grad():  # subclassed models create their weights on a first call
                    self(x, training=False)
            self._prepare_training()
        d = c.device
        x, ys, sws = self._place(d, x), self._place(d, ys), self._place(d, sws)
        with record():
            outs = self._forward(x, True)
            total, parts = self._total_loss(ys, outs, sws)
        grads = grad_arrays([total], c.trainable)
        keep = [i for i, g in enumerate(grads) if g is not None]
        if len(keep) < len(grads):
            c.optimizer._apply_arrays([grads[i] for i in keep], [c.indices[i] for i in keep])
        else:
            c.optimizer._apply_arrays(grads, c.indices)
        self._update_metrics(ys, outs, sws, batch_size, total, parts)

    def _test_step(self, x, ys, sws, batch_size):
        d = self._compiled.device
        x, ys, sws = self._place(d, x), self._place(d, ys), self._place(d, sws)
        with no_grad():
            outs = self._forward(x, False)
            total, parts = self._total_loss(ys, outs, sws)
        self._update_metrics(ys, outs, sws, batch_size, total, parts)

    # --- fit ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, **kwargs):
        """Trains for `epochs` epochs and returns the History callback."""
        loading = _loading_arguments("fit", kwargs)
        c = self._require_compiled("fit()")
        verbose = 1 if verbose == "auto" else int(verbose)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
        if validation_data is None and validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"fit: validation_split must be in (0, 1), got "
                                 f"{validation_split}")
            (x, y, sample_weight), validation_data = split_validation(
                x, y, sample_weight, validation_split)
        with DataHandler(self, x, y, sample_weight, batch_size, steps_per_epoch, shuffle,
                         class_weight, c.output_names, training=True, loading=loading) as data:
            val = None if validation_data is None else self._validation_handler(
                validation_data, validation_batch_size or batch_size, validation_steps, loading)
            with val or contextlib.nullcontext():
                return self._fit_epochs(data, val, callbacks, verbose, epochs, initial_epoch,
                                        validation_freq)

    def _fit_epochs(self, data, val, callbacks, verbose, epochs, initial_epoch,
                    validation_freq):
        c = self._compiled
        c.trainable = None  # trainable variables are listed again at the first step
        cbs = CallbackList(callbacks, add_history=True, add_progbar=True, model=self,
                           verbose=verbose, epochs=epochs, steps=data.steps)
        self.stop_training = False
        want_begin = cbs.wants("on_train_batch_begin")
        want_end = cbs.wants("on_train_batch_end")
        object.__setattr__(self, "_resume_epoch", None)
        cbs.on_train_begin()
        if self._resume_epoch is not None:  # set by BackupAndRestore
            initial_epoch = self._resume_epoch
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            step = 0
            spe = c.steps_per_execution
            for step, (xb, ys, sws, n) in enumerate(data.epoch(epoch)):
                if want_begin and step % spe == 0:
                    cbs.batch("on_train_batch_begin", step)
                self._train_step(xb, ys, sws, n)
                if want_end and ((step + 1) % spe == 0 or step + 1 == data.steps):
                    cbs.batch("on_train_batch_end", step, self._logs())
                if self.stop_training:
                    break
            if data.exhausted and step == 0 and c.loss_tracker.count == 0:
                warnings.warn("fit: the input ran out of data; stopping training",
                              stacklevel=3)
                break
            logs = dict(sorted(self._logs().items()))  # Keras' order: sorted, then val_ sorted
            if val is not None and self._should_validate(epoch, validation_freq):
                val_logs = self._run_evaluation(val, CallbackList(callbacks, model=self,
                                                                  verbose=0))
                logs.update({f"val_{k}": v for k, v in sorted(val_logs.items())})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return cbs.history

    @staticmethod
    def _should_validate(epoch, freq):
        if isinstance(freq, int):
            if freq < 1:
                raise ValueError(f"fit: validation_freq must be >= 1, got {freq}")
            return (epoch + 1) % freq == 0
        return epoch + 1 in freq

    def _validation_handler(self, validation_data, batch_size, steps, loading):
        c = self._compiled
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3) and \
                not _is_sequence_like(validation_data):
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) == 3 else None
        else:
            vx, vy, vsw = validation_data, None, None
        return DataHandler(self, vx, vy, vsw, batch_size, steps, False, None, c.output_names,
                           training=False, what="validation_data", loading=loading)

    def _run_evaluation(self, data, cbs):
        self._compiled.device = self._device()
        self._reset_metrics()
        want_begin = cbs.wants("on_test_batch_begin")
        want_end = cbs.wants("on_test_batch_end")
        cbs.on_test_begin()
        for step, (xb, ys, sws, n) in enumerate(data.epoch(0)):
            if want_begin:
                cbs.batch("on_test_batch_begin", step)
            self._test_step(xb, ys, sws, n)
            if want_end:
                cbs.batch("on_test_batch_end", step, self._logs())
        if self._compiled.loss_tracker.count == 0:
            raise ValueError("evaluate: the data has no batches")
        logs = self._logs()
        cbs.on_test_end(logs)
        return logs

    # --- evaluate / predict ----------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Loss and metrics on the data: a scalar without metrics, else [loss, *metrics]
        in compile order (or a dict with return_dict)."""
        loading = _loading_arguments("evaluate", kwargs)
        c = self._require_compiled("evaluate()")
        verbose = 1 if verbose == "auto" else int(verbose)
        with DataHandler(self, x, y, sample_weight, batch_size, steps, False, None,
                         c.output_names, training=False, loading=loading) as data:
            cbs = CallbackList(callbacks, model=self, verbose=verbose, steps=data.steps)
            logs = self._run_evaluation(data, cbs)
        if verbose:
            from pykern.utils.progbar import Progbar
            Progbar(data.steps, verbose=verbose).update(data.steps or 1, list(logs.items()),
                                                        finalize=True)
        return self._format_results(logs, return_dict)

    def _format_results(self, logs, return_dict):
        if return_dict:
            return dict(logs)
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                **kwargs):
        """Outputs for every sample, concatenated over batches of `batch_size` (32)."""
        loading = _loading_arguments("predict", kwargs)
        with DataHandler(self, x, None, None, batch_size, steps, False, None, None,
                         training=False, what="x", need_targets=False,
                         loading=loading) as data:
            chunks = self._predict_batches(data, callbacks)
        verbose = 1 if verbose == "auto" else int(verbose)
        if verbose:
            from pykern.utils.progbar import Progbar
            Progbar(len(chunks), verbose=verbose).update(len(chunks), finalize=True)
        first = chunks[0]
        if isinstance(first, dict):
            return {k: np.concatenate([ch[k] for ch in chunks]) for k in first}
        if isinstance(first, (list, tuple)):
            return [np.concatenate([ch[i] for ch in chunks]) for i in range(len(first))]
        return np.concatenate(chunks) if len(chunks) > 1 else chunks[0]

    def _predict_batches(self, data, callbacks):
        cbs = CallbackList(callbacks, model=self, verbose=0, steps=data.steps)
        want = cbs.wants("on_predict_batch_end")
        cbs.on_predict_begin()
        chunks = []
        device = self._device()
        with no_grad():
            for step, (xb, _, _, _) in enumerate(data.epoch(0)):
                out = self(self._place(device, xb), training=False)
                chunks.append(_to_numpy(out))
                if want:
                    cbs.batch("on_predict_batch_end", step, {"outputs": chunks[-1]})
        cbs.on_predict_end()
        if not chunks:
            raise ValueError("predict: the input has no samples")
        return chunks

    # --- single batches ---------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on this batch; returns the batch's loss (and metrics)."""
        c = self._require_compiled("train_on_batch()")
        xb, ys, sws, n = standardize(self, x, y, sample_weight, class_weight, c.output_names)
        self._reset_metrics()
        self._train_step(xb, ys, sws, n)
        return self._format_results(self._logs(), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        c = self._require_compiled("test_on_batch()")
        xb, ys, sws, n = standardize(self, x, y, sample_weight, None, c.output_names)
        self._reset_metrics()
        c.device = self._device()
        self._test_step(xb, ys, sws, n)
        return self._format_results(self._logs(), return_dict)


def _serialize_spec(spec):
    from pykern.utils.serialization import serialize_keras_object
    if spec is None or isinstance(spec, (str, bool, int, float)):
        return spec
    if isinstance(spec, dict):
        return {k: _serialize_spec(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(v) for v in spec]
    if isinstance(spec, (koptimizers.Optimizer, klosses.Loss, kmetrics.Metric)):
        return serialize_keras_object(spec)
    if callable(spec):
        return getattr(spec, "__name__", repr(spec))
    return spec


_LOADING = ("workers", "use_multiprocessing", "max_queue_size")


def _loading_arguments(method, kwargs):
    """Keras 2's fit/evaluate/predict arguments for Sequences and generators (Keras 3
    takes them on the PyDataset); any other keyword is a TypeError."""
    unknown = sorted(set(kwargs) - set(_LOADING))
    if unknown:
        raise TypeError(f"{method}: unexpected keyword argument(s) {unknown}")
    return {k: kwargs[k] for k in _LOADING if k in kwargs}


def _is_sequence_like(obj):
    from pykern.utils.sequence import Sequence
    return isinstance(obj, Sequence)


def _to_numpy(out):
    if isinstance(out, Tensor):
        return out.numpy()
    if isinstance(out, dict):
        return {k: _to_numpy(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_to_numpy(v) for v in out]
    return np.asarray(out)
