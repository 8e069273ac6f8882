"""Autograd overhead per op: forward+backward of Dense(64) on a batch of 32 vs the bare kernels.

The bare baseline is exactly the native work the op does: one fused SGEMM
(bias + relu) forward, then dz = g * (y > 0), dx = dz @ W^T, dW = x^T @ dz,
db = sum(dz). Each pykern variant does the same arithmetic plus its
bookkeeping (Tensor objects, graph recording, topological sort, layer call);
the difference divided by the number of recorded ops is the per-op overhead
(median of interleaved rounds; "best-of" compares the quietest rounds).
Every variant differentiates w.r.t. x too and seeds the backward pass with the
same output gradient g, so all do exactly the baseline's arithmetic; the layer
and model rows add the cost of Layer.__call__ / Model.__call__ and the tape.

    python -m bench overhead [--batch 32] [--features 64] [--units 64] [--json PATH]
"""
import argparse
import os

import numpy as np

from bench.common import machine_info, median_time_s, print_table, write_json


def _bare(x, w, b, g):
    from pykern import _cpu

    def step():  # positional arguments, as the dense op passes them (the cheapest call)
        y = _cpu.sgemm(x, w, None, False, False, 1.0, 0.0, b, "relu")
        dz = g * (y > 0)
        _cpu.sgemm(dz, w, None, False, True)
        _cpu.sgemm(x, dz, None, True)
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
    from pykern.backend import Variable
    model = pykern.Sequential([pykern.layers.Input((w.shape[0],)),
                               pykern.layers.Dense(w.shape[1], activation="relu")])
    model.set_weights([w, b])
    xv = Variable(x)
    sources = [xv] + model.trainable_weights

    def step():
        with pykern.GradientTape() as tape:
            y = model(xv)
        tape.gradient(y, sources, output_gradients=g)
    return step, 1


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench overhead",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=25)
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

    # The machine is shared: measure baseline and variants in interleaved rounds and
    # take the median of each round's difference, so that load changing over
    # seconds cancels instead of landing on one row.
    bare = _bare(x, w, b, g)
    variants = [("ops.dense + grad_arrays", _op_level),
                ("Dense layer + GradientTape", _layer_level),
                ("Sequential model + GradientTape", _model_level)]
    steps = [make(x, w, b, g) for _, make in variants]
    bare_rounds, rounds = [], [[] for _ in variants]
    for _ in range(args.rounds):
        bare_rounds.append(median_time_s(bare, min_time_s=0.02, repeats=3))
        for k, (step, _) in enumerate(steps):
            rounds[k].append(median_time_s(step, min_time_s=0.02, repeats=3))
    bare_s = float(np.median(bare_rounds))
    rows = [["bare kernels (4 native calls)", f"{bare_s * 1e6:.2f}", "-", "-", "-", "-"]]
    results = []
    for (name, _), (_, n_ops), times in zip(variants, steps, rounds):
        over_us = float(np.median(np.subtract(times, bare_rounds))) * 1e6
        # best-of: the quietest round of each, i.e. the cost without interference
        best_us = (min(times) - min(bare_rounds)) * 1e6
        t_us = bare_s * 1e6 + over_us
        rows.append([name, f"{t_us:.2f}", f"{over_us:.2f}", n_ops, f"{over_us / n_ops:.2f}",
                     f"{best_us / n_ops:.2f}"])
        results.append({"variant": name, "time_us": t_us, "overhead_us": over_us,
                        "ops": n_ops, "overhead_per_op_us": over_us / n_ops,
                        "best_overhead_per_op_us": best_us / n_ops})
    print(f"Dense({args.units}) forward+backward, batch {args.batch}, {args.features} features, "
          f"{args.threads} kernel thread(s)")
    print_table(["variant", "time (us)", "overhead (us)", "ops", "overhead/op (us)",
                 "best-of overhead/op (us)"], rows)
    payload = {"benchmark": "overhead", "machine": machine_info(),
               "shape": {"batch": args.batch, "features": args.features, "units": args.units},
               "threads": args.threads,
               "bare_us": bare_s * 1e6, "variants": results}
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        write_json(args.json, payload)
    return 0
