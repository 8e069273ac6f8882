"""Pooling and normalization kernels: pykern vs TensorFlow (if installed), ms and GB/s.

Each case times the native binding (which allocates its outputs, as an op will) and the
TensorFlow op that Keras runs for the same layer, back to back in one process with the
same thread count (median of repeats after a warm-up). GB/s counts the compulsory traffic:
every input read once and every output written once. Max pooling in pykern also writes
the argmax its backward needs; TensorFlow's MaxPool does not (its gradient recomputes).

    python -m bench pool_norm [--threads 1] [--json out.json] [--quick]
"""
import argparse
import os
import time

import numpy as np

from bench.common import machine_info, median_time_s, print_table, write_json


def _cases(quick):
    n = 8 if quick else 32
    x = np.random.default_rng(0).standard_normal((n, 64, 64, 64)).astype(np.float32)
    return x


def _pykern_ops(x):
    from pykern import _cpu
    n, h, w, c = x.shape
    k2 = ((2, 2), (2, 2), (0, 0), (0, 0))
    k3 = ((3, 3), (1, 1), (1, 1), (1, 1))
    y2, a2 = _cpu.max_pool_forward(x, *k2)
    bn = x.reshape(-1, c, 1)
    g = np.ones(c, np.float32)
    _, mean, var, inv_std = _cpu.batch_norm_train(bn, g, g, 1e-3)
    ln = x.reshape(-1, 512)
    gl = np.ones(512, np.float32)
    _, lmean, linv = _cpu.layer_norm_forward(ln, gl, gl, 1e-3)
    mb = x.nbytes
    return [
        ("max_pool 2x2/2 fwd", lambda: _cpu.max_pool_forward(x, *k2), mb + 2 * y2.nbytes),
        ("max_pool 2x2/2 bwd", lambda: _cpu.max_pool_backward(y2, a2, x.shape), mb + 2 * y2.nbytes),
        ("max_pool 3x3/1 fwd", lambda: _cpu.max_pool_forward(x, *k3), 3 * mb),
        ("avg_pool 2x2/2 fwd", lambda: _cpu.avg_pool_forward(x, *k2), mb + y2.nbytes),
        ("avg_pool 2x2/2 bwd", lambda: _cpu.avg_pool_backward(y2, x.shape, *k2), mb + y2.nbytes),
        ("avg_pool 3x3/1 fwd", lambda: _cpu.avg_pool_forward(x, *k3), 2 * mb),
        ("batch_norm train", lambda: _cpu.batch_norm_train(bn, g, g, 1e-3), 2 * mb),
        ("batch_norm inference", lambda: _cpu.batch_norm_inference(bn, mean, var, g, g, 1e-3),
         2 * mb),
        ("batch_norm backward", lambda: _cpu.batch_norm_backward(bn, bn, mean, inv_std, g),
         3 * mb),
        ("layer_norm fwd", lambda: _cpu.layer_norm_forward(ln, gl, gl, 1e-3), 2 * mb),
        ("layer_norm bwd", lambda: _cpu.layer_norm_backward(ln, ln, lmean, linv, gl), 3 * mb),
    ]


def _tf_ops(x, threads):
    """The TensorFlow ops Keras 3 runs for the same layers, keyed like _pykern_ops."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError:
        return {}
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    xt = tf.constant(x)
    c = x.shape[-1]
    ln = tf.reshape(xt, (-1, 512))

    def grad(f, t):
        @tf.function
        def run(t):
            with tf.GradientTape() as tape:
                tape.watch(t)
                y = f(t)
            return tape.gradient(y, t, output_gradients=y)
        return lambda: run(t).numpy()

    def bn(t):
        mean, var = tf.nn.moments(t, [0, 1, 2])
        return tf.nn.batch_normalization(t, mean, var, tf.zeros(c), tf.ones(c), 1e-3)

    def lnorm(t):
        mean, var = tf.nn.moments(t, [1], keepdims=True)
        return tf.nn.batch_normalization(t, mean, var, None, None, 1e-3)

    mean, var = tf.nn.moments(xt, [0, 1, 2])
    return {
        "max_pool 2x2/2 fwd": lambda: tf.nn.max_pool2d(xt, 2, 2, "VALID").numpy(),
        "max_pool 2x2/2 bwd": grad(lambda t: tf.nn.max_pool2d(t, 2, 2, "VALID"), xt),
        "max_pool 3x3/1 fwd": lambda: tf.nn.max_pool2d(xt, 3, 1, "SAME").numpy(),
        "avg_pool 2x2/2 fwd": lambda: tf.nn.avg_pool2d(xt, 2, 2, "VALID").numpy(),
        "avg_pool 2x2/2 bwd": grad(lambda t: tf.nn.avg_pool2d(t, 2, 2, "VALID"), xt),
        "avg_pool 3x3/1 fwd": lambda: tf.nn.avg_pool2d(xt, 3, 1, "SAME").numpy(),
        "batch_norm train": lambda: bn(xt).numpy(),
        "batch_norm inference": lambda: tf.nn.batch_normalization(
            xt, mean, var, tf.zeros(c), tf.ones(c), 1e-3).numpy(),
        "batch_norm backward": grad(bn, xt),
        "layer_norm fwd": lambda: lnorm(ln).numpy(),
        "layer_norm bwd": grad(lnorm, ln),
    }


def main(argv):
    ap = argparse.ArgumentParser(prog="python -m bench pool_norm",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from pykern import config
    config.set_num_threads(args.threads)
    x = _cases(args.quick)
    tf_ops = _tf_ops(x, args.threads)
    rows, out = [], []
    min_time = 0.05 if args.quick else 0.2
    for name, fn, nbytes in _pykern_ops(x):
        time.sleep(0.1)
        t_pk = median_time_s(fn, min_time_s=min_time)
        t_tf = None
        if name in tf_ops:
            time.sleep(0.1)
            t_tf = median_time_s(tf_ops[name], min_time_s=min_time)
        # the TF "bwd" cases run forward and backward; their ratio is against pykern's bwd alone
        out.append({"case": name, "pykern_ms": t_pk * 1e3, "pykern_gbs": nbytes / t_pk * 1e-9,
                    "tf_ms": t_tf and t_tf * 1e3, "shape": list(x.shape)})
        rows.append([name, f"{t_pk * 1e3:.2f}", f"{nbytes / t_pk * 1e-9:.1f}",
                     f"{t_tf * 1e3:.2f}" if t_tf else "-", f"{t_tf / t_pk:.2f}" if t_tf else "-"])
    print(f"x {tuple(x.shape)} float32, {args.threads} thread(s), ISA {config.cpu_isa()}")
    print_table(["case", "pykern ms", "GB/s", "tf ms", "tf/pykern"], rows)
    if args.json:
        write_json(args.json, {"machine": machine_info(), "threads": args.threads, "rows": out})
    return 0
