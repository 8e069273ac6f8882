"""Fused LSTM/GRU kernels: GFLOP/s and % of measured fp32 peak, forward and backward.

Shapes are issue #10's: LSTM(50) with relu on (32, 10, 1), LSTM(128) on (64, 50, 32),
GRU(64) on (64, 100, 64) in both directions. Each case is first validated against the
scalar twin (_ref), then timed: median of repeats, with the spread (max - min over the
median) as the noise figure. Flops count the GEMM work only:
forward 2*B*T*(I + U)*G*U, backward twice that (dx, dW, dR, dh) plus the bias sums; the
element-wise gate work (~30 flops per gate value) comes on top and is not counted.

    python -m bench rnn [--threads 1,2] [--json out.json] [--quick]
    python -m bench rnn --device cuda [--json out.json] [--quick]

With --device cuda the same cases run on the GPU (pykern._cuda, validated against the CPU
kernels first) side by side with PyTorch's cuDNN nn.LSTM / nn.GRU on the same GPU when
torch is importable, fp32 with TF32 off. Each GPU time is one call plus a device
synchronize (per-call latency, as a training step sees it). PyTorch has no relu LSTM
and no go_backwards: it runs the tanh LSTM and the forward GRU, the same work.
"""
import argparse
import functools
import statistics

CASES = [  # name, cell, units, (B, T, I), options
    ("LSTM(50) relu", "lstm", 50, (32, 10, 1), dict(activation="relu")),
    ("LSTM(128)", "lstm", 128, (64, 50, 32), {}),
    ("GRU(64)", "gru", 64, (64, 100, 64), {}),
    ("GRU(64) go_backwards", "gru", 64, (64, 100, 64), dict(reverse=True)),
]
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


def _operands(cell, U, B, T, I, rng):
    import numpy as np

    G = GATES[cell]
    def f32(a):
        return np.ascontiguousarray(a, np.float32)

    args = [f32(rng.standard_normal((B, T, I))),
            f32(rng.standard_normal((I, G * U)) / np.sqrt(I)),
            f32(rng.standard_normal((U, G * U)) / np.sqrt(U)),
            f32(0.1 * rng.standard_normal((2, G * U) if cell == "gru" else G * U)),
            f32(np.zeros((B, U)))]
    if cell == "lstm":
        args.append(f32(np.zeros((B, U))))
    upstream = [f32(rng.standard_normal((B, T, U))), f32(rng.standard_normal((B, U)))]
    if cell == "lstm":
        upstream.append(f32(rng.standard_normal((B, U))))
    return args, upstream


def _validate(cell, args, upstream, opts):
    """Fast vs the double-precision twin, before any timing."""
    import numpy as np

    from pykern import _cpu

    fast = getattr(_cpu, f"{cell}_forward")(*args, **opts)
    ref = getattr(_cpu, f"{cell}_forward_ref")(*args, **opts)
    gfast = getattr(_cpu, f"{cell}_backward")(*upstream, *args, None, fast[-1], **opts)
    gref = getattr(_cpu, f"{cell}_backward_ref")(*upstream, *args, None, None, **opts)
    for got, want in zip(list(fast[:-1]) + list(gfast), list(ref[:-1]) + list(gref)):
        scale = float(np.sqrt(np.mean(want.astype(np.float64) ** 2))) or 1.0
        err = float(np.abs(got - want).max()) / scale
        if err > 1e-4:
            raise AssertionError(f"{cell}: fast and ref differ by {err:.2e} of the RMS")


def _measure(threads, quick):
    import numpy as np

    from bench.common import time_samples_s
    from pykern import _cpu, config

    config.set_num_threads(threads)
    peak = _cpu.fma_peak_gflops(0.3, threads)
    rng = np.random.default_rng(0)
    rows = []
    for name, cell, U, (B, T, I), opts in CASES:
        args, upstream = _operands(cell, U, B, T, I, rng)
        _validate(cell, args, upstream, opts)
        fwd = getattr(_cpu, f"{cell}_forward")
        bwd = getattr(_cpu, f"{cell}_backward")
        ws = fwd(*args, **opts)[-1]
        flops_f = 2.0 * B * T * (I + U) * GATES[cell] * U
        flops_b = 2.0 * flops_f + 2.0 * B * T * GATES[cell] * U
        budget = 0.03 if quick else 0.1
        calls = {"forward": (functools.partial(fwd, *args, **opts), flops_f),
                 "forward (inference)": (functools.partial(fwd, *args, save_workspace=False,
                                                           **opts), flops_f),
                 "backward": (functools.partial(bwd, *upstream, *args, None, ws, **opts), flops_b)}
        for phase, (fn, flops) in calls.items():
            samples = time_samples_s(fn, min_time_s=budget, repeats=5 if quick else 9)
            t = statistics.median(samples)
            rows.append({"case": name, "phase": phase, "threads": threads, "B": B, "T": T,
                         "I": I, "U": U, "us": t * 1e6, "gflops": flops / t * 1e-9,
                         "pct_peak": 100.0 * flops / t * 1e-9 / peak if peak else None,
                         "noise_pct": 100.0 * (max(samples) - min(samples)) / t})
    return {"threads": threads, "isa": config.cpu_isa(), "peak_gflops": peak, "rows": rows}


def _cuda_case(cell, args, upstream, opts):
    """pykern._cuda calls for one case: (forward (training), forward (inference), backward),
    after checking the GPU's results against the CPU kernels."""
    import numpy as np

    from pykern import _cpu, _cuda

    c0 = args[5] if cell == "lstm" else None
    flags = (opts.get("reverse", False), opts.get("activation", "tanh"), "sigmoid", True, False)
    dev = [_cuda.to_device(a) for a in args[:5]] + [None if c0 is None else _cuda.to_device(c0)]
    up = [_cuda.to_device(u) for u in upstream] + [None] * (3 - len(upstream))

    def fwd(save=True):
        return _cuda.rnn_forward(cell, *dev, None, *flags, save)

    ws = fwd()[3]

    def bwd():
        return _cuda.rnn_backward(cell, *up, *dev, None, ws, *flags)

    cpu_f = getattr(_cpu, f"{cell}_forward")(*args, **opts)
    cpu_b = getattr(_cpu, f"{cell}_backward")(*upstream, *args, None, cpu_f[-1], **opts)
    got = [v for v in fwd()[:3] + bwd() if v is not None]
    for g, want in zip(got, [v for v in list(cpu_f[:-1]) + list(cpu_b) if v is not None]):
        g = _cuda.to_host(g)
        scale = float(np.sqrt(np.mean(want.astype(np.float64) ** 2))) or 1.0
        err = float(np.abs(g - want).max()) / scale if want.size else 0.0
        if err > 1e-4:
            raise AssertionError(f"{cell}: the GPU and the CPU differ by {err:.2e} of the RMS")
    return fwd, lambda: fwd(False), bwd


def _torch_case(torch, cell, U, B, T, I, args, upstream):
    """PyTorch's calls for one case, or None for a cell it has no module for."""
    if cell not in ("lstm", "gru"):
        return None
    mod = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, U, batch_first=True).cuda()
    x = torch.tensor(args[0], device="cuda", requires_grad=True)
    dy = torch.tensor(upstream[0], device="cuda")
    y = mod(x)[0]

    def infer():
        with torch.no_grad():
            return mod(x)

    return (lambda: mod(x), infer, lambda: y.backward(dy, retain_graph=True))


def _measure_cuda(quick):
    import numpy as np

    from bench.common import require_gpu, time_samples_s, torch_cuda

    require_gpu("rnn")
    from pykern import _cuda
    torch = torch_cuda()
    rng = np.random.default_rng(0)
    rows = []
    for name, cell, U, (B, T, I), opts in CASES:
        args, upstream = _operands(cell, U, B, T, I, rng)
        ours = _cuda_case(cell, args, upstream, opts)
        theirs = _torch_case(torch, cell, U, B, T, I, args, upstream) if torch else None
        flops_f = 2.0 * B * T * (I + U) * GATES[cell] * U
        flops_b = 2.0 * flops_f + 2.0 * B * T * GATES[cell] * U
        for i, phase in enumerate(("forward", "forward (inference)", "backward")):
            flops = flops_b if i == 2 else flops_f

            def timed(fn, sync):
                samples = time_samples_s(lambda: (fn(), sync()), min_time_s=0.03 if quick else 0.1,
                                         repeats=5 if quick else 9)
                return statistics.median(samples), samples

            t, samples = timed(ours[i], _cuda.synchronize)
            t_torch = timed(theirs[i], torch.cuda.synchronize)[0] if theirs else None
            rows.append({"case": name, "phase": phase, "B": B, "T": T, "I": I, "U": U,
                         "us": t * 1e6, "gflops": flops / t * 1e-9,
                         "torch_us": None if t_torch is None else t_torch * 1e6,
                         "speedup_vs_torch": None if t_torch is None else t_torch / t,
                         "noise_pct": 100.0 * (max(samples) - min(samples)) / t})
    info = _cuda.device_info(0)
    return {"device": info["name"], "torch": None if torch is None else torch.__version__,
            "rows": rows}


def _report_cuda(run):
    from bench.common import print_table

    print(f"\n{run['device']}  PyTorch {run['torch'] or '(not available)'}  fp32, TF32 off")
    print_table(["case", "(B,T,I)", "phase", "pykern us", "GFLOP/s", "torch us", "torch/pykern",
                 "noise"],
                [(r["case"], f"({r['B']},{r['T']},{r['I']})", r["phase"], f"{r['us']:.0f}",
                  f"{r['gflops']:.1f}",
                  "-" if r["torch_us"] is None else f"{r['torch_us']:.0f}",
                  "-" if r["speedup_vs_torch"] is None else f"{r['speedup_vs_torch']:.2f}x",
                  f"{r['noise_pct']:.0f}%") for r in run["rows"]])


def _report(runs):
    from bench.common import print_table

    for run in runs:
        print(f"\nthreads={run['threads']}  isa={run['isa']}  "
              f"measured fp32 peak {run['peak_gflops']:.1f} GFLOP/s")
        print_table(["case", "(B,T,I)", "phase", "us", "GFLOP/s", "% peak", "noise"],
                    [(r["case"], f"({r['B']},{r['T']},{r['I']})", r["phase"], f"{r['us']:.0f}",
                      f"{r['gflops']:.1f}", f"{r['pct_peak']:.0f}%" if r["pct_peak"] else "-",
                      f"{r['noise_pct']:.0f}%") for r in run["rows"]])


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench rnn", description=__doc__.splitlines()[0])
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,all)")
    p.add_argument("--json", default=None, help="write the figures to this file")
    p.add_argument("--quick", action="store_true", help="shorter repeats")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cpu (threads) or cuda (the GPU, next to PyTorch)")
    args = p.parse_args(argv)

    from bench.common import save_runs, thread_counts

    if args.device == "cuda":
        run = _measure_cuda(args.quick)
        _report_cuda(run)
        save_runs(args.json, "rnn-cuda", [run])
        return 0
    runs = [_measure(t, args.quick) for t in thread_counts(args.threads)]
    _report(runs)
    save_runs(args.json, "rnn", runs)
    return 0
