"""Batches prepared ahead of the training loop, while the kernels run.

ordered_batches: a pool of threads (or processes) computes sequence[i] for the
next indices, at most max_queue_size batches ahead, and hands them back in index
order. Prefetcher: one thread pulls a generator ahead into a bounded queue (a
generator cannot be advanced from two threads at once, so one is all it takes).

An exception raised while preparing a batch is raised to the consumer when it
reaches that batch, with its own type, message and traceback (from a process,
chained to the worker's formatted traceback). Pools and threads are shut down
when the consumer finishes, closes the generator, or fails.
"""
import collections
import concurrent.futures
import itertools
import multiprocessing
import queue
import threading

__all__ = ["ordered_batches", "Prefetcher", "loading_options"]

_worker_sequence = None  # in a worker process: the Sequence it reads batches from


def _init_worker(sequence):
    global _worker_sequence
    _worker_sequence = sequence


def _worker_get(index):
    return _worker_sequence[index]


def loading_options(source, workers=None, use_multiprocessing=None, max_queue_size=None):
    """(workers, use_multiprocessing, max_queue_size) when batches should be prepared in
    parallel, else None. Arguments given here (Keras 2's fit arguments) win over the
    source's own attributes (Keras 3's PyDataset constructor); as Keras 3, loading is
    parallel with workers > 1, or workers > 0 and use_multiprocessing."""
    workers = getattr(source, "workers", 1) if workers is None else workers
    multi = getattr(source, "use_multiprocessing", False) if use_multiprocessing is None \
        else use_multiprocessing
    depth = getattr(source, "max_queue_size", 10) if max_queue_size is None else max_queue_size
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be an int >= 0, got {workers!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"max_queue_size must be an int >= 1, got {depth!r}")
    if workers > 1 or (workers > 0 and multi):
        return workers, bool(multi), depth
    return None


def _pool(sequence, workers, use_multiprocessing):
    """(executor, submit(i) -> future of sequence[i])."""
    if use_multiprocessing:
        # the platform's default start method, as Keras; with fork the sequence is
        # inherited, with spawn/forkserver it is pickled once per worker
        pool = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context(), initializer=_init_worker,
            initargs=(sequence,))
        return pool, lambda i: pool.submit(_worker_get, i)
    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="pykern_data")
    return pool, lambda i: pool.submit(sequence.__getitem__, i)


def ordered_batches(sequence, indices, workers, use_multiprocessing=False, max_queue_size=10):
    """sequence[i] for i in indices, in that order, computed ahead by the pool."""
    pool, submit = _pool(sequence, workers, use_multiprocessing)
    pending = collections.deque()
    indices = iter(indices)
    try:
        pending.extend(submit(i) for i in itertools.islice(indices, max_queue_size))
        while pending:
            batch = pending.popleft().result()
            pending.extend(submit(i) for i in itertools.islice(indices, 1))
            yield batch
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class _Raised:
    def __init__(self, error):
        self.error = error


_DONE = object()


class Prefetcher:
    """The items of `iterator`, pulled by one background thread up to max_queue_size
    ahead; close() stops the thread (after the item it is computing, if any)."""

    def __init__(self, iterator, max_queue_size=10):
        self._queue = queue.Queue(max_queue_size)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._pull, args=(iterator,),
                                        name="pykern_data_prefetch", daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pull(self, iterator):
        try:
            for item in iterator:
                if not self._put(item):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put(_Raised(e))
            return
        self._put(_DONE)

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE or isinstance(item, _Raised):
            self._finished = True
            self._thread.join()
            if item is _DONE:
                raise StopIteration
            raise item.error
        return item

    def close(self):
        self._finished = True
        self._stop.set()
        self._thread.join()
