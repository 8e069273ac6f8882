"""A first look at pykern's native core: the SGEMM with a fused epilogue.

Computes a dense layer's forward pass, relu(x @ W + b), in one kernel call,
checks it against NumPy, and times both.
"""
import time

import numpy as np

import pykern
from pykern import _cpu


def best_time_s(fn, repeats=20):
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    print(f"pykern {pykern.__version__}: isa={pykern.config.cpu_isa()}, "
          f"threads={pykern.config.num_threads()}, devices={pykern.config.list_devices()}")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 512), dtype=np.float32)
    w = rng.standard_normal((512, 1024), dtype=np.float32) * 0.05
    b = rng.standard_normal(1024, dtype=np.float32)

    y = _cpu.sgemm(x, w, bias=b, activation="relu")
    want = np.maximum(x.astype(np.float64) @ w + b, 0.0)
    print(f"dense relu(x @ W + b) {x.shape} x {w.shape}: max abs error vs float64 NumPy "
          f"{np.abs(y - want).max():.2e}")

    flops = 2.0 * 256 * 512 * 1024
    t_pk = best_time_s(lambda: _cpu.sgemm(x, w, bias=b, activation="relu"))
    t_np = best_time_s(lambda: np.maximum(x @ w + b, 0.0))
    print(f"pykern fused: {flops / t_pk * 1e-9:6.1f} GFLOP/s   "
          f"NumPy (matmul, add, maximum): {flops / t_np * 1e-9:6.1f} GFLOP/s")
    print(f"matmul with NumPy semantics: {pykern.ops.matmul(x[:2], w).shape}")


if __name__ == "__main__":
    main()
