"""SGEMM: pykern vs NumPy (OpenBLAS) GFLOP/s, ratio and % of measured fp32 peak.

Each thread count runs in a fresh process with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set, because OpenBLAS fixes its thread count at load time.
Within a process every shape is timed for pykern and for NumPy back to back
(median of repeats, after warm-up, each after a pause that lets the other
library's idle threads stop spinning), so both see the same machine state.

    python -m bench gemm [--threads 1,2] [--json out.json] [--quick]

`--device cuda`: the CUDA kernel table's gemm on device arrays against PyTorch's
torch.mm (cuBLAS) on the same GPU, fp32 with TF32 off, at 4096^3 and the training
shapes; each product is validated against a float64 reference before it is timed.
Without a GPU it stops with an error.
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


CUDA_SHAPES = [(4096, 4096, 4096), (2048, 2048, 2048)] + TRAINING


def _cuda_time_s(fn, sync, min_time_s=0.2):
    """Median per-call seconds of fn on the GPU (each sample synchronised)."""
    from bench.common import median_time_s

    def timed():
        fn()
        sync()
    return median_time_s(timed, min_time_s=min_time_s, repeats=5)


def _bench_cuda(json_path):
    import numpy as np

    from bench.common import print_table, require_gpu, save_runs, torch_cuda
    from pykern import _cuda
    from pykern.backend import devices

    name = require_gpu("gemm")
    k = devices.get("cuda").k
    if not hasattr(k, "gemm"):
        raise SystemExit("bench gemm --device cuda: the CUDA kernel table has no gemm yet "
                         "(the dense-network family, cuda_nn.py, is not merged)")
    torch = torch_cuda()
    rng = np.random.default_rng(0)
    rows = []
    for m, kk, n in CUDA_SHAPES:
        a = rng.standard_normal((m, kk), dtype=np.float32)
        b = rng.standard_normal((kk, n), dtype=np.float32)
        da, db = k.from_host(a), k.from_host(b)
        _validate(k.to_host(k.gemm(da, db)), a, b, (m, kk, n))
        flops = 2.0 * m * n * kk
        t_pk = _cuda_time_s(lambda: k.gemm(da, db), _cuda.synchronize)
        row = {"m": m, "k": kk, "n": n, "pykern_gflops": flops / t_pk * 1e-9,
               "pykern_us": t_pk * 1e6}
        if torch is not None:
            ta, tb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
            t_tc = _cuda_time_s(lambda: torch.mm(ta, tb), torch.cuda.synchronize)
            row.update(cublas_gflops=flops / t_tc * 1e-9, cublas_us=t_tc * 1e6,
                       ratio=t_tc / t_pk)
        rows.append(row)
    print(f"\nSGEMM on {name}, fp32 (TF32 off){'' if torch else '; no PyTorch: pykern alone'}")
    print_table(["MxKxN", "pykern GF/s", "cuBLAS GF/s", "pykern/cuBLAS", "pykern us",
                 "cuBLAS us"],
                [(f"{r['m']}x{r['k']}x{r['n']}", f"{r['pykern_gflops']:.0f}",
                  f"{r.get('cublas_gflops', 0):.0f}", f"{r.get('ratio', 0):.2f}",
                  f"{r['pykern_us']:.1f}", f"{r.get('cublas_us', 0):.1f}") for r in rows])
    save_runs(json_path, "gemm_cuda", [{"device": name, "rows": rows}])
    return 0


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench gemm", description=__doc__.splitlines()[0])
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,all)")
    p.add_argument("--json", default=None, help="write the figures to this file")
    p.add_argument("--quick", action="store_true", help="fewer sizes, shorter repeats")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="cuda: the GPU kernel against cuBLAS (PyTorch), TF32 off")
    args = p.parse_args(argv)
    if args.device == "cuda":
        return _bench_cuda(args.json)

    from bench.common import save_runs, thread_counts, write_json

    if args.child:
        write_json(args.json, _measure_one_process(int(args.threads), args.quick))
        return 0
    runs = [_run_child(t, args.quick) for t in thread_counts(args.threads)]
    _report(runs)
    save_runs(args.json, "gemm", runs)
    return 0
