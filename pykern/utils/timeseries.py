"""timeseries_dataset_from_array: sliding windows over an array, as a Sequence."""
import math

import numpy as np

from pykern.utils.sequence import Sequence

__all__ = ["timeseries_dataset_from_array", "TimeseriesSequence"]


class TimeseriesSequence(Sequence):
    """Batches of windows data[s + k * sampling_rate] (k < sequence_length) for the
    window starts s, with targets[s] when targets were given. Shuffled starts are
    reshuffled after every epoch by the same seeded generator."""

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size,
                 rng=None):
        super().__init__()
        self.data, self.targets, self.starts = data, targets, starts
        self.batch_size, self._rng = batch_size, rng
        self._offsets = np.arange(sequence_length) * sampling_rate

    def __len__(self):
        if self.batch_size is None:
            return len(self.starts)
        return math.ceil(len(self.starts) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        if self.batch_size is None:
            starts = self.starts[index]
        else:
            starts = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.data[np.asarray(starts)[..., None] + self._offsets]
        return x if self.targets is None else (x, self.targets[starts])

    def on_epoch_end(self):
        if self._rng is not None:
            self._rng.shuffle(self.starts)


def _check(data, start_index, end_index, sampling_rate, sequence_stride):
    n = len(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: "
                             f"start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. "
                             f"Received: start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index}")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. "
                             f"Received: end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: "
                             f"end_index={end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value}")
        if value >= n:
            raise ValueError(f"`{name}` must be lower than the length of the data. Received: "
                             f"{name}={value}, for data of length {n}")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """A Sequence of (windows, targets) batches over data[start_index:end_index], as
    keras.utils.timeseries_dataset_from_array: windows of sequence_length steps
    sampling_rate apart, starting every sequence_stride steps; the target of the
    window starting at step s is targets[s] (None: windows only). Windows have shape
    (batch, sequence_length) + data.shape[1:] and data's dtype; batch_size None gives
    single windows. shuffle permutes the window starts with
    np.random.RandomState(seed) as Keras does (Keras then also mixes them in a
    tf.data shuffle buffer, which cannot be reproduced: same windows, other order)."""
    _check(data, start_index, end_index, sampling_rate, sequence_stride)
    start_index = start_index or 0
    end_index = len(data) if end_index is None else end_index
    data = np.asarray(data)[start_index:end_index]
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
        targets = np.asarray(targets)[start_index:end_index]
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    rng = None
    if shuffle:
        rng = np.random.RandomState(np.random.randint(1_000_000) if seed is None else seed)
        rng.shuffle(starts)
    return TimeseriesSequence(data, targets, starts, sequence_length, sampling_rate,
                              batch_size, rng)
