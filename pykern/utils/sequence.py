"""Sequence: a dataset of whole batches, indexable (Keras' utils.Sequence / PyDataset)."""

__all__ = ["Sequence", "PyDataset"]


class Sequence:
    """Subclasses implement __len__ (batches per epoch) and __getitem__(i), which
    returns (x, y) or (x, y, sample_weight) for batch i (or x alone for predict);
    on_epoch_begin / on_epoch_end run around every epoch (e.g. to reshuffle).

    workers > 1 (or workers > 0 with use_multiprocessing) has fit/evaluate/predict
    prepare up to max_queue_size batches ahead on that many threads (processes with
    use_multiprocessing), handed over in index order; __getitem__ must then be safe
    to call concurrently (and the Sequence picklable where processes are spawned)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence
