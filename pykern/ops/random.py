"""Random tensors drawn on a device from pykern's seeded Philox streams
(keras.random.uniform): `seed` is a SeedGenerator (advanced by the draw), an int
(the same numbers on every call) or None (the global stream)."""
import numpy as np

from pykern.backend import devices
from pykern.backend import random as krandom
from pykern.ops.core import _wrap

__all__ = ["uniform"]


def uniform(shape, minval=0.0, maxval=1.0, seed=None, device=None):
    """float32 values in [minval, maxval) of `shape`, on `device` (default: current)."""
    d = devices.current() if device is None else devices.get(device)
    shape = tuple(int(s) for s in shape)
    key, offset = krandom.draw(seed, shape)
    u = d.k.random_uniform(shape, key, offset)
    if minval != 0.0 or maxval != 1.0:
        k = d.k
        u = k.binary("add", k.binary("multiply", u, np.float32(maxval - minval)),
                     np.float32(minval))
    return _wrap(u, d)
