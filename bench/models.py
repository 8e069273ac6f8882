"""Training and predict throughput of small models: pykern vs TF-Keras (and PyTorch if installed).

The dense model of issue 4: Input(20) -> Dense(64, relu) -> Dropout(0.5) ->
Dense(64, relu) -> Dropout(0.5) -> Dense(1, sigmoid), RMSprop, binary
crossentropy, batch 32; predict at batch 256. Each framework trains one epoch
over the same random data per repeat (after a warm-up epoch that also absorbs
TF's tracing) with its normal user API: `fit(verbose=0)` for pykern and Keras,
the usual zero_grad/forward/backward/step loop for PyTorch. Reported: median
samples/s over the repeats, and ratios against TF-Keras and PyTorch, all
measured in this one run. Each framework runs in its own fresh process, one
after the other: three OpenMP/thread-pool runtimes in one process spin against
each other on a 2-core machine and distort every number.

    python -m bench models [--samples 16384] [--repeats 5] [--json PATH]
"""
import argparse
import os
import statistics
import time

import numpy as np

from bench.common import machine_info, print_table, write_json

FEATURES, HIDDEN, BATCH, PREDICT_BATCH = 20, 64, 32, 256


def _median_s(fn, repeats):
    fn()  # warm-up (graph tracing, first allocations)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _pykern(x, y, repeats, threads=None):
    import pykern
    from pykern import layers
    if threads:
        pykern.config.set_num_threads(threads)
    pykern.utils.set_random_seed(0)
    m = pykern.Sequential([layers.Input((FEATURES,)), layers.Dense(HIDDEN, activation="relu"),
                           layers.Dropout(0.5), layers.Dense(HIDDEN, activation="relu"),
                           layers.Dropout(0.5), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=pykern.optimizers.RMSprop(), loss="binary_crossentropy")
    train = _median_s(lambda: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), repeats)
    predict = _median_s(lambda: m.predict(x, batch_size=PREDICT_BATCH, verbose=0), repeats)
    return train, predict, f"{pykern.config.num_threads()} threads, {pykern.config.cpu_isa()}"


def _keras(x, y, repeats):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    L = keras.layers
    m = keras.Sequential([L.Input((FEATURES,)), L.Dense(HIDDEN, activation="relu"),
                          L.Dropout(0.5), L.Dense(HIDDEN, activation="relu"), L.Dropout(0.5),
                          L.Dense(1, activation="sigmoid")])
    m.compile(optimizer=keras.optimizers.RMSprop(), loss="binary_crossentropy")
    train = _median_s(lambda: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), repeats)
    predict = _median_s(lambda: m.predict(x, batch_size=PREDICT_BATCH, verbose=0), repeats)
    return train, predict, f"tensorflow {tf.__version__}, keras {keras.__version__}"


def _torch(x, y, repeats, threads=None):
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    m = nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(0.5),
                      nn.Linear(HIDDEN, 1), nn.Sigmoid())
    # Keras' RMSprop defaults (rho 0.9, eps 1e-7) so both do the same arithmetic
    opt = torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n = len(x)

    def epoch():
        m.train()
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(m(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    def predict():
        m.eval()
        with torch.no_grad():
            torch.cat([m(xt[i:i + PREDICT_BATCH]) for i in range(0, n, PREDICT_BATCH)]).numpy()
    train = _median_s(epoch, repeats)
    pred = _median_s(predict, repeats)
    return train, pred, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def _torch_one_thread(x, y, repeats):
    return _torch(x, y, repeats, threads=1)


def _pykern_one_thread(x, y, repeats):
    return _pykern(x, y, repeats, threads=1)


# Both are also run on one thread: on a shared 2-core machine a two-thread OpenMP team
# collapses whenever another process holds a core (PyTorch: 20x slower; pykern's
# predict, whose 256x64x64 GEMM takes two threads: 5x slower)
_RUNNERS = {"pykern": _pykern, "pykern-1-thread": _pykern_one_thread, "tf-keras": _keras,
            "pytorch": _torch, "pytorch-1-thread": _torch_one_thread}


def _run_isolated(name, samples, repeats):
    """One framework's (train_s, predict_s, info) measured in a child process."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, FEATURES)).astype(np.float32)
    y = (rng.random((samples, 1)) > 0.5).astype(np.float32)
    return _RUNNERS[name](x, y, repeats)


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench models", description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=16384)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--skip", nargs="*", default=[], choices=["keras", "torch"])
    args = p.parse_args(argv)
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    names = ["pykern", "pykern-1-thread"] + [
        n for n, flag in (("tf-keras", "keras"), ("pytorch", "torch"),
                          ("pytorch-1-thread", "torch")) if flag not in args.skip]
    results = {}
    for name in names:
        with ctx.Pool(1) as pool:
            r = pool.apply(_run_isolated, (name, args.samples, args.repeats))
        if r is not None:
            results[name] = r
    n = args.samples
    rows, payload = [], []
    for name, (train_s, pred_s, info) in results.items():
        tr, pr = n / train_s, n / pred_s
        rows.append([name, f"{tr:,.0f}", f"{pr:,.0f}", info])
        payload.append({"framework": name, "train_samples_per_s": tr,
                        "predict_samples_per_s": pr, "info": info})
    print(f"dense model {FEATURES}-{HIDDEN}-{HIDDEN}-1 (dropout 0.5), RMSprop + BCE, "
          f"{n} samples, train batch {BATCH}, predict batch {PREDICT_BATCH}, "
          f"median of {args.repeats}")
    print_table(["framework", "train samples/s", "predict samples/s", "configuration"], rows)
    ours = results["pykern"]
    for other in ("tf-keras", "pytorch", "pytorch-1-thread"):
        if other in results:
            print(f"pykern (default threads) vs {other}: training "
                  f"{results[other][0] / ours[0]:.2f}x, predict "
                  f"{results[other][1] / ours[1]:.2f}x")
    if args.json:
        write_json(args.json, {"benchmark": "models", "machine": machine_info(),
                               "samples": n, "repeats": args.repeats, "results": payload})
    return 0
