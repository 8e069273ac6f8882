"""Training and predict throughput of small models: pykern vs TF-Keras (and PyTorch if installed).

Models (`--model`, default dense):
  dense        the model of issue 4: Input(20) -> Dense(64, relu) -> Dropout(0.5) ->
               Dense(64, relu) -> Dropout(0.5) -> Dense(1, sigmoid), RMSprop, binary
               crossentropy, batch 32, predict batch 256
  lstm-series  Input(10, 1) -> LSTM(50, activation='relu') -> Dense(1), Adam, MSE, batch 32
  lstm         Input(50, 32) -> LSTM(128) -> Dense(1), Adam, MSE, batch 64
  bigru-text   Input(100,) ids -> Embedding(20000, 64) -> Bidirectional(GRU(64)) ->
               Dense(1, sigmoid), Adam, binary crossentropy, batch 64
(the recurrent models predict at their training batch size).

Each framework trains one epoch over the same random data per repeat (after a
warm-up epoch that also absorbs TF's tracing) with its normal user API:
`fit(verbose=0)` for pykern and Keras; for PyTorch the usual
zero_grad/forward/backward/step loop over nn.LSTM / nn.GRU (batch_first) modules
as a PyTorch user writes them (nn.LSTM has no relu option: the lstm-series model
runs PyTorch's tanh LSTM, the same work). Optimizers use Keras' defaults in
every framework (Adam/RMSprop epsilon 1e-7). Reported: median samples/s over
the repeats, and ratios against TF-Keras and PyTorch, all measured in this one
run. Each framework runs in its own fresh process, one after the other: three
OpenMP/thread-pool runtimes in one process spin against each other on a 2-core
machine and distort every number.

    python -m bench models [--model dense|lstm-series|lstm|bigru-text] [--samples N]
                           [--repeats 5] [--json PATH] [--skip keras torch]
"""
import argparse
import os
import statistics
import time
from dataclasses import dataclass

import numpy as np

from bench.common import machine_info, print_table, write_json


@dataclass(frozen=True)
class Spec:
    title: str
    samples: int  # default number of training samples
    batch: int
    predict_batch: int
    optimizer: str  # Keras class name, default arguments
    loss: str


MODELS = {
    "dense": Spec("dense 20-64-64-1 (dropout 0.5), RMSprop + BCE", 16384, 32, 256, "RMSprop",
                  "binary_crossentropy"),
    "lstm-series": Spec("Input(10, 1) -> LSTM(50, relu) -> Dense(1), Adam + MSE", 8192, 32, 32,
                        "Adam", "mse"),
    "lstm": Spec("Input(50, 32) -> LSTM(128) -> Dense(1), Adam + MSE", 2048, 64, 64, "Adam",
                 "mse"),
    "bigru-text": Spec("ids(100) -> Embedding(20000, 64) -> Bidirectional(GRU(64)) -> "
                       "Dense(1, sigmoid), Adam + BCE", 2048, 64, 64, "Adam",
                       "binary_crossentropy"),
}
VOCAB = 20000


def _data(model, samples):
    """The same inputs and targets for every framework."""
    rng = np.random.default_rng(0)
    binary = (rng.random((samples, 1)) > 0.5).astype(np.float32)
    if model == "dense":
        return rng.standard_normal((samples, 20)).astype(np.float32), binary
    if model == "lstm-series":
        t = np.arange(samples + 11, dtype=np.float32)
        wave = np.sin(t * 0.1) + 0.1 * rng.standard_normal(len(t)).astype(np.float32)
        x = np.stack([wave[i:i + 10] for i in range(samples)])[..., None]
        return x.astype(np.float32), wave[10:10 + samples, None].astype(np.float32)
    if model == "lstm":
        return rng.standard_normal((samples, 50, 32)).astype(np.float32), \
            rng.standard_normal((samples, 1)).astype(np.float32)
    return rng.integers(0, VOCAB, (samples, 100)).astype(np.int32), binary


def _keras_style(L, M, model):
    """The model with the Keras API (pykern's or Keras')."""
    if model == "dense":
        return M.Sequential([M.Input((20,)), L.Dense(64, activation="relu"), L.Dropout(0.5),
                             L.Dense(64, activation="relu"), L.Dropout(0.5),
                             L.Dense(1, activation="sigmoid")])
    if model == "lstm-series":
        return M.Sequential([M.Input((10, 1)), L.LSTM(50, activation="relu"), L.Dense(1)])
    if model == "lstm":
        return M.Sequential([M.Input((50, 32)), L.LSTM(128), L.Dense(1)])
    return M.Sequential([M.Input((100,), dtype="int32"), L.Embedding(VOCAB, 64),
                         L.Bidirectional(L.GRU(64)), L.Dense(1, activation="sigmoid")])


def _median_s(fn, repeats):
    fn()  # warm-up (graph tracing, first allocations)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _fit_and_predict(m, x, y, spec, repeats):
    train = _median_s(lambda: m.fit(x, y, batch_size=spec.batch, epochs=1, verbose=0), repeats)
    predict = _median_s(lambda: m.predict(x, batch_size=spec.predict_batch, verbose=0),
                        repeats)
    return train, predict


def _pykern(model, x, y, repeats, threads=None):
    import pykern
    from pykern import layers
    if threads:
        pykern.config.set_num_threads(threads)
    pykern.utils.set_random_seed(0)
    spec = MODELS[model]
    m = _keras_style(layers, pykern, model)
    m.compile(optimizer=getattr(pykern.optimizers, spec.optimizer)(), loss=spec.loss)
    train, predict = _fit_and_predict(m, x, y, spec, repeats)
    return train, predict, f"{pykern.config.num_threads()} threads, {pykern.config.cpu_isa()}"


def _keras(model, x, y, repeats):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    keras.utils.set_random_seed(0)
    spec = MODELS[model]
    m = _keras_style(keras.layers, keras, model)
    m.compile(optimizer=getattr(keras.optimizers, spec.optimizer)(), loss=spec.loss)
    train, predict = _fit_and_predict(m, x, y, spec, repeats)
    return train, predict, f"tensorflow {tf.__version__}, keras {keras.__version__}"


def _torch_module(torch, model):
    nn = torch.nn
    if model == "dense":
        return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 64),
                             nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1), nn.Sigmoid())

    class LastStep(nn.Module):
        """nn.LSTM (batch_first) -> the last step's output -> a Linear head."""

        def __init__(self, features, units):
            super().__init__()
            self.lstm = nn.LSTM(features, units, batch_first=True)
            self.head = nn.Linear(units, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    class BiGRU(nn.Module):
        """Embedding -> bidirectional nn.GRU -> both directions' final states -> sigmoid head."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 64)
            self.gru = nn.GRU(64, 64, batch_first=True, bidirectional=True)
            self.head = nn.Linear(128, 1)

        def forward(self, ids):
            _, h = self.gru(self.embed(ids))
            return torch.sigmoid(self.head(torch.cat([h[0], h[1]], dim=1)))
    if model == "lstm-series":
        return LastStep(1, 50)
    if model == "lstm":
        return LastStep(32, 128)
    return BiGRU()


def _torch(model, x, y, repeats, threads=None):
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = MODELS[model]
    m = _torch_module(torch, model)
    # Keras' defaults (RMSprop rho 0.9; epsilon 1e-7) so both do the same arithmetic
    if spec.optimizer == "RMSprop":
        opt = torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.BCELoss() if spec.loss == "binary_crossentropy" else torch.nn.MSELoss()
    xt = torch.from_numpy(x.astype(np.int64) if x.dtype.kind == "i" else x)
    yt = torch.from_numpy(y)
    n = len(x)

    def epoch():
        m.train()
        perm = torch.randperm(n)
        for i in range(0, n, spec.batch):
            idx = perm[i:i + spec.batch]
            opt.zero_grad()
            loss = loss_fn(m(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    def predict():
        m.eval()
        with torch.no_grad():
            torch.cat([m(xt[i:i + spec.predict_batch])
                       for i in range(0, n, spec.predict_batch)]).numpy()
    train = _median_s(epoch, repeats)
    pred = _median_s(predict, repeats)
    return train, pred, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def _torch_one_thread(model, x, y, repeats):
    return _torch(model, x, y, repeats, threads=1)


def _pykern_one_thread(model, x, y, repeats):
    return _pykern(model, x, y, repeats, threads=1)


# Both are also run on one thread: on a shared 2-core machine a two-thread OpenMP team
# collapses whenever another process holds a core (PyTorch: 20x slower; pykern's
# predict, whose 256x64x64 GEMM takes two threads: 5x slower)
_RUNNERS = {"pykern": _pykern, "pykern-1-thread": _pykern_one_thread, "tf-keras": _keras,
            "pytorch": _torch, "pytorch-1-thread": _torch_one_thread}


def _run_isolated(name, model, samples, repeats):
    """One framework's (train_s, predict_s, info) measured in a child process."""
    x, y = _data(model, samples)
    return _RUNNERS[name](model, x, y, repeats)


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench models", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="dense", choices=list(MODELS))
    p.add_argument("--samples", type=int, default=None,
                   help="training samples (default: per model, see the docstring)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--skip", nargs="*", default=[], choices=["keras", "torch", "one-thread"])
    args = p.parse_args(argv)
    spec = MODELS[args.model]
    n = args.samples or spec.samples
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    names = [name for name, flags in (
        ("pykern", ()), ("pykern-1-thread", ("one-thread",)), ("tf-keras", ("keras",)),
        ("pytorch", ("torch",)), ("pytorch-1-thread", ("torch", "one-thread")))
        if not set(flags) & set(args.skip)]
    results = {}
    for name in names:
        with ctx.Pool(1) as pool:
            r = pool.apply(_run_isolated, (name, args.model, n, args.repeats))
        if r is not None:
            results[name] = r
    rows, payload = [], []
    for name, (train_s, pred_s, info) in results.items():
        tr, pr = n / train_s, n / pred_s
        rows.append([name, f"{tr:,.0f}", f"{pr:,.0f}", info])
        payload.append({"framework": name, "train_samples_per_s": tr,
                        "predict_samples_per_s": pr, "info": info})
    print(f"{args.model}: {spec.title}, {n} samples, train batch {spec.batch}, predict batch "
          f"{spec.predict_batch}, median of {args.repeats}")
    print_table(["framework", "train samples/s", "predict samples/s", "configuration"], rows)
    ours = results["pykern"]
    for other in ("tf-keras", "pytorch", "pytorch-1-thread"):
        if other in results:
            print(f"pykern (default threads) vs {other}: training "
                  f"{results[other][0] / ours[0]:.2f}x, predict "
                  f"{results[other][1] / ours[1]:.2f}x")
    if args.json:
        write_json(args.json, {"benchmark": "models", "model": args.model,
                               "machine": machine_info(), "samples": n,
                               "repeats": args.repeats, "results": payload})
    return 0
