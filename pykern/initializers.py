"""Weight initializers (Keras 3 formulas and defaults; the random streams are
pykern's own Philox generators, so values match Keras in distribution, not
bit for bit).

A seeded initializer returns the same values on every call; an unseeded one
draws from the global stream that `pykern.utils.set_random_seed` resets.
"""
import math

import numpy as np

from pykern.backend import random as krandom
from pykern.utils.serialization import (deserialize_keras_object, register_builtin,
                                        resolve_identifier)

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "Identity", "get",
           "serialize", "deserialize"]


def compute_fans(shape):
    """Keras' fans: 2-D (in, out); conv kernels (*k, cin, cout) scale by prod(k)."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement __call__(shape, dtype=None) -> ndarray."""

    _keras_module = "keras.initializers"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            register_builtin("keras.initializers", cls)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _check_dtype(self, dtype):
        return np.dtype(dtype or "float32")


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(tuple(shape), dtype=self._check_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(tuple(shape), dtype=self._check_dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.broadcast_to(np.asarray(self.value, dtype=self._check_dtype(dtype)),
                               tuple(shape)).copy()

    def get_config(self):
        v = self.value
        return {"value": v.tolist() if isinstance(v, np.ndarray) else v}


class _Random(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed

    def get_config(self):
        return {"seed": self.seed}


class RandomUniform(_Random):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return krandom.uniform(shape, self.minval, self.maxval, self._check_dtype(dtype), self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(_Random):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return krandom.normal(shape, self.mean, self.stddev, self._check_dtype(dtype), self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal values redrawn beyond two standard deviations."""

    def __call__(self, shape, dtype=None):
        return krandom.truncated_normal(shape, self.mean, self.stddev, self._check_dtype(dtype),
                                        self.seed)


class VarianceScaling(_Random):
    """scale / fan, fan = fan_in, fan_out or their mean; a truncated normal (whose
    stddev is corrected by 0.8796... for the truncation), a plain normal, or a
    uniform with limit sqrt(3 * scale / fan)."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        _no_axes(type(self).__name__, input_axes, output_axes)
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, got {mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self._DISTRIBUTIONS}, got {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[
            self.mode]
        scale = self.scale / max(1.0, fan)
        dtype = self._check_dtype(dtype)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / 0.87962566103423978
            return krandom.truncated_normal(shape, 0.0, stddev, dtype, self.seed)
        if self.distribution == "untruncated_normal":
            return krandom.normal(shape, 0.0, math.sqrt(scale), dtype, self.seed)
        limit = math.sqrt(3.0 * scale)
        return krandom.uniform(shape, -limit, limit, dtype, self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _no_axes(name, input_axes, output_axes):
    """Keras 3.15 configs carry input_axes/output_axes (fans over chosen axes of
    einsum kernels), null for every kernel pykern has; only null is accepted."""
    if input_axes is not None or output_axes is not None:
        raise ValueError(f"{name}: input_axes/output_axes are not supported, got "
                         f"{input_axes!r} and {output_axes!r}")


def _variance_preset(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        _no_axes(name, input_axes, output_axes)
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}
    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__module__": __name__,
                                           "__doc__": f"VarianceScaling({scale}, {mode!r}, "
                                                      f"{distribution!r})."})
    return cls


GlorotUniform = _variance_preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(_Random):
    """gain * an orthonormal matrix over (prod(shape[:-1]), shape[-1]) from the QR
    of a normal matrix, signs fixed by diag(R) (rows orthonormal when wide)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of rank >= 2, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = krandom.normal((max(rows, cols), min(rows, cols)), seed=self.seed).astype(np.float64)
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(self._check_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape, got {shape}")
        return (self.gain * np.eye(*shape)).astype(self._check_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


for _cls in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal):
    register_builtin("keras.initializers", _cls)

_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "uniform": RandomUniform, "random_normal": RandomNormal, "normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}
_BY_NAME.update({c.__name__.lower(): c for c in set(_BY_NAME.values())})


def serialize(initializer):
    from pykern.utils.serialization import serialize_keras_object
    return serialize_keras_object(initializer)


def deserialize(config, custom_objects=None):
    return deserialize_keras_object(config, custom_objects)


def get(identifier, custom_objects=None):
    """An Initializer from a name ('glorot_uniform', 'GlorotUniform'), config dict,
    instance or callable; None stays None."""
    return resolve_identifier(
        identifier, "initializer", Initializer, _BY_NAME, custom_objects,
        keys=(lambda n: n.lower().replace("_", ""), str.lower),
        listed=[k for k in _BY_NAME if "_" in k or k.isalpha()])
