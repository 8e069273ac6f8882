"""Philox fills and fused dropout: ns per element and GB/s, vs NumPy's generator.

Each row times one call on n elements (median of repeats); NumPy's rows use
np.random.Generator (PCG64) for the same result shape and dtype, as a yardstick.

    python -m bench random [--n 4000000] [--threads 0] [--json PATH]
"""
import argparse

import numpy as np

from bench.common import machine_info, median_time_s, print_table, write_json


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench random")
    p.add_argument("--n", type=int, default=4_000_000)
    p.add_argument("--threads", type=int, default=0, help="0: pykern's default")
    p.add_argument("--json")
    args = p.parse_args(argv)
    from pykern import _cpu
    if args.threads:
        _cpu.set_num_threads(args.threads)
    n, rate = args.n, 0.5
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    cases = {  # name -> (fn, bytes moved)
        "uniform": (lambda: _cpu.random_uniform(n, 1, 0), 4 * n),
        "uniform_ref": (lambda: _cpu.random_uniform_ref(n, 1, 0), 4 * n),
        "numpy uniform": (lambda: rng.random(n, dtype=np.float32), 4 * n),
        "normal": (lambda: _cpu.random_normal(n, 1, 0), 4 * n),
        "numpy normal": (lambda: rng.standard_normal(n, dtype=np.float32), 4 * n),
        "dropout_mask": (lambda: _cpu.dropout_mask(n, rate, 1, 0), 4 * n),
        "dropout_apply": (lambda: _cpu.dropout_apply(x, rate, 1, 0), 8 * n),
        "numpy dropout": (lambda: x * ((rng.random(n, dtype=np.float32) >= rate)
                                       * np.float32(1 / (1 - rate))), 8 * n),
    }
    results = {}
    for name, (fn, nbytes) in cases.items():
        t = median_time_s(fn, repeats=5)
        results[name] = {"ns_per_element": 1e9 * t / n, "gb_per_s": nbytes / t / 1e9}
    print(f"n = {n}, threads = {_cpu.num_threads()}")
    print_table(["kernel", "ns/elem", "GB/s"],
                [[k, f"{v['ns_per_element']:.2f}", f"{v['gb_per_s']:.2f}"]
                 for k, v in results.items()])
    if args.json:
        write_json(args.json, {"machine": machine_info(), "n": n,
                               "threads": _cpu.num_threads(), "results": results})
    return 0
