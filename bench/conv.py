"""Convolution kernels: GFLOP/s of forward, backward-data, backward-filter, % of measured peak.

The layers are the 3x3 convolutions of the two seed models (valid padding,
stride 1, ReLU fused into the forward):
  MNIST CNN, batch 128: Input(28,28,1) -> Conv2D(32,3) -> Conv2D(64,3) -> MaxPool(2) ...
  CIFAR CNN, batch 64:  Input(32,32,3) -> Conv2D(32,3) -> MaxPool(2) -> Conv2D(64,3)
                        -> MaxPool(2) -> Conv2D(64,3)
Each kernel is first checked against its scalar twin (_ref) on the same
arguments, then timed (median of repeats after a warm-up; the best repeat is
shown too, as the machine is shared). Next to the passes stands one plain
sgemm of the same (M, K, N) = (N*P*Q, 9*C, K): the ceiling a GEMM-based
convolution can reach. The fp32 peak is measured before each layer and after
the last; % of peak uses the highest reading.

    python -m bench conv [--threads 1,2] [--json out.json] [--quick]
    python -m bench conv --device cuda [--json out.json] [--quick]

With --device cuda the same layers run on the GPU (pykern._cuda's implicit-GEMM kernels,
checked against the CPU kernels first) side by side with PyTorch eager on the same GPU:
conv2d + relu, and aten.convolution_backward for each gradient, NHWC (channels_last)
tensors, cuDNN's autotuner on, fp32 with TF32 off. Times are batches of back-to-back
calls ending in a device synchronize (bench/_gpu.py).
"""
import argparse

# (model, layer, batch, input (H, W, C), filters)
LAYERS = [("mnist", "conv2d", 128, (28, 28, 1), 32),
          ("mnist", "conv2d_1", 128, (26, 26, 32), 64),
          ("cifar", "conv2d", 64, (32, 32, 3), 32),
          ("cifar", "conv2d_1", 64, (15, 15, 32), 64),
          ("cifar", "conv2d_2", 64, (6, 6, 64), 64)]
GEOMETRY = ((1, 1), (1, 1), (0, 0), (0, 0))  # strides, dilations, pad_begin, pad_end


def _check(name, got, want, tol=1e-5):
    import numpy as np

    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(got - want).max()) / scale
    if err > tol:
        raise SystemExit(f"{name}: the kernels differ by {err:.2e} (relative to max)")


PASSES = ("forward", "backward_data", "backward_filter", "sgemm_same_size")


def _rates(fn, flops, min_time_s):
    """(median, best) GFLOP/s over the repeats."""
    import statistics

    from bench.common import time_samples_s

    samples = time_samples_s(fn, min_time_s=min_time_s)
    return flops / statistics.median(samples) * 1e-9, flops / min(samples) * 1e-9


def _operands(batch, hwc, filters):
    """x, w, bias, the CPU's forward y (ReLU fused) and an upstream gradient dy."""
    import numpy as np

    from pykern import _cpu

    rng = np.random.default_rng(0)
    h, w_, c = hwc
    x = rng.standard_normal((batch, h, w_, c), dtype=np.float32)
    w = rng.standard_normal((3, 3, c, filters), dtype=np.float32) * 0.1
    b = rng.standard_normal(filters, dtype=np.float32)
    y = _cpu.conv_forward(x, w, b, *GEOMETRY, 1, "relu")
    return x, w, b, y, rng.standard_normal(y.shape, dtype=np.float32)


def _measure_layer(batch, hwc, filters, min_time_s):
    import numpy as np

    from pykern import _cpu

    x, w, b, y, dy = _operands(batch, hwc, filters)
    c = hwc[-1]
    rng = np.random.default_rng(1)
    passes = {
        "forward": (lambda: _cpu.conv_forward(x, w, b, *GEOMETRY, 1, "relu"),
                    lambda: _cpu.conv_forward_ref(x, w, b, *GEOMETRY, 1, "relu")),
        "backward_data": (lambda: _cpu.conv_backward_data(dy, w, x.shape, *GEOMETRY, 1),
                          lambda: _cpu.conv_backward_data_ref(dy, w, x.shape, *GEOMETRY, 1)),
        "backward_filter": (lambda: _cpu.conv_backward_filter(x, dy, w.shape, *GEOMETRY, 1),
                            lambda: _cpu.conv_backward_filter_ref(x, dy, w.shape, *GEOMETRY, 1)),
    }
    flops = 2.0 * y.size * 9 * c
    out = {"gflop": flops * 1e-9}
    for name, (fast, ref) in passes.items():
        _check(name, fast(), ref())
        out[name], out[name + "_best"] = _rates(fast, flops, min_time_s)
    m, k = y.size // filters, 9 * c
    a = rng.standard_normal((m, k), dtype=np.float32)
    wk = w.reshape(k, filters)
    out["sgemm_same_size"], out["sgemm_same_size_best"] = _rates(lambda: _cpu.sgemm(a, wk), flops,
                                                                 min_time_s)
    return out


def _gpu_layer(batch, hwc, filters, budget, torch):
    """GFLOP/s of pykern's three passes on the GPU and of PyTorch's, per pass."""
    from bench._gpu import gpu_time_s
    from pykern import _cpu, _cuda

    x, w, b, y, dy = _operands(batch, hwc, filters)
    c = hwc[-1]
    X, W, B, DY = (_cuda.to_device(v) for v in (x, w, b, dy))
    ours = {
        "forward": (lambda: _cuda.conv_forward(X, W, B, *GEOMETRY, 1, "relu"), y),
        "backward_data": (lambda: _cuda.conv_backward_data(DY, W, x.shape, *GEOMETRY, 1),
                          _cpu.conv_backward_data(dy, w, x.shape, *GEOMETRY, 1)),
        "backward_filter": (lambda: _cuda.conv_backward_filter(X, DY, w.shape, *GEOMETRY, 1),
                            _cpu.conv_backward_filter(x, dy, w.shape, *GEOMETRY, 1)),
    }
    theirs = {}
    if torch is not None:
        cl = torch.channels_last
        tx = torch.from_numpy(x).cuda().permute(0, 3, 1, 2).contiguous(memory_format=cl)
        tw = torch.from_numpy(w).cuda().permute(3, 2, 0, 1).contiguous(memory_format=cl)
        tb = torch.from_numpy(b).cuda()
        tdy = torch.from_numpy(dy).cuda().permute(0, 3, 1, 2).contiguous(memory_format=cl)
        f = torch.nn.functional

        def backward(mask):
            return torch.ops.aten.convolution_backward(tdy, tx, tw, None, [1, 1], [0, 0],
                                                       [1, 1], False, [0, 0], 1, mask)
        theirs = {"forward": lambda: f.relu(f.conv2d(tx, tw, tb)),
                  "backward_data": lambda: backward([True, False, False]),
                  "backward_filter": lambda: backward([False, True, False])}
    flops = 2.0 * y.size * 9 * c
    out = {"gflop": flops * 1e-9}
    for name, (fn, want) in ours.items():
        # a sanity check (tests/cuda holds the precise ones): sums of up to N*P*Q terms
        _check(name, _cuda.to_host(fn()), want, tol=1e-4)
        out[name] = flops / gpu_time_s(fn, _cuda.synchronize, budget)[0] * 1e-9
        out["torch_" + name] = (flops / gpu_time_s(theirs[name], torch.cuda.synchronize,
                                                   budget)[0] * 1e-9 if theirs else None)
    return out


def measure_cuda(quick):
    from bench.common import require_gpu, torch_cuda

    name = require_gpu("conv")
    torch = torch_cuda()
    if torch is not None:
        torch.backends.cudnn.benchmark = True  # cuDNN picks its fastest algorithm per shape
    rows = []
    for model, layer, batch, hwc, filters in LAYERS:
        r = _gpu_layer(batch, hwc, filters, 0.03 if quick else 0.2, torch)
        r.update(model=model, layer=layer, batch=batch, input=list(hwc), filters=filters)
        rows.append(r)
    return {"device": name, "torch": None if torch is None else torch.__version__, "rows": rows}


def _report_cuda(run):
    from bench.common import print_table

    print(f"\n{run['device']}  PyTorch {run['torch'] or '(not available)'}  fp32, TF32 off")
    print("each cell: pykern GFLOP/s / torch GFLOP/s (torch time / pykern time)")

    def cell(r, p):
        theirs = r["torch_" + p]
        if theirs is None:
            return f"{r[p]:.0f}"
        return f"{r[p]:.0f} / {theirs:.0f} ({r[p] / theirs:.2f}x)"
    print_table(["layer", "N", "HxWxC", "K", "GFLOP", "forward", "bwd data", "bwd filter"],
                [(f"{r['model']} {r['layer']}", r["batch"], "x".join(map(str, r["input"])),
                  r["filters"], f"{r['gflop']:.3f}", *(cell(r, p) for p in PASSES[:3]))
                 for r in run["rows"]])


def measure(threads, quick):
    from pykern import _cpu, config

    config.set_num_threads(threads)
    rows, peaks = [], []
    for model, layer, batch, hwc, filters in LAYERS:
        peaks.append(_cpu.fma_peak_gflops(0.2, threads))
        r = _measure_layer(batch, hwc, filters, 0.03 if quick else 0.2)
        r.update(model=model, layer=layer, batch=batch, input=list(hwc), filters=filters)
        rows.append(r)
    peaks.append(_cpu.fma_peak_gflops(0.2, threads))
    peak = max(peaks)
    for r in rows:
        r["pct_peak"] = {p: 100.0 * r[p] / peak if peak else None for p in PASSES}
    return {"threads": threads, "isa": config.cpu_isa(), "peak_gflops": peak,
            "peak_samples_gflops": peaks, "rows": rows}


def _cell(row, p):
    """'median (best) % of peak' for pass p."""
    pct = row["pct_peak"][p]
    share = f" {pct:.0f}%" if pct is not None else ""
    return f"{row[p]:.1f} ({row[p + '_best']:.0f}){share}"


def _report(runs):
    from bench.common import print_table

    for run in runs:
        lo, hi = min(run["peak_samples_gflops"]), max(run["peak_samples_gflops"])
        print(f"\nthreads={run['threads']}  isa={run['isa']}  measured fp32 peak {hi:.1f} GFLOP/s "
              f"(between layers it read {lo:.0f}-{hi:.0f}: the machine is shared)")
        print("each cell: median GFLOP/s (best), % of the peak for the median")
        rows = [(f"{r['model']} {r['layer']}", r["batch"], "x".join(map(str, r["input"])),
                 r["filters"], f"{r['gflop']:.3f}", *(_cell(r, p) for p in PASSES))
                for r in run["rows"]]
        print_table(["layer", "N", "HxWxC", "K", "GFLOP", "forward", "bwd data", "bwd filter",
                     "sgemm same size"], rows)


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench conv", description=__doc__.splitlines()[0])
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,all)")
    p.add_argument("--json", default=None, help="write the figures to this file")
    p.add_argument("--quick", action="store_true", help="shorter repeats")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cpu (threads, vs peak) or cuda (the GPU, vs PyTorch)")
    args = p.parse_args(argv)

    from bench.common import save_runs, thread_counts

    if args.device == "cuda":
        run = measure_cuda(args.quick)
        _report_cuda(run)
        save_runs(args.json, "conv-cuda", [run])
        return 0
    runs = [measure(t, args.quick) for t in thread_counts(args.threads)]
    _report(runs)
    save_runs(args.json, "conv", runs)
    return 0
