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
"""
import argparse

# (model, layer, batch, input (H, W, C), filters)
LAYERS = [("mnist", "conv2d", 128, (28, 28, 1), 32),
          ("mnist", "conv2d_1", 128, (26, 26, 32), 64),
          ("cifar", "conv2d", 64, (32, 32, 3), 32),
          ("cifar", "conv2d_1", 64, (15, 15, 32), 64),
          ("cifar", "conv2d_2", 64, (6, 6, 64), 64)]
GEOMETRY = ((1, 1), (1, 1), (0, 0), (0, 0))  # strides, dilations, pad_begin, pad_end


def _check(name, got, want):
    import numpy as np

    scale = float(np.abs(want).max()) or 1.0
    err = float(np.abs(got - want).max()) / scale
    if err > 1e-5:
        raise SystemExit(f"{name}: fast and _ref kernels differ by {err:.2e} (relative to max)")


PASSES = ("forward", "backward_data", "backward_filter", "sgemm_same_size")


def _rates(fn, flops, min_time_s):
    """(median, best) GFLOP/s over the repeats."""
    import statistics

    from bench.common import time_samples_s

    samples = time_samples_s(fn, min_time_s=min_time_s)
    return flops / statistics.median(samples) * 1e-9, flops / min(samples) * 1e-9


def _measure_layer(batch, hwc, filters, min_time_s):
    import numpy as np

    from pykern import _cpu

    rng = np.random.default_rng(0)
    h, w_, c = hwc
    x = rng.standard_normal((batch, h, w_, c), dtype=np.float32)
    w = rng.standard_normal((3, 3, c, filters), dtype=np.float32) * 0.1
    b = rng.standard_normal(filters, dtype=np.float32)
    y = _cpu.conv_forward(x, w, b, *GEOMETRY, 1, "relu")
    dy = rng.standard_normal(y.shape, dtype=np.float32)
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
    args = p.parse_args(argv)

    from bench.common import save_runs, thread_counts

    runs = [measure(t, args.quick) for t in thread_counts(args.threads)]
    _report(runs)
    save_runs(args.json, "conv", runs)
    return 0
