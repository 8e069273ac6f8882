"""Callbacks with Keras' hooks and order (keras_behaviour.md §6.1).

fit calls, in order: on_train_begin; per epoch on_epoch_begin, per batch
on_train_batch_begin/end, then (when validating) on_test_begin, on_test_batch_*,
on_test_end; on_epoch_end with the val_ logs; finally on_train_end. A
CallbackList holds the user's callbacks, then History, then the progress bar.
Batch hooks are skipped entirely when no callback overrides them, so a quiet
fit builds no per-batch logs.
"""
import csv
import io
import math
import os
import time
import warnings

import numpy as np

from pykern import distribution as _distribution

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN",
           "LambdaCallback", "ModelCheckpoint", "BackupAndRestore", "TensorBoard"]

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: every hook does nothing. `self.model` and `self.params` are set by fit.

    A callback with `_chief_only = True` prints or writes files: in a distributed run
    only rank 0 runs it."""

    _chief_only = False

    def __init__(self):
        self.model = None
        self.params = {}
        self.validation_data = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): self.on_batch_begin(batch, logs)
    def on_train_batch_end(self, batch, logs=None): self.on_batch_end(batch, logs)
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


def _overrides(cb, hook):
    if hook in vars(cb) or (hook.startswith("on_train_batch") and
                            hook.replace("train_", "") in vars(cb)):
        return True
    own = getattr(type(cb), hook, None)
    if own is not getattr(Callback, hook):
        return True
    alias = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
    return hook in alias and getattr(type(cb), alias[hook]) is not getattr(Callback,
                                                                           alias[hook])


class CallbackList:
    """Calls each hook on every callback in order; knows which batch hooks are used."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 verbose=1, epochs=1, steps=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback instances, got {cb!r}")
        if add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and verbose:
            self.callbacks.append(ProgbarLogger())
        if not _distribution._is_chief():
            self.callbacks = [cb for cb in self.callbacks if not cb._chief_only]
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
        self._hooks = {h: [getattr(cb, h) for cb in self.callbacks if _overrides(cb, h)]
                       for h in _BATCH_HOOKS}

    def wants(self, hook):
        return bool(self._hooks[hook])

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def batch(self, hook, batch, logs=None):
        for fn in self._hooks[hook]:
            fn(batch, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)


class History(Callback):
    """Records every epoch's logs: history[key] is a list, epoch the epoch numbers."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class ProgbarLogger(Callback):
    """verbose=1: a progress bar per epoch; verbose=2: one line per epoch."""

    _chief_only = True

    def __init__(self):
        super().__init__()
        self._bar = None
        self._seen = 0

    def _verbose(self):
        return self.params.get("verbose", 1)

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs", 1)

    def on_epoch_begin(self, epoch, logs=None):
        from pykern.utils.progbar import Progbar
        if self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}")
        self._bar = Progbar(self.params.get("steps"), verbose=self._verbose())
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._verbose() == 1:
            self._bar.update(batch + 1, list((logs or {}).items()), finalize=False)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            steps = self.params.get("steps") or self._seen
            self._bar.target = steps
            self._bar.update(steps, list((logs or {}).items()), finalize=True)


def _monitor_op(owner, mode, monitor, model):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "min":
        return np.less
    if mode == "max":
        return np.greater
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return np.less
    lower = {"loss", "mse", "mae", "mape", "msle", "mean_squared_error", "mean_absolute_error",
             "root_mean_squared_error", "rmse", "crossentropy", "hinge", "poisson", "logcosh",
             "kl_divergence", "kld", "error"}
    higher = {"acc", "accuracy", "auc", "precision", "recall", "cosine_similarity"}
    if any(name == h or name.endswith(h) for h in higher):
        return np.greater
    if any(name == h or name.endswith(h) for h in lower):
        return np.less
    raise ValueError(f"{owner}: cannot infer the direction of the monitored quantity "
                     f"{monitor!r} in mode 'auto'; pass mode='min' or mode='max'")


class EarlyStopping(Callback):
    """Stops when `monitor` has not improved by more than min_delta for `patience`
    epochs; restore_best_weights restores the best epoch's weights at the end of
    training (even without an early stop, as Keras 3)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._op = None
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0
        self._op = _monitor_op("EarlyStopping", self.mode, self.monitor, self.model)

    def _better(self, current, reference):
        if reference is None:
            return True
        delta = -self.min_delta if self._op is np.less else self.min_delta
        return bool(self._op(current - delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping is conditioned on metric {self.monitor!r} which is "
                          f"not available. Available metrics are: {sorted(logs or {})}",
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _get_lr(model):
    return float(np.asarray(model.optimizer.learning_rate))


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` after `patience` epochs without an
    improvement of more than min_delta; logs 'learning_rate' every epoch."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got "
                             f"{factor}")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected keyword argument(s) "
                            f"{sorted(kwargs)}")
        self.monitor, self.factor, self.patience = monitor, factor, patience
        self.verbose, self.mode, self.min_delta = verbose, mode, min_delta
        self.cooldown, self.min_lr = cooldown, min_lr
        self._reset()

    def _reset(self):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def on_train_begin(self, logs=None):
        self._reset()
        self._op = _monitor_op("ReduceLROnPlateau", self.mode, self.monitor, self.model)

    def _improved(self, current):
        if self.best is None:
            return True
        if self._op is np.less:
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _get_lr(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau is conditioned on metric {self.monitor!r} which "
                          f"is not available. Available metrics are: {sorted(logs)}",
                          stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(self.model)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch's start to schedule(epoch, lr)."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        try:
            lr = self.schedule(epoch, _get_lr(self.model))
        except TypeError:  # a schedule of the epoch alone
            lr = self.schedule(epoch)
        lr = float(np.asarray(lr))
        if not np.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr!r} for epoch "
                             f"{epoch}; it must be a finite float")
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _get_lr(self.model)


def _atomic_write(path, text):
    """Writes `text` to `path` through a temporary file and a rename, so a crash
    leaves either the old or the new file, never a torn one."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CSVLogger(Callback):
    """One CSV row per epoch: 0-based epoch, then the logs' keys sorted (val_ columns
    added up front when the first epoch has none). The whole file is rewritten
    atomically after every epoch."""

    _chief_only = True

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = None

    def on_train_begin(self, logs=None):
        self._prefix = ""
        self.keys = None
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._prefix = f.read()
        self._rows = []

    def _fmt(self, v):
        if isinstance(v, str):
            return v
        if isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) > 0:
            return '"[%s]"' % ", ".join(str(x) for x in np.ravel(v))
        return str(v)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in list(self.keys)]
                self.keys.sort()
        self._rows.append([str(epoch)] + [self._fmt(logs.get(k, "NA")) for k in self.keys])
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.sep, lineterminator="\n",
                            quoting=csv.QUOTE_MINIMAL)
        if not self._prefix:
            writer.writerow(["epoch"] + self.keys)
        writer.writerows(self._rows)
        _atomic_write(self.filename, self._prefix + buf.getvalue())


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf found in the loss at batch {batch}: {loss}")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Callbacks from plain functions: on_epoch_begin(epoch, logs), on_batch_end(batch,
    logs), on_train_begin(logs), ..."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 on_batch_begin=None, on_batch_end=None, **kwargs):
        super().__init__()
        fns = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                   on_train_begin=on_train_begin, on_train_end=on_train_end,
                   on_train_batch_begin=on_train_batch_begin or on_batch_begin,
                   on_train_batch_end=on_train_batch_end or on_batch_end, **kwargs)
        for name, fn in fns.items():
            if fn is None:
                continue
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


class ModelCheckpoint(Callback):
    """Saves the model (`.keras`/`.h5`) or its weights (`.weights.h5`) every epoch or
    every `save_freq` batches; the path is formatted with the 1-based epoch (and
    batch) and the logs, e.g. 'ck_{epoch:02d}-{val_loss:.2f}.keras'. Files are
    written atomically by pykern.saving."""

    _chief_only = True

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor, self.verbose = monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode, self.save_freq = mode, save_freq
        self.best = initial_value_threshold
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(f"ModelCheckpoint: with save_weights_only=True the filepath must "
                             f"end in `.weights.h5`, got {self.filepath!r}")
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError(f"ModelCheckpoint: the filepath must end in `.keras` (or `.h5`), "
                             f"got {self.filepath!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, "
                             f"got {save_freq!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"ModelCheckpoint: mode must be 'auto', 'min' or 'max', got "
                             f"{mode!r}")
        self._batches = 0
        self._epoch = 0

    def on_train_begin(self, logs=None):
        self._op = _monitor_op("ModelCheckpoint", self.mode, self.monitor, self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs):
        try:
            if batch is None:
                return self.filepath.format(epoch=epoch + 1, **(logs or {}))
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: failed to format filepath {self.filepath!r}: "
                           f"the logs have no key {e}; available keys are {sorted(logs or {})}"
                           ) from None

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with "
                              f"{self.monitor!r} available, skipping", stacklevel=2)
                return
            if self.best is not None and not self._op(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best} to "
                      f"{current:.5f}, saving model")
            self.best = current
        path = self._path(epoch, batch, logs)
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")


class BackupAndRestore(Callback):
    """Backs up weights and optimizer state (`.weights.h5`) and the epoch reached to
    `backup_dir` after every epoch; a fit that starts with a backup present resumes
    from the next epoch with that state. The backup is deleted when training ends
    normally (delete_checkpoint=True).

    Each epoch's weights go to their own file, then a metadata file naming it is
    replaced atomically, then the previous weights file is removed: a crash at any
    point leaves metadata that names a complete weights file of the epoch it says.

    In a distributed run rank 0 writes and reads the backup; every process resumes
    from the epoch it names, with rank 0's weights and optimizer state (broadcast at
    the first step).
    """

    _META = "training_metadata.json"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir must be a non-empty path")
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: pykern backs up at epoch ends only "
                             f"(save_freq='epoch'), got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._meta_path = os.path.join(self.backup_dir, self._META)

    def _read_meta(self):
        import json
        if not os.path.exists(self._meta_path):
            return None
        with open(self._meta_path) as f:
            return json.load(f)

    def on_train_begin(self, logs=None):
        chief = _distribution._is_chief()
        meta = _distribution._from_chief(self._read_meta() if chief else None,
                                         "broadcast of BackupAndRestore's metadata")
        if meta is None:
            return
        if chief:
            self.model.load_weights(os.path.join(self.backup_dir, meta["weights"]))
        self.model._resume_epoch = int(meta["epoch"]) + 1

    def on_epoch_end(self, epoch, logs=None):
        import json
        if not _distribution._is_chief():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        previous = self._read_meta()
        name = f"epoch_{epoch}.weights.h5"
        self.model.save_weights(os.path.join(self.backup_dir, name), overwrite=True)
        _atomic_write(self._meta_path, json.dumps({"epoch": epoch, "weights": name}))
        if previous is not None and previous["weights"] != name:
            old = os.path.join(self.backup_dir, previous["weights"])
            if os.path.exists(old):
                os.remove(old)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not _distribution._is_chief():
            return
        meta = self._read_meta()
        if meta is not None:
            os.remove(self._meta_path)
            weights = os.path.join(self.backup_dir, meta["weights"])
            if os.path.exists(weights):
                os.remove(weights)


def _profile_range(profile_batch):
    """Keras' profile_batch: an int, a (start, stop) pair or a 'start,stop' string ->
    (start, stop); (0, 0) is off."""
    value = profile_batch
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",")]
        except ValueError:
            value = None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and
            all(isinstance(v, int) and not isinstance(v, bool) for v in value)) or \
            value[0] < 0 or value[1] < value[0]:
        raise ValueError(f"TensorBoard: profile_batch must be a non-negative integer or "
                         f"2-tuple of positive integers. A pair of positive integers "
                         f"signifies a range of batches to profile. Found: {profile_batch!r}")
    return tuple(value)


class TensorBoard(Callback):
    """Logs for TensorBoard, with Keras 3's directories and tags.

    `log_dir/train` receives epoch_<name> scalars of the training logs and of the
    learning rate (epoch_learning_rate) at step = epoch, and, when update_freq is
    'batch' or an int N, batch_<name> scalars (the running epoch averages fit
    reports) every N-th global batch at step = that batch (counted from 1 across
    epochs), with batch_steps_per_second when write_steps_per_second. Every
    histogram_freq epochs it writes each layer weight as a histogram
    '<weight path>/histogram' (and, with write_images, as an image
    '<weight path>/image', as Keras lays weights out: up to 3 images per weight).
    `log_dir/validation` receives epoch_<name> of the val_ logs (prefix dropped)
    and, after each evaluation, evaluation_<name>_vs_iterations at step =
    optimizer.iterations. write_graph stores the model's JSON config under tag
    'keras' for TensorBoard's graph plugin (its conceptual Keras graph), at the
    start of each fit. embeddings_freq saves the weights every embeddings_freq
    epochs to train/keras_embedding.ckpt-<epoch>.weights.h5, as Keras 3 does;
    embeddings_metadata is kept but no projector config is written (pykern has
    no Embedding layer yet for it to name).

    profile_batch is validated as Keras validates it but starts no profiler:
    pykern has no trace profiler (a nonzero value warns once); per-layer timings
    come from `model.profile(x, y)`.

    Files are TensorBoard event files written through the tensorboard package
    (pykern.utils.summary_writer), created on first use and flushed at each
    epoch end; `pip install "pykern[viz]"`.
    """

    _chief_only = True  # rank 0 writes the event files of a distributed run

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        from pykern.utils.summary_writer import _tensorboard
        _tensorboard()  # the missing package is reported at construction, as Keras does
        if update_freq != "epoch" and update_freq != "batch" and (
                isinstance(update_freq, bool) or not isinstance(update_freq, int) or
                update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a "
                             f"positive int, got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._start_batch, self._stop_batch = _profile_range(profile_batch)
        if self._stop_batch > 0:
            warnings.warn("TensorBoard: pykern has no trace profiler, so profile_batch "
                          f"{profile_batch!r} records nothing; use model.profile(x, y) for "
                          "per-layer forward/backward times", stacklevel=2)
        self._writers = {}
        self._global_train_batch = 0
        self._in_fit = False
        if self.update_freq != "epoch" or write_steps_per_second:
            # batch hooks only when batch summaries are wanted: a fit with epoch-level
            # logging then reads no per-batch logs (CallbackList skips unused hooks)
            self.on_train_batch_begin = self._train_batch_begin
            self.on_train_batch_end = self._train_batch_end

    def _writer(self, which):
        if which not in self._writers:
            from pykern.utils.summary_writer import SummaryWriter
            self._writers[which] = SummaryWriter(os.path.join(self.log_dir, which))
        return self._writers[which]

    def _close_writers(self):
        for w in self._writers.values():
            w.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._in_fit = True
        if self.write_graph:
            self._write_model_config()

    def _write_model_config(self):
        """Keras' keras_model_summary: the model JSON for the graph plugin."""
        from pykern.models.functional import Functional
        from pykern.models.sequential import Sequential
        if not isinstance(self.model, (Functional, Sequential)):
            return  # as Keras: only graph networks have a config the plugin can draw
        try:
            config = self.model.to_json()
        except Exception as e:  # noqa: BLE001 - a model that cannot serialize still trains
            warnings.warn(f"TensorBoard: the model failed to serialize as JSON; no graph is "
                          f"written ({e})", stacklevel=2)
            return
        self._writer("train").plugin_tensor("keras", "graph_keras_model", b"1", config, 0)

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def _train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start_s = time.perf_counter()

    def _train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if self.update_freq == "epoch" or step % self.update_freq:
            return
        w = self._writer("train")
        if self.write_steps_per_second:
            w.scalar("batch_steps_per_second",
                     1.0 / max(time.perf_counter() - self._batch_start_s, 1e-9), step)
        for name, value in (logs or {}).items():
            if np.ndim(value) == 0:
                w.scalar(f"batch_{name}", value, step)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (time.perf_counter(), self._iterations())

    def _iterations(self):
        return int(np.asarray(self.model.optimizer.iterations))

    def on_test_end(self, logs=None):
        if getattr(self.model, "optimizer", None) is None:
            return
        w = self._writer("validation")
        for name, value in (logs or {}).items():
            if np.ndim(value) == 0:
                w.scalar(f"evaluation_{name}_vs_iterations", value, self._iterations())
        if self._in_fit:
            w.flush()
        else:  # a standalone evaluate: nothing follows to close the file
            self._close_writers()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if getattr(self.model, "optimizer", None) is not None:
            train["learning_rate"] = _get_lr(self.model)
        if self.write_steps_per_second:
            start_s, start_it = self._epoch_start
            train["steps_per_second"] = (self._iterations() - start_it) / max(
                time.perf_counter() - start_s, 1e-9)
        for which, values in (("train", train), ("validation", val)):
            scalars = {k: v for k, v in values.items() if np.ndim(v) == 0}
            if scalars:
                w = self._writer(which)
                for name, value in scalars.items():
                    w.scalar(f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            path = os.path.join(self.log_dir, "train",
                                f"keras_embedding.ckpt-{epoch}.weights.h5")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.model.save_weights(path)
        for w in self._writers.values():
            w.flush()

    def _log_weights(self, epoch):
        w = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.path.replace(":", "_")
                value = weight.numpy()
                w.histogram(f"{name}/histogram", value, epoch)
                if self.write_images:
                    images = _weight_images(value)
                    if images is not None:
                        w.images(f"{name}/image", *images, step=epoch)


def _weight_images(weight, max_outputs=3):
    """A weight laid out as Keras' TensorBoard lays it out (a bias as one 1xN image,
    a Dense kernel as one image with the longer side across, a 3-D kernel as one
    image per input channel), as PNGs of uint8 pixels: values are clipped to
    [0, 1] and scaled by 255, as tf.summary.image converts floats. None for
    layouts Keras does not draw (4-D and larger kernels)."""
    w = np.squeeze(weight)
    if w.ndim == 1:
        w = w.reshape(1, 1, -1)
    elif w.ndim == 2:
        w = (w.T if w.shape[0] > w.shape[1] else w)[None]
    elif w.ndim == 3:
        w = np.transpose(w, (2, 0, 1))
    else:
        return None
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("TensorBoard(write_images=True) encodes PNGs with Pillow: pip "
                          "install \"pykern[viz]\" (or pip install pillow)") from None
    pixels = (np.clip(w[:max_outputs], 0.0, 1.0) * 255.5).astype(np.uint8)
    pngs = []
    for image in pixels:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    return pngs, w.shape[2], w.shape[1]
