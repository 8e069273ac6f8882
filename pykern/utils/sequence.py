"""Sequence: a dataset of whole batches, indexable (Keras' utils.Sequence / PyDataset)."""

__all__ = ["Sequence"]


class Sequence:
    """Subclasses implement __len__ (batches per epoch) and __getitem__(i), which
    returns (x, y) or (x, y, sample_weight) for batch i; on_epoch_end runs after
    every epoch (e.g. to reshuffle)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence
