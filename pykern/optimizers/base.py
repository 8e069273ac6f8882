"""The optimizer base: Keras 3's argument set and apply_gradients order, with
the update of every parameter done by ONE call of the variables' device
(`optimizer_plan` of its kernel table: on the CPU pykern._cpu.OptimPlan,
csrc/cpu/optim.cpp).

Order in one step (keras_behaviour.md §5): clip the gradients (clipnorm per
tensor, else global_clipnorm, else clipvalue), decoupled weight decay
w -= w * weight_decay * lr, the optimizer's update, iterations += 1, then each
variable's constraint. The learning rate is a float32 variable, or a schedule
evaluated at the pre-increment `iterations`. Per-step scalars that depend on
the step (bias corrections) are computed here once, in double: the step
counter and the learning rate are host (CPU) variables, the slots live with
their variables.
"""
import operator

import numpy as np

from pykern.backend import devices
from pykern.backend.state import to_snake_case, uniquify
from pykern.backend.tensor import Tensor, Variable
from pykern.optimizers.schedules import LearningRateSchedule
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        serialize_keras_object)

__all__ = ["Optimizer"]

# attributes whose change invalidates the native plan (it copies them once)
_PLAN_ATTRS = frozenset({"clipnorm", "clipvalue", "global_clipnorm", "weight_decay",
                         "momentum", "rho", "beta_1", "beta_2", "epsilon", "nesterov",
                         "centered", "amsgrad"})


def _check_nonneg(owner, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number or None, got {value!r}")
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return float(value)


class Optimizer:
    """Base class. Subclasses set `_kind` (the native update), `_slot_names(self)`
    (state names per variable, in Keras' order) and may override `_step_scalars`."""

    _keras_module = "keras.optimizers"
    _kind = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("pykern."):
            register_builtin(cls._keras_module, cls)

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        owner = type(self).__name__
        if kwargs:
            raise TypeError(f"{owner}: unexpected keyword argument(s) {sorted(kwargs)}")
        if use_ema or loss_scale_factor is not None or gradient_accumulation_steps is not None:
            raise ValueError(f"{owner}: use_ema, loss_scale_factor and "
                             f"gradient_accumulation_steps are not supported by pykern")
        object.__setattr__(self, "_plans", {})
        # Keras' automatic names: snake case, numbered per session (adam, adam_1, ...)
        self.name = name or uniquify(to_snake_case(type(self).__name__))
        self.weight_decay = _check_nonneg(owner, "weight_decay", weight_decay)
        self.clipnorm = _check_nonneg(owner, "clipnorm", clipnorm)
        self.clipvalue = _check_nonneg(owner, "clipvalue", clipvalue)
        self.global_clipnorm = _check_nonneg(owner, "global_clipnorm", global_clipnorm)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{owner}: only one of clipnorm, clipvalue and global_clipnorm "
                             f"can be set, got clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.use_ema = False
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = None
        self.gradient_accumulation_steps = None
        self._iterations = Variable(np.zeros((), np.int64), dtype="int64", trainable=False,
                                    name="iteration", path=f"{self.name}/iteration",
                                    device=devices.CPU)
        self._set_lr(learning_rate)
        self._variables = None  # the trainable variables this optimizer was built for
        self._slots = []        # per slot name, one Variable per trainable variable
        self._exclude_vars, self._exclude_names = set(), ()
        self.built = False

    def __setattr__(self, name, value):
        if name in _PLAN_ATTRS:
            self._plans.clear()
        object.__setattr__(self, name, value)

    # --- learning rate --------------------------------------------------------------------
    def _set_lr(self, learning_rate):
        if isinstance(learning_rate, LearningRateSchedule) or (
                callable(learning_rate) and not isinstance(learning_rate, Tensor)):
            self._schedule = learning_rate
            self._lr = None
            return
        try:
            lr = float(np.asarray(learning_rate))
        except (TypeError, ValueError):
            raise ValueError(f"{type(self).__name__}: learning_rate must be a number, a "
                             f"schedule or a callable, got {learning_rate!r}") from None
        if not lr >= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {lr}")
        self._schedule = None
        self._lr = Variable(np.float32(lr), name="learning_rate", trainable=False,
                            path=f"{self.name}/learning_rate", device=devices.CPU)

    def _current_lr(self):
        """The learning rate of the next step as a Python float."""
        if self._schedule is None:
            return float(self._lr.device.k.to_host(self._lr._data))
        if isinstance(self._schedule, LearningRateSchedule):
            return float(self._schedule(self._step()))
        return float(np.asarray(self._schedule()))  # a plain callable takes no argument

    @property
    def learning_rate(self):
        """The float32 learning-rate variable, or the schedule's value at this step."""
        if self._schedule is None:
            return self._lr
        return np.float32(self._current_lr())

    @learning_rate.setter
    def learning_rate(self, value):
        if self._schedule is not None and isinstance(self._schedule, LearningRateSchedule):
            raise TypeError(f"{type(self).__name__}: this optimizer's learning rate is a "
                            f"{type(self._schedule).__name__} schedule and cannot be set")
        if self._lr is not None and not callable(value):
            v = float(np.asarray(value))
            if not v >= 0:
                raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {v}")
            self._lr.assign(np.float32(v))
        else:
            self._set_lr(value)

    lr = learning_rate

    @property
    def iterations(self):
        return self._iterations

    def _step(self):
        """The number of steps taken (a host int)."""
        return int(self._iterations.device.k.to_host(self._iterations._data))

    # --- state ----------------------------------------------------------------------------
    def _slot_names(self):
        return []

    def _slot_init(self, slot_name):
        return 0.0

    def _slot_groups(self):
        """Slot names grouped as Keras creates them: the slots of one group are
        interleaved per variable (Adam: m0, v0, m1, v1, ...), groups follow each other
        (RMSprop: all velocities, then all momentums). This is `variables`' order, and
        so the order of optimizer state in saved files."""
        names = self._slot_names()
        return [names] if names else []

    def build(self, var_list):
        """Creates the state slots for `var_list` (trainable Variables)."""
        var_list = list(var_list)
        for v in var_list:
            if not isinstance(v, Variable):
                raise ValueError(f"{type(self).__name__}.build: expected Variables, got "
                                 f"{type(v).__name__}")
        self._variables = var_list
        self._index = {id(v): i for i, v in enumerate(var_list)}
        self._slots = []
        for slot in self._slot_names():
            init = self._slot_init(slot)
            self._slots.append([
                Variable(np.full(v.shape, init, np.float32), trainable=False, device=v.device,
                         name=f"{v.path.replace('/', '_')}_{slot}",
                         path=f"{self.name}/{v.path.replace('/', '_')}_{slot}")
                for v in var_list])
        self._plans.clear()
        self.built = True

    @property
    def variables(self):
        """[iteration, learning_rate (unless a schedule), slots...] in Keras' order (see
        _slot_groups)."""
        out = [self._iterations]
        if self._lr is not None:
            out.append(self._lr)
        by_name = dict(zip(self._slot_names(), self._slots))
        n = len(self._variables or [])
        for group in self._slot_groups():
            for i in range(n):
                out.extend(by_name[name][i] for name in group)
        return out + self._extra_variables()

    def _extra_variables(self):
        return []

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Variables (or those whose name contains one of `var_names`) that weight decay
        skips; must be called before the optimizer is built."""
        if self.built:
            raise ValueError(f"{type(self).__name__}: exclude_from_weight_decay() can only be "
                             f"configured before the optimizer is built")
        self._exclude_vars = {id(v) for v in (var_list or [])}
        self._exclude_names = tuple(var_names or ())

    def _decays(self, indices):
        if not self.weight_decay:
            return None
        out = np.zeros(len(indices), np.float32)
        for j, i in enumerate(indices):
            v = self._variables[i]
            if id(v) not in self._exclude_vars and not any(
                    n in v.name for n in self._exclude_names):
                out[j] = self.weight_decay
        return out

    def _hyper(self):
        """Keyword arguments of the device's optimizer_plan besides the clipping ones."""
        return {}

    def _plan(self, indices):
        """(native plan, constrained variables) for variables[indices], made once and
        remade only if a variable's buffer was replaced (assign() keeps buffers)."""
        key = tuple(indices)
        entry = self._plans.get(key)
        current = [self._variables[i]._data for i in indices]
        if entry is None or not all(map(operator.is_, current, entry[2])):
            slots = [[s[i]._data for i in indices] for s in self._slots]
            d = devices.of([self._variables[i] for i in indices], type(self).__name__)
            native = d.k.optimizer_plan(self._kind, current, slots, self._decays(indices),
                                    clipnorm=self.clipnorm or 0.0,
                                    global_clipnorm=self.global_clipnorm or 0.0,
                                    clipvalue=self.clipvalue or 0.0, **self._hyper())
            constrained = [self._variables[i] for i in indices
                           if self._variables[i].constraint is not None]
            entry = (native, constrained, current)
            self._plans[key] = entry
        return entry

    # --- the step -------------------------------------------------------------------------
    def _step_scalars(self, lr, t):
        """(c1, c2, c3) of pykern/optim.h for step t = iterations + 1."""
        return 0.0, 0.0, 0.0

    def _apply_arrays(self, grads, indices):
        """One native update of variables[indices] with float32 gradient arrays."""
        lr = self._current_lr()
        step = self._step()
        c1, c2, c3 = self._step_scalars(lr, step + 1)
        native, constrained, _ = self._plan(indices)
        native.step(grads, lr, c1, c2, c3)
        self._iterations.assign(step + 1)
        for v in constrained:
            v.assign(v.constraint(v))

    def apply(self, grads, trainable_variables=None):
        """Applies `grads` to `trainable_variables` (default: the variables it was built
        for); None gradients are skipped."""
        grads = list(grads)
        if trainable_variables is None:
            if not self.built:
                raise ValueError(f"{type(self).__name__}.apply: pass trainable_variables (the "
                                 f"optimizer is not built yet)")
            trainable_variables = self._variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{type(self).__name__}.apply: got {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables")
        if not self.built:
            self.build(trainable_variables)
        arrays, indices = [], []
        for g, v in zip(grads, trainable_variables):
            if g is None:
                continue
            i = self._index.get(id(v))
            if i is None:
                raise ValueError(f"{type(self).__name__}: variable {v.path!r} is not one of "
                                 f"the {len(self._variables)} variables this optimizer was "
                                 f"built for")
            k = v.device.k
            if isinstance(g, Tensor):
                devices.of([g, v], f"{type(self).__name__}.apply")
                a = k.owned(k.cast(g._data, np.float32) if g.dtype != np.float32 else g._data)
            else:
                a = k.owned(k.from_host(g, dtype=np.float32))
            if a.shape != v.shape:
                raise ValueError(f"{type(self).__name__}: gradient of shape {a.shape} for "
                                 f"variable {v.path!r} of shape {tuple(v.shape)}")
            arrays.append(a)
            indices.append(i)
        if indices:
            self._apply_arrays(arrays, indices)
        return self._iterations

    def apply_gradients(self, grads_and_vars):
        """Keras' form: a list of (gradient, variable) pairs."""
        pairs = list(grads_and_vars)
        return self.apply([g for g, _ in pairs], [v for _, v in pairs])

    # --- config ---------------------------------------------------------------------------
    def get_config(self):
        if self._schedule is None:
            lr = self._current_lr()
        elif isinstance(self._schedule, LearningRateSchedule):
            lr = serialize_keras_object(self._schedule)
        else:
            lr = self._current_lr()
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue, "use_ema": self.use_ema,
                "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = deserialize_keras_object(config["learning_rate"],
                                                               custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
