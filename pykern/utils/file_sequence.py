"""FileSequence: batches of samples read from files on demand (the Sequence that
image_ and text_dataset_from_directory return)."""
import math

import numpy as np

from pykern.utils.sequence import Sequence

__all__ = ["FileSequence"]


class FileSequence(Sequence):
    """Batch i holds collate([load(p) for p in its file paths]) and, with labels, their
    encoded labels. The first epoch reads the files in the order given; with shuffle,
    each later epoch in a new order from np.random.RandomState(seed).
    Attributes: file_paths, class_names."""

    def __init__(self, file_paths, labels, class_names, batch_size, load, collate,
                 shuffle=False, seed=None):
        super().__init__()
        self.file_paths, self.labels, self.class_names = list(file_paths), labels, class_names
        self.batch_size, self._load, self._collate = batch_size, load, collate
        self._order = np.arange(len(self.file_paths))
        self._rng = np.random.RandomState(seed) if shuffle else None

    def __len__(self):
        if self.batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        if self.batch_size is None:
            picks = self._order[index:index + 1]
        else:
            picks = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self._collate([self._load(self.file_paths[i]) for i in picks])
        y = None if self.labels is None else self.labels[picks]
        if self.batch_size is None:
            x, y = x[0], None if y is None else y[0]
        return x if y is None else (x, y)

    def on_epoch_end(self):
        if self._rng is not None:
            self._rng.shuffle(self._order)
