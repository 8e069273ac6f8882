"""Stateful metrics as Keras 3 defines them: update_state(y_true, y_pred,
sample_weight) accumulates state, result() reads it, reset_state() clears it.

Per-batch work runs through pykern.ops on the predictions' device, and the
accumulators (float64 sums) stay on that device: values come to the host only
when result() is read (for a log or a callback). Mean-type metrics keep a
weighted total and count, so an epoch's value is the running mean over all
samples seen, as in Keras.
"""
import numpy as np

from pykern import losses as klosses
from pykern import ops
from pykern.backend import devices
from pykern.backend.state import to_snake_case, uniquify
from pykern.backend.tensor import Tensor, no_grad
from pykern.ops.core import _wrap
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        serialize_keras_object)

__all__ = [
    "Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
    "RootMeanSquaredError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "KLDivergence", "Poisson", "Hinge", "SquaredHinge", "CategoricalHinge", "LogCoshError",
    "CosineSimilarity", "Precision", "Recall", "AUC", "binary_accuracy",
    "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "accuracy", "get", "serialize", "deserialize",
]

_F32 = np.float32
EPSILON = 1e-7


def _tensor(x, like=None, what="values", keep_dtype=True):
    """x as a Tensor on like's device (or the current one); numeric dtypes only."""
    if isinstance(x, Tensor):
        t = x
        if like is not None:
            devices.of([t, like], what)
    else:
        v = np.asarray(x)
        d = like.device if like is not None else devices.current()
        t = _wrap(d.k.from_host(v, dtype=None if keep_dtype else _F32), d)
    if t.dtype.kind not in "fiub":
        raise ValueError(f"{what} must be numeric, got an array of dtype {t.dtype}")
    return t


def _pair(y_true, y_pred, what):
    p = _tensor(y_pred, what=f"{what}: y_pred")
    return _tensor(y_true, p, f"{what}: y_true"), p


def _squeeze_like(y, p):
    if y.ndim == p.ndim + 1 and y.shape[-1] == 1:
        return ops.squeeze(y, -1)
    if y.ndim + 1 == p.ndim and p.shape[-1] == 1:
        return ops.expand_dims(y, -1)
    return y


def _f32(t):
    return ops.cast(t, "float32")


# --- metric functions (per-sample values, on the predictions' device) ---------------------------
def accuracy(y_true, y_pred):
    """Exact equality, averaged over the last axis."""
    y, p = _pair(y_true, y_pred, "accuracy")
    hit = _f32(ops.equal(_squeeze_like(y, p), p))
    return ops.mean(hit, axis=-1) if p.ndim else hit


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """mean over the last axis of y == (p > threshold) (strict, as Keras)."""
    y, p = _pair(y_true, y_pred, "binary_accuracy")
    y = _squeeze_like(_f32(y), p)
    return ops.mean(_f32(ops.equal(y, _f32(ops.greater(p, threshold)))), axis=-1)


def categorical_accuracy(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "categorical_accuracy")
    return _f32(ops.equal(ops.argmax(y, axis=-1), ops.argmax(p, axis=-1)))


def _class_ids(y, p):
    if y.ndim == p.ndim and y.shape[-1] == 1:
        y = ops.squeeze(y, -1)
    return ops.cast(y, "int32")


def sparse_categorical_accuracy(y_true, y_pred):
    y, p = _pair(y_true, y_pred, "sparse_categorical_accuracy")
    return _f32(ops.equal(_class_ids(y, p), ops.argmax(p, axis=-1)))


def _in_top_k(p, idx, k):
    """idx is among the k largest of p along the last axis; ties favour the target
    as TF does."""
    flat_p = ops.reshape(p, (-1, p.shape[-1]))
    flat_i = ops.reshape(idx, (-1,))
    hit = p.device.k.top_k_hit(flat_p._data, flat_i._data, k)
    return ops.reshape(_wrap(hit, p.device), p.shape[:-1])


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    y, p = _pair(y_true, y_pred, "top_k_categorical_accuracy")
    return _in_top_k(p, ops.argmax(y, axis=-1), k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    y, p = _pair(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return _in_top_k(p, _class_ids(y, p), k)


def _from_loss(fn):
    def metric_fn(y_true, y_pred, **kwargs):
        with no_grad():
            return fn(y_true, y_pred, **kwargs)
    metric_fn.__name__ = fn.__name__
    return metric_fn


# --- base classes ------------------------------------------------------------------------------
class Metric:
    """Base class: subclasses implement update_state, result and reset_state."""

    _keras_module = "keras.metrics"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            register_builtin(cls._keras_module, cls)

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def reset_state(self):
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _weighted_sum(name, values, sample_weight):
    """(sum of values * weights, sum of weights) as float64 storage on the values'
    device (the count is a host float when there are no weights)."""
    v = _tensor(values, what=f"{name}: values")
    k = v.device.k
    data = v._data if v.dtype == np.dtype(_F32) else k.cast(v._data, _F32)
    axes = tuple(range(v.ndim))
    if sample_weight is None:
        return v.device, k.reduce("sum", data, axes, precise=True), float(v.size)
    w = klosses.broadcast_sample_weight(sample_weight, v.shape, v.device, what="values")
    return (v.device, k.reduce("sum", k.binary("multiply", data, w), axes, precise=True),
            k.reduce("sum", w, axes, precise=True))


class Mean(Metric):
    """The weighted mean of every value seen: total / count (a float64 running pair
    on the device of the values)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self._device = None
        self._state = None

    def update_state(self, values, sample_weight=None):
        d, total, count = _weighted_sum(self.name, values, sample_weight)
        self._add(total, count, d)

    def _add(self, total, count, device, scale=1.0):
        """Adds total * scale and count (storage on `device` or host numbers)."""
        if self._device is not device:
            self._device, self._state = device, None
        self._state = device.k.accumulate(self._state, total, count, scale)

    def _host(self):
        if self._state is None:
            return 0.0, 0.0
        total, count = self._device.k.to_host(self._state)
        return float(total), float(count)

    @property
    def total(self):
        return self._host()[0]

    @property
    def count(self):
        return self._host()[1]

    def result(self):
        total, count = self._host()
        return _F32(total / count) if count else _F32(0.0)


class Sum(Metric):
    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self._device = None
        self._total = None

    def update_state(self, values, sample_weight=None):
        d, total, _ = _weighted_sum(self.name, values, sample_weight)
        if self._device is not d:
            self._device, self._total = d, d.k.full((), 0.0, "float64")
        self._total = d.k.binary("add", self._total, total)

    @property
    def total(self):
        return 0.0 if self._device is None else float(self._device.k.to_host(self._total))

    def result(self):
        return _F32(self.total)


class MeanMetricWrapper(Mean):
    """The mean of fn(y_true, y_pred, **kwargs) over all samples."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        y, p = _pair(y_true, y_pred, self.name)
        with no_grad():
            values = self._fn(y, p, **self._fn_kwargs)
        Mean.update_state(self, values, sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def _wrapper(class_name, fn, default_name, params=()):
    def __init__(self, *args, name=default_name, dtype=None, **kwargs):
        kw = dict(params)
        kw.update(zip([p for p, _ in params], args))
        unknown = set(kwargs) - set(kw)
        if unknown:
            raise TypeError(f"{class_name}: unexpected keyword argument(s) {sorted(unknown)}")
        kw.update(kwargs)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **kw)

    cls = type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__module__": __name__,
                                                  "__qualname__": class_name})
    register_builtin("keras.metrics", cls)
    return cls


Accuracy = _wrapper("Accuracy", accuracy, "accuracy")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy",
                          (("threshold", 0.5),))
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy,
                               "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy", (("k", 5),))
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy",
                                         sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy", (("k", 5),))
MeanSquaredError = _wrapper("MeanSquaredError", _from_loss(klosses.mean_squared_error),
                            "mean_squared_error")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", _from_loss(klosses.mean_absolute_error),
                             "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper(
    "MeanAbsolutePercentageError", _from_loss(klosses.mean_absolute_percentage_error),
    "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper(
    "MeanSquaredLogarithmicError", _from_loss(klosses.mean_squared_logarithmic_error),
    "mean_squared_logarithmic_error")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", _from_loss(klosses.binary_crossentropy),
                              "binary_crossentropy",
                              (("from_logits", False), ("label_smoothing", 0.0)))
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy",
                                   _from_loss(klosses.categorical_crossentropy),
                                   "categorical_crossentropy",
                                   (("from_logits", False), ("label_smoothing", 0.0)))
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         _from_loss(klosses.sparse_categorical_crossentropy),
                                         "sparse_categorical_crossentropy",
                                         (("from_logits", False),))
KLDivergence = _wrapper("KLDivergence", _from_loss(klosses.kl_divergence), "kl_divergence")
Poisson = _wrapper("Poisson", _from_loss(klosses.poisson), "poisson")
Hinge = _wrapper("Hinge", _from_loss(klosses.hinge), "hinge")
SquaredHinge = _wrapper("SquaredHinge", _from_loss(klosses.squared_hinge), "squared_hinge")
CategoricalHinge = _wrapper("CategoricalHinge", _from_loss(klosses.categorical_hinge),
                            "categorical_hinge")
LogCoshError = _wrapper("LogCoshError", _from_loss(klosses.log_cosh), "logcosh")


def _cosine(y_true, y_pred, axis=-1):
    y, p = _pair(y_true, y_pred, "cosine_similarity")
    y, p = _f32(y), _f32(p)
    yn = ops.divide(y, ops.maximum(ops.sqrt(ops.sum(ops.square(y), axis=axis, keepdims=True)),
                                   EPSILON))
    pn = ops.divide(p, ops.maximum(ops.sqrt(ops.sum(ops.square(p), axis=axis, keepdims=True)),
                                   EPSILON))
    return ops.sum(ops.multiply(yn, pn), axis=axis)


CosineSimilarity = _wrapper("CosineSimilarity", _cosine, "cosine_similarity", (("axis", -1),))


class RootMeanSquaredError(Mean):
    """sqrt of the weighted mean of squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y, p = _pair(y_true, y_pred, self.name)
        with no_grad():
            err = ops.square(ops.subtract(_squeeze_like(_f32(y), p), p))
        super().update_state(err, sample_weight)

    def result(self):
        total, count = self._host()
        return _F32(np.sqrt(total / count)) if count else _F32(0.0)


# --- confusion-matrix metrics ------------------------------------------------------------------
def _thresholds_arg(thresholds, default):
    if thresholds is None:
        return np.array([default])
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if np.any((t < 0) | (t > 1)):
        raise ValueError(f"thresholds must be in [0, 1], got {thresholds!r}")
    return t


def _confusion(y_true, y_pred, thresholds, sample_weight, class_id=None, top_k=None):
    """(tp, fp, tn, fn) per threshold as float64 storage on the predictions'
    device, weighted, with Keras' strict `p > t`."""
    y, p = _pair(y_true, y_pred, "confusion")
    with no_grad():
        y = _squeeze_like(y, p)
        if class_id is not None:
            y, p = y[..., class_id], p[..., class_id]
        if top_k is not None:
            kth = p.device.k.kth_largest(_f32(p)._data, top_k)
            p = ops.where(ops.greater_equal(p, _wrap(kth, p.device)), p, -np.inf)
        pos = _f32(ops.greater(ops.reshape(_f32(y), (-1,)), 0.0))
        p = ops.reshape(_f32(p), (1, -1))
        if sample_weight is None:
            w = ops.ones_like(pos)
        else:
            w = _wrap(klosses.broadcast_sample_weight(sample_weight, y.shape, p.device,
                                                      what="values"), p.device)
            w = ops.reshape(w, (-1,))
        thr = _tensor(np.asarray(thresholds, _F32).reshape(-1, 1), p)
        above = _f32(ops.greater(p, thr))  # (T, N)
        wp, wn = ops.multiply(w, pos), ops.multiply(w, ops.subtract(1.0, pos))
    k = p.device.k
    sums = [k.reduce("sum", k.binary("multiply", above._data, v._data), (1,), precise=True)
            for v in (wp, wn)]
    totals = [k.reduce("sum", v._data, (0,), precise=True) for v in (wp, wn)]
    tp, fp = sums
    return (p.device, tp, fp, k.binary("subtract", totals[1], fp),
            k.binary("subtract", totals[0], tp))


class _Counts:
    """tp, fp, tn, fn accumulators (float64 storage on one device) per threshold."""

    def _reset_counts(self):
        self._device = None
        self._counts = None

    def _accumulate(self, device, counts):
        if self._device is not device:
            self._device = device
            self._counts = [device.k.full((len(self.thresholds),), 0.0, "float64")
                            for _ in range(4)]
        self._counts = [device.k.binary("add", a, b) for a, b in zip(self._counts, counts)]

    def _count(self, i):
        if self._device is None:
            return np.zeros(len(self.thresholds))
        return np.asarray(self._device.k.to_host(self._counts[i]), dtype=np.float64)

    true_positives = property(lambda self: self._count(0))
    false_positives = property(lambda self: self._count(1))
    true_negatives = property(lambda self: self._count(2))
    false_negatives = property(lambda self: self._count(3))


class _Confusion(_Counts, Metric):
    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        # unnamed confusion metrics get unique names (precision, precision_1, ...) as Keras
        super().__init__(name=name or uniquify(to_snake_case(type(self).__name__)),
                         dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _thresholds_arg(thresholds, 0.5)
        self.top_k = top_k
        self.class_id = class_id
        self.reset_state()

    def reset_state(self):
        self._reset_counts()

    def update_state(self, y_true, y_pred, sample_weight=None):
        d, *counts = _confusion(y_true, y_pred, self.thresholds, sample_weight, self.class_id,
                                self.top_k)
        self._accumulate(d, counts)

    def _ratio(self, num, den):
        r = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0).astype(_F32)
        return r[0] if self.init_thresholds is None or np.ndim(self.init_thresholds) == 0 else r

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_Confusion):
    """tp / (tp + fp) at each threshold (default 0.5)."""

    def result(self):
        tp = self.true_positives
        return self._ratio(tp, tp + self.false_positives)


class Recall(_Confusion):
    """tp / (tp + fn) at each threshold (default 0.5)."""

    def result(self):
        tp = self.true_positives
        return self._ratio(tp, tp + self.false_negatives)


def _div_no_nan(a, b):
    return np.where(b != 0, a / np.where(b != 0, b, 1), 0.0)


class AUC(_Counts, Metric):
    """Area under the ROC or PR curve from confusion counts at num_thresholds
    thresholds (Keras' Riemann sums; PR with 'interpolation' uses Davis &
    Goadrich's interpolation as Keras)."""

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name or uniquify("auc"), dtype=dtype)
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: invalid summation_method {summation_method!r}")
        if multi_label or label_weights is not None:
            raise ValueError("AUC: multi_label and label_weights are not supported by pykern")
        if num_thresholds <= 1:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        self.curve, self.summation_method = curve.upper(), summation_method
        self.num_thresholds, self.from_logits = num_thresholds, from_logits
        self.multi_label, self.num_labels, self.label_weights = False, None, None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._init_thresholds = thresholds
        self.thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.reset_state()

    def reset_state(self):
        self._reset_counts()

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _tensor(y_pred, what="auc: y_pred")
        if self.from_logits:
            with no_grad():
                p = ops.sigmoid(_f32(p))
        d, *counts = _confusion(y_true, p, self.thresholds, sample_weight)
        self._accumulate(d, counts)

    def _pr_interpolated(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _div_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _div_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        inc = _div_no_nan(slope * (dtp + intercept * np.log(ratio)),
                          np.maximum(tp[1:] + fn[1:], 0))
        return _F32(inc.sum())

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._pr_interpolated()
        tp, fp = self.true_positives, self.false_positives
        tn, fn = self.true_negatives, self.false_negatives
        recall = _div_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _div_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return _F32(((x[:-1] - x[1:]) * heights).sum())

    def get_config(self):
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "thresholds": self._init_thresholds, "multi_label": False,
                "label_weights": None, "from_logits": self.from_logits}


# --- lookup ---------------------------------------------------------------------------------------
_BY_STRING = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy":
    CategoricalCrossentropy, "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "logcosh": LogCoshError, "log_cosh": LogCoshError, "cosine_similarity": CosineSimilarity,
    "auc": AUC, "precision": Precision, "recall": Recall,
}
_CLASSES = {c.__name__: c for c in (
    Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError,
    MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence,
    Poisson, Hinge, SquaredHinge, CategoricalHinge, LogCoshError, CosineSimilarity, AUC,
    Precision, Recall, Mean, Sum)}


def serialize(metric):
    return serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects=custom_objects)


def get(identifier):
    """A Metric instance or metric function for a string (not 'accuracy', which the
    training loop resolves from shapes), a class name, a function or an instance."""
    if isinstance(identifier, Metric) or (callable(identifier) and
                                          not isinstance(identifier, (str, type))):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _BY_STRING:
            return _BY_STRING[identifier](name=identifier)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")
