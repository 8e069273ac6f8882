"""Losses as Keras 3 defines them: functions giving one value per sample, and
classes adding sample weights and the reduction.

Every function reduces the last axis (`mean` for the regression losses, `sum`
for the categorical ones) and returns a Tensor differentiable in y_pred. The
crossentropies are single fused ops written with NumPy vectorised code (forward
values and the analytic gradient in one node): the logits forms are the stable
ones (log-sum-exp; max(z,0) - z*y + log1p(exp(-|z|))), the probability forms
clip with epsilon = 1e-7 exactly as TensorFlow-Keras does. The other losses are
compositions of pykern.ops.

Reduction (keras_behaviour.md §3.1): 'sum_over_batch_size' (default) sums the
(weighted) per-sample values and divides by their number, not by the sum of
the weights; 'sum', 'mean_with_sample_weight' and 'none'/None as in Keras.
"""
import math

import numpy as np

from pykern import _cpu, ops
from pykern.backend.tensor import Tensor
from pykern.ops.core import _out, _t
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
def _labels(y_true, what="y_true"):
    """y_true as a float32 ndarray (never differentiated)."""
    v = y_true._value if isinstance(y_true, Tensor) else np.asarray(y_true)
    if v.dtype.kind not in "fiub":
        raise ValueError(f"{what} must be numeric, got an array of dtype {v.dtype}")
    return v.astype(_F32, copy=False)


def _same_rank(y, p_shape, loss):
    """Squeezes or expands a trailing 1 so y's rank matches y_pred's (Keras'
    squeeze_or_expand_to_same_rank); other mismatches are errors."""
    if y.ndim == len(p_shape) + 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    elif y.ndim + 1 == len(p_shape) and p_shape[-1] == 1:
        y = y.reshape(y.shape + (1,))
    if y.shape != tuple(p_shape):
        try:
            np.broadcast_shapes(y.shape, tuple(p_shape))
        except ValueError:
            raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of "
                             f"shape {tuple(p_shape)}") from None
        if y.ndim != len(p_shape):
            raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of "
                             f"shape {tuple(p_shape)}")
    return y


def _fused(y_pred, values, grad):
    """A per-sample Tensor `values` (y_pred's shape without the last axis) whose
    backward is g[..., None] * grad (grad = d values / d y_pred, precomputed)."""
    def backward(g, needs):
        return (grad * g[..., None],)
    return _out(values.astype(_F32, copy=False), (y_pred,), backward)


# --- crossentropies: fused forward + backward -----------------------------------------------
def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _move_axis_last(y_true, y_pred, axis):
    if axis in (-1, None) or axis == y_pred.ndim - 1:
        return y_true, y_pred
    return np.moveaxis(y_true, axis, -1), ops.transpose(
        y_pred, [i for i in range(y_pred.ndim) if i != axis % y_pred.ndim] + [axis % y_pred.ndim])


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean over the last axis of -(y log p + (1-y) log(1-p)); probabilities are
    clipped to [eps, 1-eps] and eps is added inside the logs, as TF-Keras."""
    p = _t(y_pred)
    y = _labels(y_true)
    if y.shape != p.shape:
        y = np.broadcast_to(_same_rank(y, p.shape, "binary_crossentropy"), p.shape)
    if label_smoothing:
        y = y * _F32(1 - label_smoothing) + _F32(0.5 * label_smoothing)
    y, p = _move_axis_last(y, p, axis)
    z = p._value
    n = _F32(z.shape[-1])
    if from_logits:
        elem = np.maximum(z, 0)
        elem -= z * y
        elem += np.log1p(np.exp(-np.abs(z)))
        grad = _cpu.activation(z, "sigmoid")
        grad -= y
        if n != 1:
            grad /= n
    else:
        eps = _F32(EPSILON)
        pc = np.clip(z, eps, _F32(1) - eps)
        a, b = pc + eps, _F32(1) - pc + eps
        elem = -(y * np.log(a) + (1 - y) * np.log(b))
        inside = (z >= eps) & (z <= _F32(1) - eps)
        grad = np.where(inside, (-(y / a) + (1 - y) / b) / n, _F32(0))
    values = elem.reshape(elem.shape[:-1]) if n == 1 else np.add.reduce(elem, axis=-1) / n
    return _fused(p, values, grad.astype(_F32, copy=False))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y log p) over the class axis; probabilities are renormalised to sum 1 and
    clipped to [eps, 1-eps]; logits go through a stable log-softmax."""
    p = _t(y_pred)
    y = _labels(y_true)
    if y.shape != p.shape:
        if p.ndim >= 1 and p.shape[-1] > 1 and (y.ndim < p.ndim or y.shape[-1] == 1):
            raise ValueError(f"categorical_crossentropy expects one-hot labels of shape "
                             f"{tuple(p.shape)}, got integer-like labels of shape {y.shape}; "
                             f"use sparse_categorical_crossentropy for class indices")
        raise ValueError(f"categorical_crossentropy: labels of shape {y.shape} do not match "
                         f"predictions of shape {tuple(p.shape)}")
    y, p = _move_axis_last(y, p, axis)
    if label_smoothing:
        y = y * _F32(1 - label_smoothing) + _F32(label_smoothing / y.shape[-1])
    z = p._value
    if from_logits:
        m = z.max(axis=-1, keepdims=True)
        lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
        values = -(y * (z - lse)).sum(axis=-1)
        grad = np.exp(z - lse) * y.sum(axis=-1, keepdims=True) - y
    else:
        eps = _F32(EPSILON)
        s = z.sum(axis=-1, keepdims=True)
        q = z / s
        qc = np.clip(q, eps, _F32(1) - eps)
        values = -(y * np.log(qc)).sum(axis=-1)
        dq = np.where((q >= eps) & (q <= _F32(1) - eps), -y / qc, _F32(0))
        grad = (dq - (dq * q).sum(axis=-1, keepdims=True)) / s
    return _fused(p, values, grad.astype(_F32))


def _sparse_labels(y_true, p_shape, loss):
    y = y_true._value if isinstance(y_true, Tensor) else np.asarray(y_true)
    if y.dtype.kind not in "fiub":
        raise ValueError(f"{loss}: labels must be numeric, got dtype {y.dtype}")
    if y.ndim == len(p_shape) and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.shape != tuple(p_shape[:-1]):
        if y.shape == tuple(p_shape) and p_shape[-1] > 1:
            raise ValueError(f"{loss} expects integer class indices of shape "
                             f"{tuple(p_shape[:-1])}, got one-hot-like labels of shape "
                             f"{y.shape}; use categorical_crossentropy for one-hot labels")
        raise ValueError(f"{loss}: labels of shape {y.shape} do not fit predictions of shape "
                         f"{tuple(p_shape)} (expected {tuple(p_shape[:-1])})")
    idx = y.astype(np.int64)
    classes = p_shape[-1]
    if y.size and (idx.min() < 0 or idx.max() >= classes or
                   (y.dtype.kind == "f" and not np.array_equal(idx, y))):
        bad = y[(idx < 0) | (idx >= classes) | (idx != y)].ravel()[:5]
        raise ValueError(f"{loss}: labels must be integers in [0, {classes}), got values "
                         f"such as {bad.tolist()}")
    return idx


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """-log softmax(z)[label] for logits; for probabilities TF-Keras feeds log(clip(p))
    to the softmax crossentropy, i.e. log(sum pc) - log(pc[label])."""
    p = _t(y_pred)
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"sparse_categorical_crossentropy: only axis=-1 is supported, got "
                         f"{axis}")
    idx = _sparse_labels(y_true, p.shape, "sparse_categorical_crossentropy")
    valid = None
    if ignore_class is not None:
        valid = idx != ignore_class
        idx = np.where(valid, idx, 0)
    z = p._value
    onehot = np.zeros(z.shape, _F32)
    np.put_along_axis(onehot, idx[..., None], _F32(1), axis=-1)
    if from_logits:
        m = z.max(axis=-1, keepdims=True)
        lse = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
        values = lse[..., 0] - np.take_along_axis(z, idx[..., None], axis=-1)[..., 0]
        grad = np.exp(z - lse) - onehot
    else:
        eps = _F32(EPSILON)
        pc = np.clip(z, eps, _F32(1) - eps)
        s = pc.sum(axis=-1, keepdims=True)
        values = np.log(s[..., 0]) - np.log(np.take_along_axis(pc, idx[..., None], -1)[..., 0])
        grad = np.where((z >= eps) & (z <= _F32(1) - eps), 1 / s - onehot / pc, _F32(0))
    if valid is not None:
        values = np.where(valid, values, _F32(0))
        grad = grad * valid[..., None]
    return _fused(p, values, grad.astype(_F32))


# --- composed losses --------------------------------------------------------------------------
def _pair(y_true, y_pred, loss):
    p = _t(y_pred)
    y = _same_rank(_labels(y_true), p.shape, loss)
    return Tensor(np.ascontiguousarray(y)), p


def mean_squared_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_squared_error")
    d = p._value - y._value
    n = _F32(d.shape[-1]) if d.ndim else _F32(1)
    if d.ndim == 0:
        return ops.square(ops.subtract(p, y))
    return _fused(p, (d * d).mean(axis=-1), (2 / n) * d)


def mean_absolute_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_absolute_error")
    return ops.mean(ops.abs(ops.subtract(p, y)), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_absolute_percentage_error")
    denom = np.maximum(np.abs(y._value), _F32(EPSILON))
    return ops.multiply(100.0, ops.mean(ops.abs(ops.divide(ops.subtract(y, p), denom)),
                                        axis=-1))


def mean_squared_logarithmic_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "mean_squared_logarithmic_error")
    first = ops.log(ops.add(ops.maximum(p, EPSILON), 1.0))
    second = np.log(np.maximum(y._value, _F32(EPSILON)) + _F32(1))
    return ops.mean(ops.square(ops.subtract(first, second)), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    y, p = _pair(y_true, y_pred, "huber")
    err = ops.subtract(p, y)
    abs_err = ops.abs(err)
    quad = ops.multiply(0.5, ops.square(err))
    lin = ops.subtract(ops.multiply(float(delta), abs_err), 0.5 * float(delta) ** 2)
    return ops.mean(ops.where(abs_err._value <= _F32(delta), quad, lin), axis=-1)


def log_cosh(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "log_cosh")
    x = ops.subtract(p, y)
    return ops.mean(ops.subtract(ops.add(x, ops.softplus(ops.multiply(x, -2.0))),
                                 math.log(2.0)), axis=-1)


def kl_divergence(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "kl_divergence")
    yc = np.clip(y._value, _F32(EPSILON), _F32(1))
    pc = ops.clip(p, EPSILON, 1.0)
    return ops.sum(ops.multiply(yc, ops.subtract(np.log(yc), ops.log(pc))), axis=-1)


def poisson(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "poisson")
    return ops.mean(ops.subtract(p, ops.multiply(y, ops.log(ops.add(p, EPSILON)))), axis=-1)


def _hinge_labels(y):
    v = y._value
    if np.all((v == 0) | (v == 1)):
        return Tensor(2 * v - 1)
    return y


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
    neg = ops.max(ops.multiply(1.0 - y._value, p), axis=-1)
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
def broadcast_sample_weight(sample_weight, shape, what="per-sample losses"):
    """sample_weight as a float32 view broadcast to `shape` (Keras' rules: a
    trailing axis of 1 is dropped, missing trailing axes are added); ValueError
    naming both shapes when it does not fit."""
    sw = sample_weight
    w = np.asarray(sw._value if isinstance(sw, Tensor) else sw, dtype=_F32)
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    while w.ndim < len(shape):
        w = w[..., None]
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"sample_weight of shape {np.shape(sw)} does not fit {what} of "
                         f"shape {tuple(shape)}") from None


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weights and reduces per-sample loss values in one differentiable op."""
    v = values._value
    w = None if sample_weight is None else broadcast_sample_weight(sample_weight, v.shape)
    if reduction in ("none", None):
        return values if w is None else ops.multiply(values, w)
    total = v.sum(dtype=np.float64) if w is None else (v * w).sum(dtype=np.float64)
    if reduction == "sum":
        div = 1.0
    elif reduction == "mean_with_sample_weight" and w is not None:
        div = float(w.sum(dtype=np.float64))
    else:
        div = float(max(v.size, 1))
    if div == 0.0:
        div = 1.0
        total = 0.0 * total
    scale = _F32(1.0 / div)
    out = np.asarray(total / div, dtype=_F32)

    def backward(g, needs):
        base = np.full(v.shape, g * scale, dtype=_F32) if w is None else \
            (w * (g * scale)).astype(_F32)
        return (base,)
    return _out(out, (values,), backward)


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
