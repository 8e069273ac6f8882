"""Losses as Keras 3 defines them: functions giving one value per sample, and
classes adding sample weights and the reduction.

Every function reduces the last axis (`mean` for the regression losses, `sum`
for the categorical ones) and returns a Tensor differentiable in y_pred, on
y_pred's device. The crossentropies and the squared error are single fused ops
(forward values and the analytic gradient from one kernel of the device's
table): the logits forms are the stable ones (log-sum-exp; max(z,0) - z*y +
log1p(exp(-|z|))), the probability forms clip with epsilon = 1e-7 exactly as
TensorFlow-Keras does. Probabilities that a sigmoid or softmax op produced
carry their logits (`_keras_logits`), and the crossentropies use those, as
TensorFlow-Keras does. The other losses are compositions of pykern.ops.

Reduction (keras_behaviour.md §3.1): 'sum_over_batch_size' (default) sums the
(weighted) per-sample values and divides by their number, not by the sum of
the weights; 'sum', 'mean_with_sample_weight' and 'none'/None as in Keras.
"""
import math

import numpy as np

from pykern import ops
from pykern.backend import devices
from pykern.backend.devices.meta import broadcast_shapes
from pykern.backend.tensor import Tensor
from pykern.ops.core import _out, _t, _wrap
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        serialize_keras_object)

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Huber", "LogCosh",
    "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge", "CosineSimilarity",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "huber", "log_cosh", "kl_divergence", "poisson", "hinge",
    "squared_hinge", "categorical_hinge", "cosine_similarity", "mse", "mae", "mape", "msle",
    "kld", "logcosh", "get", "serialize", "deserialize",
]

EPSILON = 1e-7
_F32 = np.float32
_REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


# --- label and shape handling ---------------------------------------------------------------
def _labels(y_true, device, what="y_true", dtype=_F32):
    """y_true as storage on `device` (float32 unless dtype is None; never
    differentiated). A tensor on another real device is a ValueError."""
    if isinstance(y_true, Tensor):
        devices.of([y_true, _Probe(device)], what)
        v = y_true._data
    else:
        v = np.asarray(y_true)
    if v.dtype.kind not in "fiub":
        raise ValueError(f"{what} must be numeric, got an array of dtype {v.dtype}")
    k = device.k
    if not isinstance(y_true, Tensor):
        return k.from_host(v, dtype=dtype)
    return v if dtype is None or v.dtype == np.dtype(dtype) else k.cast(v, dtype)


class _Probe:
    """Stands for a device in devices.of checks."""
    __slots__ = ("device",)

    def __init__(self, device):
        self.device = device


def _same_rank(k, y, p_shape, loss):
    """Squeezes or expands a trailing 1 so y's rank matches y_pred's (Keras'
    squeeze_or_expand_to_same_rank); other mismatches are errors."""
    p_shape = tuple(p_shape)
    if y.ndim == len(p_shape) + 1 and y.shape[-1] == 1:
        y = k.reshape(y, y.shape[:-1])
    elif y.ndim + 1 == len(p_shape) and p_shape[-1] == 1:
        y = k.reshape(y, y.shape + (1,))
    if tuple(y.shape) != p_shape:
        if y.ndim != len(p_shape):
            raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of "
                             f"shape {p_shape}")
        try:
            broadcast_shapes(loss, y.shape, p_shape)
        except ValueError:
            raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of "
                             f"shape {p_shape}") from None
    return y


def _fused(p, values, grad):
    """A per-sample Tensor `values` (y_pred's shape without the last axis) whose
    backward is g[..., None] * grad (grad = d values / d y_pred, precomputed)."""
    k = p.device.k

    def backward(g, needs):
        return (k.binary("multiply", grad, k.reshape(g, tuple(g.shape) + (1,))),)
    return _out(values, (p,), backward, p.device)


def _logits_of(y_pred, from_logits):
    """(tensor, from_logits): probabilities made by a sigmoid/softmax op are
    replaced by the logits they came from (TensorFlow-Keras' _keras_logits)."""
    p = _t(y_pred)
    logits = getattr(p, "_keras_logits", None)
    if not from_logits and logits is not None:
        return logits, True
    return p, from_logits


def _move_axis_last(k, y, p, axis):
    if axis in (-1, None) or axis == p.ndim - 1:
        return y, p
    order = [i for i in range(p.ndim) if i != axis % p.ndim] + [axis % p.ndim]
    return k.transpose(y, tuple(order)), ops.transpose(p, order)


# --- crossentropies: fused forward + backward -----------------------------------------------
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over the last axis of -(y log p + (1-y) log(1-p)); probabilities are
    clipped to [eps, 1-eps] and eps is added inside the logs, as TF-Keras."""
    p, from_logits = _logits_of(y_pred, from_logits)
    k = p.device.k
    y = _labels(y_true, p.device)
    if tuple(y.shape) != tuple(p.shape):
        y = k.broadcast_to(_same_rank(k, y, p.shape, "binary_crossentropy"), p.shape)
    if label_smoothing:
        y = k.binary("add", k.binary("multiply", y, _F32(1 - label_smoothing)),
                     _F32(0.5 * label_smoothing))
    y, p = _move_axis_last(k, y, p, axis)
    elem, grad = k.binary_crossentropy(y, p._data, from_logits)
    n = p.shape[-1]
    last = (p.ndim - 1,)
    if n == 1:
        values = k.reshape(elem, p.shape[:-1])
    else:
        values = k.binary("divide", k.reduce("sum", elem, last), _F32(n))
        grad = k.binary("divide", grad, _F32(n))
    return _fused(p, values, grad)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y log p) over the class axis; probabilities are renormalised to sum 1 and
    clipped to [eps, 1-eps]; logits go through a stable log-softmax."""
    p, from_logits = _logits_of(y_pred, from_logits)
    k = p.device.k
    y = _labels(y_true, p.device)
    if tuple(y.shape) != tuple(p.shape):
        if p.ndim >= 1 and p.shape[-1] > 1 and (y.ndim < p.ndim or y.shape[-1] == 1):
            raise ValueError(f"categorical_crossentropy expects one-hot labels of shape "
                             f"{tuple(p.shape)}, got integer-like labels of shape {y.shape}; "
                             f"use sparse_categorical_crossentropy for class indices")
        raise ValueError(f"categorical_crossentropy: labels of shape {y.shape} do not match "
                         f"predictions of shape {tuple(p.shape)}")
    y, p = _move_axis_last(k, y, p, axis)
    if label_smoothing:
        y = k.binary("add", k.binary("multiply", y, _F32(1 - label_smoothing)),
                     _F32(label_smoothing / y.shape[-1]))
    values, grad = k.categorical_crossentropy(y, p._data, from_logits)
    return _fused(p, values, grad)


def _sparse_labels(y_true, p, loss):
    y = _labels(y_true, p.device, what=f"{loss}: labels", dtype=None)
    k = p.device.k
    p_shape = tuple(p.shape)
    if y.ndim == len(p_shape) and y.shape[-1] == 1:
        y = k.reshape(y, y.shape[:-1])
    if tuple(y.shape) != p_shape[:-1]:
        if tuple(y.shape) == p_shape and p_shape[-1] > 1:
            raise ValueError(f"{loss} expects integer class indices of shape "
                             f"{p_shape[:-1]}, got one-hot-like labels of shape "
                             f"{y.shape}; use categorical_crossentropy for one-hot labels")
        raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of shape "
                         f"{p_shape} (expected {p_shape[:-1]})")
    return y


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """-log softmax(z)[label] for logits; for probabilities TF-Keras feeds log(clip(p))
    to the softmax crossentropy, i.e. log(sum pc) - log(pc[label]). Labels must be
    integers in [0, classes) (the kernel checks, naming the bad values)."""
    p, from_logits = _logits_of(y_pred, from_logits)
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported, got "
                         f"{axis}")
    k = p.device.k
    y = _sparse_labels(y_true, p, "sparse_categorical_crossentropy")
    values, grad = k.sparse_categorical_crossentropy(y, p._data, from_logits, ignore_class)
    return _fused(p, values, grad)


# --- composed losses --------------------------------------------------------------------------
def _pair(y_true, y_pred, loss):
    p = _t(y_pred)
    k = p.device.k
    y = _same_rank(k, _labels(y_true, p.device), p.shape, loss)
    return _wrap(y, p.device), p


def mean_squared_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_squared_error")
    if p.ndim == 0:
        return ops.square(ops.subtract(p, y))
    k = p.device.k
    d = k.binary("subtract", p._data, y._data)
    if tuple(d.shape) != tuple(p.shape):  # labels broadcast against predictions
        return ops.mean(ops.square(ops.subtract(p, y)), axis=-1)
    n = _F32(d.shape[-1])
    values = k.reduce("mean", k.binary("multiply", d, d), (d.ndim - 1,))
    return _fused(p, values, k.binary("multiply", d, _F32(2) / n))


def mean_absolute_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(ops.subtract(p, y)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    denom = ops.maximum(ops.abs(y), EPSILON)
    return ops.multiply(100.0, ops.mean(ops.abs(ops.divide(ops.subtract(y, p), denom)),
                                        axis=-1))


def mean_squared_logarithmic_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    first = ops.log(ops.add(ops.maximum(p, EPSILON), 1.0))
    second = ops.log(ops.add(ops.maximum(y, EPSILON), 1.0))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y, p = _pair(y_true, y_pred, "huber")
    err = ops.subtract(p, y)
    abs_err = ops.abs(err)
    quad = ops.multiply(0.5, ops.square(err))
    lin = ops.subtract(ops.multiply(float(delta), abs_err), 0.5 * float(delta) ** 2)
    return ops.mean(ops.where(ops.less_equal(abs_err, delta), quad, lin), axis=-1)


def log_cosh(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "log_cosh")
    x = ops.subtract(p, y)
    return ops.mean(ops.subtract(ops.add(x, ops.softplus(ops.multiply(x, -2.0))),
                                 math.log(2.0)), axis=-1)


def kl_divergence(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "kl_divergence")
    yc = ops.clip(y, EPSILON, 1.0)
    pc = ops.clip(p, EPSILON, 1.0)
    return ops.sum(ops.multiply(yc, ops.subtract(ops.log(yc), ops.log(pc))), axis=-1)


def poisson(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "poisson")
    return ops.mean(ops.subtract(p, ops.multiply(y, ops.log(ops.add(p, EPSILON)))), axis=-1)


def _hinge_labels(y):
    """Keras converts 0/1 labels to -1/1 (labels already in -1/1 stay)."""
    k = y.device.k
    binary = k.reduce("all", k.binary("logical_or", k.binary("equal", y._data, 0.0),
                                      k.binary("equal", y._data, 1.0)), tuple(range(y.ndim)))
    return ops.where(_wrap(binary, y.device), ops.subtract(ops.multiply(y, 2.0), 1.0), y)


def hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "hinge")
    return ops.mean(ops.maximum(ops.subtract(1.0, ops.multiply(_hinge_labels(y), p)), 0.0),
                    axis=-1)


def squared_hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "squared_hinge")
    return ops.mean(ops.square(ops.maximum(ops.subtract(1.0, ops.multiply(_hinge_labels(y), p)),
                                           0.0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "categorical_hinge")
    pos = ops.sum(ops.multiply(y, p), axis=-1)
    neg = ops.max(ops.multiply(ops.subtract(1.0, y), p), axis=-1)
    return ops.maximum(ops.add(ops.subtract(neg, pos), 1.0), 0.0)


def _l2_normalize(x, axis):
    norm = ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True))
    return ops.divide(x, ops.maximum(norm, EPSILON))


def cosine_similarity(y_true, y_pred, axis=-1):
    y, p = _pair(y_true, y_pred, "cosine_similarity")
    return ops.negative(ops.sum(ops.multiply(_l2_normalize(y, axis), _l2_normalize(p, axis)),
                                axis=axis))


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


# --- reduction ----------------------------------------------------------------------------------
def broadcast_sample_weight(sample_weight, shape, device=None, what="per-sample losses"):
    """sample_weight as float32 storage on `device` broadcast to `shape` (Keras'
    rules: a trailing axis of 1 is dropped, missing trailing axes are added);
    ValueError naming both shapes when it does not fit."""
    device = device or devices.current()
    k = device.k
    sw = sample_weight
    w = _labels(sw, device, what="sample_weight")
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = k.reshape(w, w.shape[:-1])
    if w.ndim < len(shape):
        w = k.reshape(w, tuple(w.shape) + (1,) * (len(shape) - w.ndim))
    try:
        broadcast_shapes("sample_weight", tuple(w.shape), tuple(shape))
        if w.ndim > len(shape):
            raise ValueError
        return k.broadcast_to(w, tuple(shape))
    except ValueError:
        raise ValueError(f"sample_weight of shape {tuple(np.shape(sw))} does not fit {what} "
                         f"of shape {tuple(shape)}") from None


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weights and reduces per-sample loss values in one differentiable op (sums
    accumulate in float64)."""
    d = values.device
    k = d.k
    v = values._data
    w = None if sample_weight is None else broadcast_sample_weight(sample_weight, v.shape, d)
    if reduction in ("none", None):
        return values if w is None else ops.multiply(values, _wrap(w, d))
    out, scale = k.reduce_loss(v, w, reduction)

    def backward(g, needs):
        gs = k.binary("multiply", g, scale)
        return (k.full(v.shape, gs) if w is None else k.binary("multiply", w, gs),)
    return _out(out, (values,), backward, d)


# --- classes ------------------------------------------------------------------------------------
class Loss:
    """Base class: subclasses implement call(y_true, y_pred) -> per-sample values."""

    _keras_module = "keras.losses"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            register_builtin(cls._keras_module, cls)

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: invalid reduction {reduction!r}; "
                             f"expected one of {list(_REDUCTIONS)}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_values(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _snake(name):
    from pykern.backend.state import to_snake_case
    return to_snake_case(name)


class LossFunctionWrapper(Loss):
    """A loss class around a loss function and its keyword arguments."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def _wrapper(fn, default_name, params=()):
    """A LossFunctionWrapper subclass with Keras' constructor signature."""
    def __init__(self, *args, reduction="sum_over_batch_size", name=default_name, dtype=None,
                 **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{cls.__name__}: too many positional arguments")
        kw = dict(params)
        kw.update(zip([p for p, _ in params], args))
        unknown = set(kwargs) - set(kw)
        if unknown:
            raise TypeError(f"{cls.__name__}: unexpected keyword argument(s) {sorted(unknown)}")
        kw.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype,
                                     **kw)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, **self._fn_kwargs}

    @classmethod
    def from_config(klass, config):
        config = dict(config)
        config.pop("fn", None)
        return klass(**config)

    cls = type(default_name, (LossFunctionWrapper,),
               {"__init__": __init__, "get_config": get_config, "from_config": from_config,
                "__module__": __name__, "__doc__": fn.__doc__})
    return cls


MeanSquaredError = _wrapper(mean_squared_error, "mean_squared_error")
MeanSquaredError.__name__ = MeanSquaredError.__qualname__ = "MeanSquaredError"
MeanAbsoluteError = _wrapper(mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper(mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper(mean_squared_logarithmic_error,
                                       "mean_squared_logarithmic_error")
BinaryCrossentropy = _wrapper(binary_crossentropy, "binary_crossentropy",
                              (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)))
CategoricalCrossentropy = _wrapper(categorical_crossentropy, "categorical_crossentropy",
                                   (("from_logits", False), ("label_smoothing", 0.0),
                                    ("axis", -1)))
SparseCategoricalCrossentropy = _wrapper(sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy",
                                         (("from_logits", False), ("ignore_class", None),
                                          ("axis", -1)))
Huber = _wrapper(huber, "huber_loss", (("delta", 1.0),))
LogCosh = _wrapper(log_cosh, "log_cosh")
KLDivergence = _wrapper(kl_divergence, "kl_divergence")
Poisson = _wrapper(poisson, "poisson")
Hinge = _wrapper(hinge, "hinge")
SquaredHinge = _wrapper(squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper(categorical_hinge, "categorical_hinge")
CosineSimilarity = _wrapper(cosine_similarity, "cosine_similarity", (("axis", -1),))

_CLASSES = {"MeanSquaredError": MeanSquaredError, "MeanAbsoluteError": MeanAbsoluteError,
            "MeanAbsolutePercentageError": MeanAbsolutePercentageError,
            "MeanSquaredLogarithmicError": MeanSquaredLogarithmicError,
            "BinaryCrossentropy": BinaryCrossentropy,
            "CategoricalCrossentropy": CategoricalCrossentropy,
            "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy, "Huber": Huber,
            "LogCosh": LogCosh, "KLDivergence": KLDivergence, "Poisson": Poisson,
            "Hinge": Hinge, "SquaredHinge": SquaredHinge, "CategoricalHinge": CategoricalHinge,
            "CosineSimilarity": CosineSimilarity}
for _name, _cls in _CLASSES.items():
    _cls.__name__ = _cls.__qualname__ = _name
    register_builtin("keras.losses", _cls)

_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error, "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "huber": huber,
    "huber_loss": huber, "log_cosh": log_cosh, "logcosh": log_cosh,
    "kl_divergence": kl_divergence, "kld": kl_divergence, "kullback_leibler_divergence":
    kl_divergence, "poisson": poisson, "hinge": hinge, "squared_hinge": squared_hinge,
    "categorical_hinge": categorical_hinge, "cosine_similarity": cosine_similarity,
}


def serialize(loss):
    if callable(loss) and getattr(loss, "__name__", None) in _FUNCTIONS and \
            not isinstance(loss, Loss):
        return loss.__name__
    return serialize_keras_object(loss)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects)


def get(identifier):
    """A loss callable from a name ('mse', 'binary_crossentropy', 'BinaryCrossentropy'),
    a function, a Loss instance or a config dict."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret loss identifier: {identifier!r}; known names "
                         f"include {sorted(_FUNCTIONS)}")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
