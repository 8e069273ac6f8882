"""Training and predict throughput of the seed models: pykern vs TF-Keras and PyTorch, side by side.

Models (`--model`, default all; `--model dense mnist_cnn ...` picks some):
  mnist_mlp  Input(784) -> Dense(512, relu) -> Dropout(0.2) -> Dense(10, softmax); RMSprop,
             categorical crossentropy, batch 128 (the seed MLP).
  dense      Input(20) -> Dense(64, relu) -> Dropout(0.5) -> Dense(64, relu) -> Dropout(0.5) ->
             Dense(1, sigmoid); RMSprop, binary crossentropy, batch 32, predict batch 256.
  mnist_cnn  Input(28,28,1) -> Conv2D(32,3,relu) -> Conv2D(64,3,relu) -> MaxPooling2D(2) ->
             Dropout(0.25) -> Flatten -> Dense(128,relu) -> Dropout(0.5) -> Dense(10,softmax);
             RMSprop, categorical crossentropy, batch 128.
  cifar_cnn  Input(32,32,3) -> Conv2D(32,3,relu) -> MaxPooling2D(2) -> Conv2D(64,3,relu) ->
             MaxPooling2D(2) -> Conv2D(64,3,relu) -> Flatten -> Dense(64,relu) ->
             Dense(10,softmax); Adam, sparse categorical crossentropy, batch 64.
  lstm_series Input(10,1) -> LSTM(50, activation='relu') -> Dense(1); Adam, MSE, batch 32
             (PyTorch's nn.LSTM has no relu: it runs its tanh LSTM, the same work).
  lstm       Input(50,32) -> LSTM(128) -> Dense(1); Adam, MSE, batch 64.
  bigru_text Input(100,) int -> Embedding(20000,64) -> Bidirectional(GRU(64)) ->
             Dense(1, sigmoid); Adam, binary crossentropy, batch 64.

The Keras code is the same for pykern and TF-Keras (one builder, two `layers`
modules); PyTorch is written as a PyTorch user writes it (NCHW, nn.Sequential,
CrossEntropyLoss on logits, the zero_grad/forward/backward/step loop) with Keras'
optimizer constants. Each framework trains one epoch over the same random data
per repeat (after a warm-up epoch that also absorbs TF's tracing) and predicts
all samples; each runs in its own fresh process, one after the other (three
thread pools in one process spin against each other on 2 cores). Reported: median
samples/s, the ratio to each peer, and pykern's GFLOP/s as % of the fp32 peak
measured in the same run (FLOPs counted from the layer shapes: 2 per multiply-add,
training = 3x the forward pass).

With `--device cuda` pykern trains on the GPU (cuda:0) next to PyTorch on the same GPU,
fp32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 = cudnn.allow_tf32 = False);
both copy each batch from host memory to the GPU, as fit does. No TF-Keras there
(tensorflow-cpu has no GPU). Without a GPU it stops with an error, never falls back.

    python -m bench models [--model dense mnist_cnn cifar_cnn] [--repeats 5] [--json PATH]
                           [--device cpu|cuda]
"""
import argparse
import os
import statistics
import time

import numpy as np

from bench.common import machine_info, print_table, write_json


# --- the models ---------------------------------------------------------------------------------
def _dense_layers(L):
    return [L.Input((20,)), L.Dense(64, activation="relu"), L.Dropout(0.5),
            L.Dense(64, activation="relu"), L.Dropout(0.5), L.Dense(1, activation="sigmoid")]


def _mlp_layers(L):
    return [L.Input((784,)), L.Dense(512, activation="relu"), L.Dropout(0.2),
            L.Dense(10, activation="softmax")]


def _mlp_torch(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10))


def _mnist_layers(L):
    return [L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Dropout(0.25), L.Flatten(),
            L.Dense(128, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")]


def _cifar_layers(L):
    return [L.Input((32, 32, 3)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.Flatten(), L.Dense(64, activation="relu"),
            L.Dense(10, activation="softmax")]


def _dense_torch(nn):
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 64),
                         nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1))


def _mnist_torch(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                         nn.Linear(12 * 12 * 64, 128), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(128, 10))


def _cifar_torch(nn):
    return nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 64, 64), nn.ReLU(), nn.Linear(64, 10))


def _series_layers(L):
    return [L.Input((10, 1)), L.LSTM(50, activation="relu"), L.Dense(1)]


def _lstm_layers(L):
    return [L.Input((50, 32)), L.LSTM(128), L.Dense(1)]


def _bigru_layers(L):
    return [L.Input((100,), dtype="int32"), L.Embedding(VOCAB, 64), L.Bidirectional(L.GRU(64)),
            L.Dense(1, activation="sigmoid")]


def _last_step_torch(nn, features, units):
    class LastStep(nn.Module):
        """nn.LSTM (batch_first) -> the last step's output -> a Linear head."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(features, units, batch_first=True)
            self.head = nn.Linear(units, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])
    return LastStep()


def _bigru_torch(nn):
    import torch

    class BiGRU(nn.Module):
        """Embedding -> bidirectional nn.GRU -> both final states -> a logit."""

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 64)
            self.gru = nn.GRU(64, 64, batch_first=True, bidirectional=True)
            self.head = nn.Linear(128, 1)

        def forward(self, ids):
            _, h = self.gru(self.embed(ids))
            return self.head(torch.cat([h[0], h[1]], dim=1))
    return BiGRU()


def _rnn_flops(steps, inputs, units, gates):
    """Input projection and recurrent GEMMs of one direction, per sample."""
    return 2 * steps * (inputs + units) * gates * units


def _conv_flops(h, w, k, cin, cout):
    return 2 * (h - k + 1) * (w - k + 1) * k * k * cin * cout


VOCAB = 20000
# spec: layers, torch model, input shape (channels last), labels, optimizer, loss,
# batch, predict batch, samples, forward FLOPs per sample
MODELS = {
    "mnist_mlp": dict(layers=_mlp_layers, torch=_mlp_torch, shape=(784,), labels="onehot10",
                      optimizer="rmsprop", loss="categorical_crossentropy", batch=128,
                      predict_batch=512, samples=8192, flops=2 * (784 * 512 + 512 * 10)),
    "dense": dict(layers=_dense_layers, torch=_dense_torch, shape=(20,), labels="binary",
                  optimizer="rmsprop", loss="binary_crossentropy", batch=32,
                  predict_batch=256, samples=16384,
                  flops=2 * (20 * 64 + 64 * 64 + 64)),
    "mnist_cnn": dict(layers=_mnist_layers, torch=_mnist_torch, shape=(28, 28, 1),
                      labels="onehot10", optimizer="rmsprop",
                      loss="categorical_crossentropy", batch=128, predict_batch=128,
                      samples=2048,
                      flops=_conv_flops(28, 28, 3, 1, 32) + _conv_flops(26, 26, 3, 32, 64) +
                      2 * (9216 * 128 + 128 * 10)),
    "cifar_cnn": dict(layers=_cifar_layers, torch=_cifar_torch, shape=(32, 32, 3),
                      labels="sparse10", optimizer="adam",
                      loss="sparse_categorical_crossentropy", batch=64, predict_batch=64,
                      samples=2048,
                      flops=_conv_flops(32, 32, 3, 3, 32) + _conv_flops(15, 15, 3, 32, 64) +
                      _conv_flops(6, 6, 3, 64, 64) + 2 * (1024 * 64 + 64 * 10)),
    "lstm_series": dict(layers=_series_layers, torch=lambda nn: _last_step_torch(nn, 1, 50),
                        shape=(10, 1), labels="series", optimizer="adam", loss="mse",
                        batch=32, predict_batch=32, samples=8192,
                        flops=_rnn_flops(10, 1, 50, 4) + 2 * 50),
    "lstm": dict(layers=_lstm_layers, torch=lambda nn: _last_step_torch(nn, 32, 128),
                 shape=(50, 32), labels="regression", optimizer="adam", loss="mse", batch=64,
                 predict_batch=64, samples=2048, flops=_rnn_flops(50, 32, 128, 4) + 2 * 128),
    "bigru_text": dict(layers=_bigru_layers, torch=_bigru_torch, shape=(100,), labels="binary",
                       ids=VOCAB, optimizer="adam", loss="binary_crossentropy", batch=64,
                       predict_batch=64, samples=2048,
                       flops=2 * _rnn_flops(100, 64, 64, 3) + 2 * 128),
}


def _data(spec, samples):
    rng = np.random.default_rng(0)
    if "ids" in spec:
        x = rng.integers(0, spec["ids"], (samples,) + spec["shape"]).astype(np.int32)
    else:
        x = rng.standard_normal((samples,) + spec["shape"]).astype(np.float32)
    if spec["labels"] == "series":  # windows of a noisy sine wave, the next value as target
        t = np.arange(samples + 11, dtype=np.float32)
        wave = np.sin(t * 0.1) + 0.1 * rng.standard_normal(len(t)).astype(np.float32)
        x = np.stack([wave[i:i + 10] for i in range(samples)])[..., None].astype(np.float32)
        y = wave[10:10 + samples, None].astype(np.float32)
    elif spec["labels"] == "regression":
        y = rng.standard_normal((samples, 1)).astype(np.float32)
    elif spec["labels"] == "binary":
        y = (rng.random((samples, 1)) > 0.5).astype(np.float32)
    else:
        y = rng.integers(0, 10, samples)
        if spec["labels"] == "onehot10":
            y = np.eye(10, dtype=np.float32)[y]
    return x, y


def _median_s(fn, repeats):
    fn()  # warm-up (graph tracing, first allocations)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


# --- the frameworks -----------------------------------------------------------------------------
def _keras_like(lib, spec, x, y, repeats):
    lib.utils.set_random_seed(0)
    m = lib.Sequential(spec["layers"](lib.layers))
    m.compile(optimizer=spec["optimizer"], loss=spec["loss"])
    train = _median_s(lambda: m.fit(x, y, batch_size=spec["batch"], epochs=1, verbose=0),
                      repeats)
    predict = _median_s(lambda: m.predict(x, batch_size=spec["predict_batch"], verbose=0),
                        repeats)
    return train, predict


def _pykern(spec, x, y, repeats, threads=None, device="cpu"):
    import pykern
    if device == "cuda":
        from bench.common import require_gpu
        name = require_gpu("models")
        pykern.config.set_device("cuda")
        train, predict = _keras_like(pykern, spec, x, y, repeats)
        return train, predict, f"pykern on {name}", None
    if threads:
        pykern.config.set_num_threads(threads)
    peak = pykern._cpu.fma_peak_gflops(0.3, pykern.config.num_threads())
    train, predict = _keras_like(pykern, spec, x, y, repeats)
    info = f"{pykern.config.num_threads()} threads, {pykern.config.cpu_isa()}"
    return train, predict, info, peak


def _keras(spec, x, y, repeats):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    train, predict = _keras_like(keras, spec, x, y, repeats)
    return train, predict, f"tensorflow {tf.__version__}, keras {keras.__version__}", None


def _torch(spec, x, y, repeats, threads=None, device="cpu"):
    if device == "cuda":
        from bench.common import torch_cuda
        torch = torch_cuda()
        if torch is None:
            return None
    else:
        try:
            import torch
        except ImportError:
            return None
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    nn = torch.nn
    m = spec["torch"](nn).to(device)
    if spec["optimizer"] == "rmsprop":  # Keras' constants, so both do the same arithmetic
        opt = torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
    if spec["labels"] == "binary":
        loss_fn, yt = nn.BCEWithLogitsLoss(), torch.from_numpy(y)
    elif spec["labels"] in ("series", "regression"):
        loss_fn, yt = nn.MSELoss(), torch.from_numpy(y)
    else:
        loss_fn = nn.CrossEntropyLoss()
        yt = torch.from_numpy(np.argmax(y, -1) if y.ndim > 1 else y).long()
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim == 4 else
                          x.astype(np.int64) if x.dtype.kind == "i" else x)
    n, batch, pbatch = len(x), spec["batch"], spec["predict_batch"]

    def epoch():
        m.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(m(xt[idx].to(device)), yt[idx].to(device))
            loss.backward()
            opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    def predict():
        m.eval()
        with torch.no_grad():
            torch.cat([m(xt[i:i + pbatch].to(device))
                       for i in range(0, n, pbatch)]).cpu().numpy()
    train = _median_s(epoch, repeats)
    pred = _median_s(predict, repeats)
    where = (f"on {torch.cuda.get_device_name(0)}, TF32 off" if device == "cuda" else
             f"{torch.get_num_threads()} threads")
    return train, pred, f"torch {torch.__version__} {where}", None


def _torch_one_thread(spec, x, y, repeats):
    return _torch(spec, x, y, repeats, threads=1)


def _pykern_one_thread(spec, x, y, repeats):
    return _pykern(spec, x, y, repeats, threads=1)


def _pykern_cuda(spec, x, y, repeats):
    return _pykern(spec, x, y, repeats, device="cuda")


def _torch_cuda(spec, x, y, repeats):
    return _torch(spec, x, y, repeats, device="cuda")


# Both are also run on one thread: on a shared 2-core machine a two-thread OpenMP team
# collapses whenever another process holds a core
_RUNNERS = {"pykern": _pykern, "pykern-1-thread": _pykern_one_thread, "tf-keras": _keras,
            "pytorch": _torch, "pytorch-1-thread": _torch_one_thread,
            "pykern-cuda": _pykern_cuda, "pytorch-cuda": _torch_cuda}


def _run_isolated(name, model, samples, repeats):
    """One framework's (train_s, predict_s, info, peak) measured in a child process."""
    spec = MODELS[model]
    x, y = _data(spec, samples)
    return _RUNNERS[name](spec, x, y, repeats)


def _bench_model(model, args, ctx):
    spec = MODELS[model]
    n = args.samples or spec["samples"]
    if args.device == "cuda":
        names = ["pykern-cuda"] + (["pytorch-cuda"] if "torch" not in args.skip else [])
    else:
        names = ["pykern", "pykern-1-thread"] + [
            name for name, flag in (("tf-keras", "keras"), ("pytorch", "torch"),
                                    ("pytorch-1-thread", "torch")) if flag not in args.skip]
    results = {}
    for name in names:
        with ctx.Pool(1) as pool:
            r = pool.apply(_run_isolated, (name, model, n, args.repeats))
        if r is not None:
            results[name] = r
    rows, payload = [], []
    for name, (train_s, pred_s, info, peak) in results.items():
        tr, pr = n / train_s, n / pred_s
        gflops = [tr * 3 * spec["flops"] * 1e-9, pr * spec["flops"] * 1e-9]
        pct = "" if peak is None else \
            f"{100 * gflops[0] / peak:.0f}% / {100 * gflops[1] / peak:.0f}% of {peak:.0f}"
        rows.append([name, f"{tr:,.0f}", f"{pr:,.0f}", f"{gflops[0]:.1f} / {gflops[1]:.1f}",
                     pct, info])
        payload.append({"framework": name, "train_samples_per_s": tr,
                        "predict_samples_per_s": pr, "train_gflops": gflops[0],
                        "predict_gflops": gflops[1], "peak_gflops": peak, "info": info})
    print(f"\n{model}: {n} samples, train batch {spec['batch']}, predict batch "
          f"{spec['predict_batch']}, median of {args.repeats}; "
          f"{spec['flops'] / 1e6:.2f} MFLOP per sample forward")
    print_table(["framework", "train samples/s", "predict samples/s", "GFLOP/s train / predict",
                 "% of fp32 peak (GFLOP/s)", "configuration"], rows)
    ours = results[names[0]]
    for other in ("tf-keras", "pytorch", "pytorch-1-thread", "pytorch-cuda"):
        if other in results:
            print(f"pykern vs {other}: training {results[other][0] / ours[0]:.2f}x, "
                  f"predict {results[other][1] / ours[1]:.2f}x")
    return {"model": model, "samples": n, "results": payload}


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench models", description=__doc__.split("\n")[0])
    p.add_argument("--model", nargs="*", default=["all"], choices=sorted(MODELS) + ["all"])
    p.add_argument("--samples", type=int, default=None, help="default: per model")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--skip", nargs="*", default=[], choices=["keras", "torch"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: pykern and PyTorch on the GPU (fp32, TF32 off)")
    args = p.parse_args(argv)
    if args.device == "cuda":
        from bench.common import require_gpu, torch_cuda
        print(f"pykern on {require_gpu('models')}")
        if torch_cuda() is None and "torch" not in args.skip:
            print("PyTorch with CUDA is not available: pykern alone")
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    models = sorted(MODELS) if "all" in args.model else args.model
    out = [_bench_model(model, args, ctx) for model in models]
    if args.json:
        write_json(args.json, {"benchmark": "models", "machine": machine_info(),
                               "repeats": args.repeats, "models": out,
                               "results": out[0]["results"] if len(out) == 1 else []})
    return 0
