"""Which rows of each global batch this process trains on.

Every process walks the same global batches (the same arrays in the same
shuffled order, or the same generator/Sequence) and keeps its own contiguous
share: a batch of n rows is cut into pieces of ceil(n / size) rows, piece r
for rank r. A batch that divides evenly splits into equal shares, as Keras 3
rebatches a global batch of a tf.data dataset into `global / num_processes`
rows per process. A final short batch gives the last ranks fewer rows, or
none: such a rank still joins the step (its gradient counts with weight 0),
so every process takes the same number of steps. (Keras 3 instead shards the
rebatched pieces round-robin, so there a rank can get one step fewer.)
"""
import numpy as np

__all__ = ["share", "take_rows", "Sampler"]


def share(n, rank, size):
    """(lo, hi): rank's rows of a batch of n rows."""
    per = -(-n // size)
    return min(n, rank * per), min(n, (rank + 1) * per)


def take_rows(batch, lo, hi):
    """Rows lo:hi of every array in a batch (arrays, lists/tuples, dicts; None stays)."""
    if batch is None:
        return None
    if isinstance(batch, dict):
        return {k: take_rows(v, lo, hi) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(take_rows(v, lo, hi) for v in batch)
    return batch[lo:hi]


class Sampler:
    """The distributed sampler a DataHandler consults: every process uses rank 0's
    shuffled order, so the shares of a batch never overlap."""

    def __init__(self, host_table):
        self._k = host_table

    def common_order(self, order):
        order = np.ascontiguousarray(order, dtype=np.int64)
        return self._k.broadcast_(order, 0, "broadcast of the shuffled sample order")
