"""Autograd overhead per op: forward+backward of Dense(64) on a batch of 32 vs the bare kernels.

The bare baseline is exactly the native work the op does: one fused SGEMM
(bias + relu) forward, then dz = g * (y > 0), dx = dz @ W^T, dW = x^T @ dz,
db = sum(dz). Each pykern variant does the same arithmetic plus its
bookkeeping (Tensor objects, graph recording, topological sort, layer call);
the difference divided by the number of recorded ops is the per-op overhead.
Every variant differentiates w.r.t. x too, so all compute dx like the baseline
(the last one also pays for its two extra element-wise ops).

    python -m bench overhead [--batch 32] [--features 64] [--units 64] [--json PATH]
"""
import argparse
import os

import numpy as np

from bench.common import machine_info, median_time_s, print_table, write_json


def _bare(x, w, b, g):
    from pykern import _cpu

    def step():
        y = _cpu.sgemm(x, w, bias=b, activation="relu")
        dz = g * (y > 0)
        _cpu.sgemm(dz, w, trans_b=True)
        _cpu.sgemm(x, dz, trans_a=True)
        dz.sum(axis=0)
    return step


def _op_level(x, w, b, g):
    from pykern import ops
    from pykern.backend import Variable, grad_arrays
    xv, wv, bv = Variable(x), Variable(w), Variable(b)
    sources = [xv, wv, bv]

    def step():
        y = ops.dense(xv, wv, bv, "relu")
        grad_arrays([y], sources, [g])
    return step, 1


def _layer_level(x, w, b, g):
    import pykern
    from pykern.backend import Variable
    layer = pykern.layers.Dense(w.shape[1], activation="relu")
    layer.build((None, w.shape[0]))
    layer.set_weights([w, b])
    xv = Variable(x)
    sources = [xv] + layer.trainable_weights

    def step():
        with pykern.GradientTape() as tape:
            y = layer(xv)
        tape.gradient(y, sources, output_gradients=g)
    return step, 1


def _model_level(x, w, b, g):
    import pykern
    from pykern import ops
    from pykern.backend import Variable
    model = pykern.Sequential([pykern.layers.Input((w.shape[0],)),
                               pykern.layers.Dense(w.shape[1], activation="relu")])
    model.set_weights([w, b])
    xv = Variable(x)
    sources = [xv] + model.trainable_weights

    def step():
        with pykern.GradientTape() as tape:
            loss = ops.sum(ops.multiply(model(xv), g))  # dense, multiply, sum
        tape.gradient(loss, sources)
    return step, 3


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench overhead",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="kernel threads (1: the small GEMMs gain nothing from more, and "
                             "one thread keeps the timings steady)")
    parser.add_argument("--json", default=os.path.join("bench", "results", "overhead.json"))
    args = parser.parse_args(argv)

    from pykern import config
    config.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.features)).astype(np.float32)
    w = rng.standard_normal((args.features, args.units)).astype(np.float32) * 0.1
    b = rng.standard_normal(args.units).astype(np.float32) * 0.1
    g = rng.standard_normal((args.batch, args.units)).astype(np.float32)

    bare_s = median_time_s(_bare(x, w, b, g), min_time_s=0.1, repeats=args.repeats)
    rows, results = [["bare kernels (4 native calls)", f"{bare_s * 1e6:.2f}", "-", "-", "-"]], []
    variants = [("ops.dense + grad_arrays", _op_level),
                ("Dense layer + GradientTape", _layer_level),
                ("Sequential + sum loss + tape", _model_level)]
    for name, make in variants:
        step, n_ops = make(x, w, b, g)
        t = median_time_s(step, min_time_s=0.1, repeats=args.repeats)
        over_us = (t - bare_s) * 1e6
        rows.append([name, f"{t * 1e6:.2f}", f"{over_us:.2f}", n_ops, f"{over_us / n_ops:.2f}"])
        results.append({"variant": name, "time_us": t * 1e6, "overhead_us": over_us,
                        "ops": n_ops, "overhead_per_op_us": over_us / n_ops})
    print(f"Dense({args.units}) forward+backward, batch {args.batch}, {args.features} features, "
          f"{args.threads} kernel thread(s)")
    print_table(["variant", "time (us)", "overhead (us)", "ops", "overhead/op (us)"], rows)
    payload = {"benchmark": "overhead", "machine": machine_info(),
               "shape": {"batch": args.batch, "features": args.features, "units": args.units},
               "threads": args.threads,
               "bare_us": bare_s * 1e6, "variants": results}
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        write_json(args.json, payload)
    return 0
