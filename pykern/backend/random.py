"""Seeded random numbers: every stream is Philox4x32-10 keyed by (seed, counter).

One generator (csrc/include/pykern/philox.h) serves every device: element i of
a draw that starts at counter `offset` is a function of (seed, offset, i)
alone, so a seed gives the same numbers on the CPU at any thread count and on
a GPU. A `SeedGenerator` is a seed and a counter that each draw advances.

`set_random_seed(seed)` resets the global stream. Objects that draw random
numbers repeatedly (Dropout, initializers without a seed) own a
`SeedGenerator`; one built with seed=None takes its seed from the global
stream at construction, so with the same global seed and the same
construction order every weight and every dropout mask is identical run to
run. An int seed given to a draw gives the same numbers on every call, as
Keras.

The functions here return host ndarrays (initial values of variables, drawn by
the CPU kernel table); device kernels draw through `draw`, which hands out
(seed, offset) for the device's own generator.
"""
import os
import random as _pyrandom

import numpy as np

from pykern.backend import devices

__all__ = ["set_random_seed", "SeedGenerator", "uniform", "normal", "truncated_normal",
           "global_generator", "draw", "permutation", "make_default_seed"]

_MASK64 = (1 << 64) - 1


def _mix64(z):
    """splitmix64's finaliser: decorrelates derived seeds."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class SeedGenerator:
    """A private, reproducible random stream (Keras' keras.random.SeedGenerator):
    a 64-bit Philox key and the counter of the next draw."""

    def __init__(self, seed=None):
        if seed is None:
            seed = _Global.generator._derive()
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self.seed = int(seed)
        self.offset = 0

    def next(self, n):
        """(key, offset) for a draw of n numbers; advances the counter past it."""
        key, offset = self.seed & _MASK64, self.offset
        self.offset += (int(n) + 3) // 4
        return key, offset

    def _derive(self):
        """A new seed taken from this stream (one counter step)."""
        key, offset = self.next(4)
        return _mix64(key ^ _mix64(offset)) >> 1

    def get_config(self):
        return {"seed": self.seed}


class _Global:
    generator = SeedGenerator(int.from_bytes(os.urandom(8), "little") >> 1)


def global_generator():
    return _Global.generator


def make_default_seed():
    """A seed in [1, 1e9) from the global stream (Keras' make_default_seed: what
    RandomCrop records in its config when built without a seed)."""
    return 1 + _Global.generator._derive() % (10 ** 9 - 1)


def set_random_seed(seed):
    """Seeds pykern's global stream, Python's `random` and NumPy's legacy global RNG."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: seed must be an int, got {seed!r}")
    _Global.generator = SeedGenerator(int(seed))
    _pyrandom.seed(int(seed))
    np.random.seed(int(seed) % (2 ** 32))


def draw(seed, shape):
    """(key, offset) of a draw of prod(shape) numbers: from the global stream (None),
    a SeedGenerator (advanced), or an int (the same numbers on every call)."""
    n = 1
    for d in shape:
        n *= int(d)
    if seed is None:
        return _Global.generator.next(n)
    if isinstance(seed, SeedGenerator):
        return seed.next(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"random: seed must be an int, a SeedGenerator or None, got {seed!r}")
    return int(seed) & _MASK64, 0


def uniform(shape, minval=0.0, maxval=1.0, dtype="float32", seed=None):
    shape = tuple(shape)
    key, offset = draw(seed, shape)
    u = devices.CPU.k.random_uniform(shape, key, offset)
    if minval != 0.0 or maxval != 1.0:
        u = u * np.float32(maxval - minval) + np.float32(minval)
    return u.astype(dtype, copy=False)


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    shape = tuple(shape)
    key, offset = draw(seed, shape)
    z = devices.CPU.k.random_normal(shape, key, offset)
    return (z * np.float32(stddev) + np.float32(mean)).astype(dtype, copy=False)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Normal values redrawn until they lie within two standard deviations (as TF/Keras).
    Redraws continue the same stream (an int seed: its own stream from counter 0)."""
    shape = tuple(shape)
    gen = seed if isinstance(seed, SeedGenerator) or seed is None else \
        SeedGenerator(int(draw(seed, ())[0]))
    z = normal(shape, seed=gen)
    bad = np.abs(z) > 2.0
    while bad.any():  # each pass redraws all outliers at once; ~5% remain per pass
        z[bad] = normal((int(bad.sum()),), seed=gen)
        bad = np.abs(z) > 2.0
    return (z * np.float32(stddev) + np.float32(mean)).astype(dtype, copy=False)


def permutation(n, seed=None):
    """A random permutation of range(n) (int64), from the stream like any draw."""
    return np.argsort(uniform((int(n),), seed=seed), kind="stable")
