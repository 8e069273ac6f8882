"""One process of the distributed tests (tests/test_distribution.py runs it under
`mpirun -n 2`, or alone as the single-process reference):

    python tests/distributed_worker.py SCENARIO OUT_DIR [KIND]

Each process writes OUT_DIR/rank<r>.npz (weights, history, a digest of the
weights after every step, how often it saved weights) or fails as the scenario
asks. Every process seeds its own random stream differently, so equal weights
prove the broadcast, not the seed.
"""
import hashlib
import os
import sys
import time

import numpy as np

import pykern
from pykern import callbacks, layers
from pykern import distribution as dist
from pykern.models.model import Model

SAMPLES, BATCH = 97, 32  # the last global batch has 1 row: rank 1's share is empty


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, 6)).astype(np.float32)
    y = (x[:, :3].sum(1) > x[:, 3:].sum(1)).astype(np.int64) + (x[:, 0] > 1)
    return x, y


def build(units=8, normalization=False):
    hidden = [layers.Dense(units, activation="relu", kernel_regularizer="l2")]
    if normalization:  # BatchNormalization's moving statistics, Dropout's masks
        hidden += [layers.BatchNormalization(), layers.Dropout(0.3)]
    model = pykern.Sequential([layers.Input((6,)), *hidden,
                               layers.Dense(3, activation="softmax")])
    model.compile(pykern.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class Sequence(pykern.utils.Sequence):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // BATCH)

    def __getitem__(self, i):
        return self.x[i * BATCH:(i + 1) * BATCH], self.y[i * BATCH:(i + 1) * BATCH]


def generator(x, y, batches=None):
    n = -(-len(x) // BATCH) if batches is None else batches
    for i in range(n):
        j = i % -(-len(x) // BATCH)
        yield x[j * BATCH:(j + 1) * BATCH], y[j * BATCH:(j + 1) * BATCH]


class Digests(callbacks.Callback):
    """A digest of all weights after every step."""

    def __init__(self):
        super().__init__()
        self.digests = []

    def on_train_batch_end(self, batch, logs=None):
        h = hashlib.sha256()
        for w in self.model.get_weights():
            h.update(np.ascontiguousarray(w).tobytes())
        self.digests.append(h.hexdigest())


class At(callbacks.Callback):
    """Calls fn() at the start of global step `step` on rank `rank`."""

    def __init__(self, rank, step, fn):
        super().__init__()
        self.rank, self.step, self.fn, self.seen = rank, step, fn, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.seen == self.step and dist.distribution().process_id == self.rank:
            self.fn()
        self.seen += 1


def count_saves():
    """Counts this process's weight files written (ModelCheckpoint, BackupAndRestore)."""
    saves = []
    original = Model.save_weights

    def save_weights(self, filepath, *args, **kwargs):
        saves.append(os.path.basename(filepath))
        return original(self, filepath, *args, **kwargs)
    Model.save_weights = save_weights
    return saves


def fit_kind(model, kind, cbs, epochs=3):
    x, y = data()
    val = (x[:40], y[:40])
    common = dict(epochs=epochs, verbose=0, callbacks=cbs)
    if kind in ("arrays", "shuffle"):
        return model.fit(x, y, batch_size=BATCH, shuffle=kind == "shuffle",
                         validation_data=val, validation_batch_size=16, **common)
    if kind == "sequence":
        # in order: the batch order of a shuffled Sequence is drawn from each process's own
        # random stream, so one process and two would walk different orders
        return model.fit(Sequence(x, y), validation_data=val, shuffle=False, **common)
    if kind == "generator":
        return model.fit(generator(x, y), **dict(common, epochs=1))
    raise ValueError(kind)


def main(scenario, out, kind="arrays"):
    d = dist.DataParallel()
    dist.set_distribution(d)
    rank = d.process_id
    pykern.utils.set_random_seed(rank)  # different initial weights on every process
    saves = count_saves()
    digests = Digests()
    result = {}
    if scenario == "train":
        model = build(normalization=kind == "normalization")
        history = fit_kind(model, "shuffle" if kind == "normalization" else kind, [digests])
        result["evaluate"] = model.evaluate(*data(), batch_size=BATCH, verbose=0)
    elif scenario in ("exit", "raise", "stall"):
        action = {"exit": lambda: os._exit(3),
                  "raise": lambda: (_ for _ in ()).throw(ValueError("rank 1 fails on purpose")),
                  "stall": lambda: time.sleep(120)}[scenario]
        history = fit_kind(build(), "arrays", [At(1, 4, action)], epochs=5)
    elif scenario == "mismatch":
        history = fit_kind(build(units=8 + rank), "arrays", [])
    elif scenario == "batches":
        x, y = data()
        history = build().fit(generator(x, y, batches=4 + rank), epochs=1, verbose=0)
    elif scenario == "checkpoint":
        backup = os.path.join(out, "backup")
        model = build()
        first = [callbacks.BackupAndRestore(backup, delete_checkpoint=False),
                 callbacks.ModelCheckpoint(os.path.join(out, "ck_{epoch}.weights.h5"),
                                           save_weights_only=True),
                 callbacks.CSVLogger(os.path.join(out, "log.csv"))]
        fit_kind(model, "arrays", first, epochs=2)
        history = fit_kind(build(), "arrays", [callbacks.BackupAndRestore(backup), digests],
                           epochs=4)
    else:
        raise ValueError(scenario)
    model = history.model
    np.savez(os.path.join(out, f"rank{rank}.npz"), *model.get_weights(),
             history=repr(history.history), epochs=np.array(history.epoch),
             digests=np.array(digests.digests), saves=np.array(saves, dtype=str),
             evaluate=np.array(result.get("evaluate", [])), size=d.num_processes)


if __name__ == "__main__":
    main(*sys.argv[1:])
