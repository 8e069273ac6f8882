"""SGEMM: pykern vs NumPy (OpenBLAS) GFLOP/s, ratio and % of measured fp32 peak.

Each thread count runs in a fresh process with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set, because OpenBLAS fixes its thread count at load time.
Within a process every shape is timed for pykern and for NumPy back to back
(median of repeats, after warm-up, each after a pause that lets the other
library's idle threads stop spinning), so both see the same machine state.

    python -m bench gemm [--threads 1,2] [--json out.json] [--quick]
    python -m bench gemm --device cuda [--json out.json] [--quick]

With --device cuda the same shapes (and squares up to 4096) run on the GPU through
pykern._cuda.gemm, side by side with torch.mm (cuBLAS) on the same GPU, both fp32 with
TF32 off; at the largest square both also run with TF32 on. Each product is checked
against a float64 oracle (its first 64 rows) before it is timed; times are batches of
back-to-back calls ending in a device synchronize (bench/_gpu.py).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SQUARES = [256, 512, 1024, 2048]
TRAINING = [(32, 20, 64), (32, 64, 64), (128, 9216, 128), (9216, 128, 128), (128, 128, 9216),
            (64, 160, 512)]


def _shapes(quick):
    squares = [(n, n, n) for n in (SQUARES[:2] if quick else SQUARES)]
    return [("square", s) for s in squares] + [("training", s) for s in TRAINING]


def settle():
    """Lets the other library's idle workers stop spinning before a measurement:
    OpenBLAS busy-waits ~2^28 cycles (about 0.1 s) after each call, and a second
    thread that finds its core taken halves a 2-thread timing."""
    time.sleep(0.25)


def _measure_one_process(threads, quick):
    """Runs in the child process: returns the figures for this thread count."""
    import numpy as np

    from bench.common import median_time_s
    from pykern import _cpu, config

    config.set_num_threads(threads)
    rng = np.random.default_rng(0)
    peak = _cpu.fma_peak_gflops(0.3, threads)
    rows = []
    for kind, (m, k, n) in _shapes(quick):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        flops = 2.0 * m * n * k
        _validate(_cpu.matmul(a, b), a, b, (m, k, n))
        settle()
        t_pk = median_time_s(lambda: _cpu.matmul(a, b), min_time_s=0.03 if quick else 0.1)
        settle()
        t_np = median_time_s(lambda: a @ b, min_time_s=0.03 if quick else 0.1)
        rows.append({"kind": kind, "m": m, "k": k, "n": n, "threads": threads,
                     "pykern_gflops": flops / t_pk * 1e-9, "numpy_gflops": flops / t_np * 1e-9,
                     "ratio": t_np / t_pk, "pykern_us": t_pk * 1e6, "numpy_us": t_np * 1e6,
                     "pykern_pct_peak": 100.0 * flops / t_pk * 1e-9 / peak if peak else None})
    return {"threads": threads, "isa": config.cpu_isa(), "peak_gflops": peak, "rows": rows}


def _validate(got, a, b, shape):
    """Validate, then time: the product must be within float32 GEMM error bounds
    of a float64 reference (4 sqrt(k) eps |A||B| per element) before it is timed."""
    import numpy as np
    ref = a.astype(np.float64) @ b.astype(np.float64)
    bound = 4 * np.sqrt(a.shape[1]) * np.finfo(np.float32).eps * (np.abs(a) @ np.abs(b))
    if not np.all(np.abs(got - ref) <= bound):
        raise SystemExit(f"bench gemm: pykern's product of shape {shape} is wrong "
                         f"(max error {np.max(np.abs(got - ref)):.3g}); not timing it")


CUDA_SQUARES = [1024, 2048, 4096]


def _validate_rows(got, a, b, shape, tf32=False):
    """The first 64 rows of a GPU product within the float32 (or TF32) error bound."""
    import numpy as np
    r = min(a.shape[0], 64)
    ref = a[:r].astype(np.float64) @ b.astype(np.float64)
    mag = np.abs(a[:r]).astype(np.float64) @ np.abs(b)
    bound = 4 * np.sqrt(a.shape[1]) * np.finfo(np.float32).eps * mag + (2.0 ** -9 * mag if tf32
                                                                        else 0)
    if not np.all(np.abs(got[:r] - ref) <= bound):
        raise SystemExit(f"bench gemm: the GPU product of shape {shape} (tf32={tf32}) is wrong "
                         f"(max error {np.max(np.abs(got[:r] - ref)):.3g}); not timing it")


def _measure_cuda(quick):
    import numpy as np

    from bench._gpu import gpu_time_s, set_torch_tf32
    from bench.common import require_gpu, torch_cuda
    from pykern import _cuda

    name = require_gpu("gemm")
    torch = torch_cuda()
    rng = np.random.default_rng(0)
    squares = CUDA_SQUARES[-1:] if quick else CUDA_SQUARES
    shapes = [("square", (n, n, n)) for n in squares] + [("training", s) for s in TRAINING]
    budget = 0.05 if quick else 0.2
    rows = []
    for kind, (m, k, n) in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        A, B = _cuda.to_device(a), _cuda.to_device(b)
        ta = tb = None
        if torch is not None:
            ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        modes = [False, True] if (kind, n) == ("square", squares[-1]) else [False]
        for tf32 in modes:
            _validate_rows(_cuda.to_host(_cuda.gemm(A, B, tf32=tf32)), a, b, (m, k, n), tf32)
            t = gpu_time_s(lambda: _cuda.gemm(A, B, tf32=tf32), _cuda.synchronize, budget)[0]
            t_torch = None
            if torch is not None:
                set_torch_tf32(torch, tf32)
                t_torch = gpu_time_s(lambda: torch.mm(ta, tb), torch.cuda.synchronize, budget)[0]
                set_torch_tf32(torch, False)
            flops = 2.0 * m * n * k
            rows.append({"kind": kind, "m": m, "k": k, "n": n, "tf32": tf32,
                         "pykern_gflops": flops / t * 1e-9, "pykern_us": t * 1e6,
                         "torch_gflops": None if t_torch is None else flops / t_torch * 1e-9,
                         "torch_us": None if t_torch is None else t_torch * 1e6,
                         "pct_of_torch": None if t_torch is None else 100.0 * t_torch / t})
    return {"device": name, "torch": None if torch is None else torch.__version__, "rows": rows}


def _report_cuda(run):
    from bench.common import print_table

    print(f"\n{run['device']}  PyTorch {run['torch'] or '(not available)'}  "
          f"(torch.mm = cuBLAS; TF32 only where the column says so)")
    rows = [(f"{r['m']}x{r['k']}x{r['n']}", r["kind"], "on" if r["tf32"] else "off",
             f"{r['pykern_gflops']:.0f}", "-" if r["torch_gflops"] is None else
             f"{r['torch_gflops']:.0f}", "-" if r["pct_of_torch"] is None else
             f"{r['pct_of_torch']:.0f}%", f"{r['pykern_us']:.1f}",
             "-" if r["torch_us"] is None else f"{r['torch_us']:.1f}") for r in run["rows"]]
    print_table(["MxKxN", "kind", "TF32", "pykern GF/s", "torch GF/s", "% of torch",
                 "pykern us", "torch us"], rows)


def _run_child(threads, quick):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, "-m", "bench", "gemm", "--child", "--threads", str(threads),
               "--json", f.name] + (["--quick"] if quick else [])
        subprocess.run(cmd, env=env, check=True)
        with open(f.name) as g:
            return json.load(g)


def _report(runs):
    from bench.common import print_table

    for run in runs:
        print(f"\nthreads={run['threads']}  isa={run['isa']}  "
              f"measured fp32 peak {run['peak_gflops']:.1f} GFLOP/s")
        rows = [(f"{r['m']}x{r['k']}x{r['n']}", r["kind"], f"{r['pykern_gflops']:.1f}",
                 f"{r['numpy_gflops']:.1f}", f"{r['ratio']:.2f}",
                 f"{r['pykern_pct_peak']:.0f}%" if r["pykern_pct_peak"] else "-",
                 f"{r['pykern_us']:.1f}", f"{r['numpy_us']:.1f}") for r in run["rows"]]
        print_table(["MxKxN", "kind", "pykern GF/s", "numpy GF/s", "ratio", "% peak",
                     "pykern us", "numpy us"], rows)


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench gemm", description=__doc__.splitlines()[0])
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,all)")
    p.add_argument("--json", default=None, help="write the figures to this file")
    p.add_argument("--quick", action="store_true", help="fewer sizes, shorter repeats")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cpu (threads, vs NumPy) or cuda (the GPU, vs PyTorch)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    from bench.common import save_runs, thread_counts, write_json

    if args.device == "cuda":
        run = _measure_cuda(args.quick)
        _report_cuda(run)
        save_runs(args.json, "gemm-cuda", [run])
        return 0
    if args.child:
        write_json(args.json, _measure_one_process(int(args.threads), args.quick))
        return 0
    runs = [_run_child(t, args.quick) for t in thread_counts(args.threads)]
    _report(runs)
    save_runs(args.json, "gemm", runs)
    return 0
