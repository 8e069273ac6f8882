"""Seeded random numbers: every stream is a counter-based Philox generator.

`set_random_seed(seed)` resets the global stream. Objects that draw random
numbers repeatedly (Dropout, initializers without a seed) own a
`SeedGenerator`; one built with seed=None takes its key from the global stream
at construction, so with the same global seed and the same construction order
every weight and every dropout mask is identical run to run.
"""
import random as _pyrandom

import numpy as np

__all__ = ["set_random_seed", "SeedGenerator", "uniform", "normal", "truncated_normal",
           "global_generator"]


def _philox(seed):
    return np.random.Generator(np.random.Philox(key=int(seed) & (2 ** 64 - 1)))


class _Global:
    generator = np.random.Generator(np.random.Philox())


def global_generator():
    return _Global.generator


def set_random_seed(seed):
    """Seeds pykern's global stream, Python's `random` and NumPy's legacy global RNG."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: seed must be an int, got {seed!r}")
    _Global.generator = _philox(seed)
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))


class SeedGenerator:
    """A private, reproducible random stream (Keras' keras.random.SeedGenerator)."""

    def __init__(self, seed=None):
        if seed is None:
            seed = int(_Global.generator.integers(0, 2 ** 63 - 1))
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self.seed = int(seed)
        self.generator = _philox(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _generator(seed):
    if seed is None:
        return _Global.generator
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, np.random.Generator):
        return seed
    return _philox(seed)  # an int: the same numbers on every call, as Keras


def uniform(shape, minval=0.0, maxval=1.0, dtype="float32", seed=None):
    u = _generator(seed).random(tuple(shape), dtype=np.float32)
    if minval != 0.0 or maxval != 1.0:
        u = u * np.float32(maxval - minval) + np.float32(minval)
    return u.astype(dtype, copy=False)


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    z = _generator(seed).standard_normal(tuple(shape), dtype=np.float32)
    return (z * np.float32(stddev) + np.float32(mean)).astype(dtype, copy=False)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Normal values redrawn until they lie within two standard deviations (as TF/Keras)."""
    gen = _generator(seed)
    z = gen.standard_normal(tuple(shape), dtype=np.float32)
    bad = np.abs(z) > 2.0
    while bad.any():  # each pass redraws all outliers at once; ~5% remain per pass
        z[bad] = gen.standard_normal(int(bad.sum()), dtype=np.float32)
        bad = np.abs(z) > 2.0
    return (z * np.float32(stddev) + np.float32(mean)).astype(dtype, copy=False)
