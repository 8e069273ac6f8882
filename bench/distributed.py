"""Data-parallel training over MPI: samples/s at 1 and 2 processes, efficiency, allreduce.

For each model of bench/models.py (`--model`, default dense and mnist_cnn) four
runs, each launched with mpirun, one thread per process, the model's batch size B:

  1 process     batch B
  2 processes   global batch B (B/2 per process: the same training, strong scaling)
  2 processes   global batch 2B (B per process: weak scaling, as Horovod users scale)
  2 processes   B/2 each on half the samples, no DataParallel: what two processes
                achieve on this machine without any communication (the baseline
                that separates contention for cores and memory from our cost)

Reported per run: training samples/s (median over the timed epochs, after a
warm-up epoch), the scaling efficiency (samples/s at p / (p x samples/s at 1)),
the bytes allreduced per step (the fusion buffer: gradients + header), and per
step the seconds inside the allreduce (transfer plus waiting for the slower
process) and packing/unpacking the buffer. Then the allreduce itself between 2
processes, 8 bytes and the MNIST CNN's buffer, for the ring-allreduce model
T(p) = 2(p-1)/p * bytes / bandwidth + 2(p-1) * latency, and the efficiency it
predicts at 8 and 64 processes for weak scaling, with the measured packing cost
and no overlap of communication with the backward pass:
E(p) = t_step(1) / (t_step(1) + T(p) + t_pack).

    python -m bench distributed [--model dense mnist_cnn] [--samples N] [--epochs 3] [--json PATH]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from bench.common import machine_info, print_table, write_json
from bench.models import MODELS, _data


# --- inside each MPI process --------------------------------------------------------------------
def _worker(model_name, global_batch, samples, epochs, independent=False):
    import pykern
    from pykern import distribution as dist
    d = dist.DataParallel()
    if independent:  # each process trains alone on its share of the samples
        global_batch //= d.num_processes
        samples //= d.num_processes
    else:
        dist.set_distribution(d)
    spec = MODELS[model_name]
    x, y = _data(spec, samples)
    pykern.utils.set_random_seed(0)
    m = pykern.Sequential(spec["layers"](pykern.layers))
    m.compile(optimizer=spec["optimizer"], loss=spec["loss"])
    m.fit(x, y, batch_size=global_batch, epochs=1, verbose=0)  # warm-up
    replica = m._compiled.replica
    base = dict(replica.stats) if replica else None
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        m.fit(x, y, batch_size=global_batch, epochs=1, verbose=0)
        times.append(time.perf_counter() - t0)
    scale = d.num_processes if independent else 1
    out = {"processes": d.num_processes,
           "samples_per_s": scale * samples / statistics.median(times),
           "step_s": statistics.median(times) / -(-samples // global_batch)}
    if replica:
        s = replica.stats
        steps = s["steps"] - base["steps"]
        out.update(bytes_per_step=s["bytes_per_step"],
                   allreduce_s_per_step=(s["allreduce_s"] - base["allreduce_s"]) / steps,
                   pack_s_per_step=(s["pack_s"] - base["pack_s"]) / steps)
    if d.process_id == 0:
        print("RESULT " + json.dumps(out), flush=True)


def _allreduce_worker(sizes_bytes, repeats):
    from pykern import distribution as dist
    from pykern.backend import devices
    world = dist.initialize()
    k = devices.CPU.k
    out = {}
    for size in sizes_bytes:
        buf = np.ones(size // 4, np.float32)
        k.allreduce_sum_(buf)
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            k.allreduce_sum_(buf)
            samples.append(time.perf_counter() - t0)
        out[size] = statistics.median(samples)
    if world.rank == 0:
        print("RESULT " + json.dumps(out), flush=True)


# --- the driver ---------------------------------------------------------------------------------
def _mpirun(processes, args):
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
               PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    cmd = ["mpirun", "-n", str(processes), sys.executable, "-m", "bench", "distributed",
           *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _ring_s(p, size_bytes, latency_s, bandwidth):
    return 2 * (p - 1) / p * size_bytes / bandwidth + 2 * (p - 1) * latency_s


def _bench_model(name, args):
    spec = MODELS[name]
    batch, samples = spec["batch"], args.samples or spec["samples"]
    runs = [("1 process", 1, batch, []), ("2 processes, same global batch", 2, batch, []),
            ("2 processes, 2x global batch", 2, 2 * batch, []),
            ("2 independent processes (baseline)", 2, batch, ["independent"])]
    results = []
    for label, p, gb, extra in runs:
        r = _mpirun(p, ["--worker", name, str(gb), str(samples), str(args.epochs), *extra])
        results.append(dict(r, run=label, global_batch=gb))
    one = results[0]["samples_per_s"]
    rows = []
    for r in results:
        r["speedup"] = r["samples_per_s"] / one
        r["efficiency"] = r["speedup"] / r["processes"]
        comm = ""
        if "bytes_per_step" in r:
            spent = r["allreduce_s_per_step"] + r["pack_s_per_step"]
            comm = f"{r['bytes_per_step'] / 1e6:.3f} MB, {r['allreduce_s_per_step'] * 1e3:.2f} " \
                   f"ms + {r['pack_s_per_step'] * 1e3:.2f} ms pack " \
                   f"({100 * spent / r['step_s']:.0f}% of the step)"
        rows.append([r["run"], r["global_batch"], f"{r['samples_per_s']:,.0f}",
                     f"{r['step_s'] * 1e3:.1f}", f"{r['speedup']:.2f}x",
                     f"{100 * r['efficiency']:.0f}%", comm])
    print(f"\n{name}: {samples} samples, {args.epochs} timed epochs, 1 thread per process")
    print_table(["run", "global batch", "samples/s", "ms/step", "speedup", "efficiency",
                 "allreduce per step"], rows)
    return {"model": name, "samples": samples, "results": results}


def _ring_report(models):
    cnn = next((m for m in models if m["model"] == "mnist_cnn"), models[0])
    size = cnn["results"][1]["bytes_per_step"]
    times = _mpirun(2, ["--allreduce", "8", str(size)])
    small, big = times["8"], times[str(size)]
    latency = small / 2  # 2(p-1) = 2 latency terms at p = 2
    bandwidth = size / max(big - 2 * latency, 1e-9)  # 2(p-1)/p = 1 at p = 2
    print(f"\nallreduce between 2 processes: 8 B in {small * 1e6:.1f} us, {size / 1e6:.2f} MB "
          f"in {big * 1e3:.2f} ms -> latency {latency * 1e6:.1f} us, bandwidth "
          f"{bandwidth / 1e9:.2f} GB/s")
    report = {"latency_s": latency, "bandwidth_bytes_per_s": bandwidth, "predicted": []}
    for m in models:
        r1, weak = m["results"][0], m["results"][2]
        b, pack = weak["bytes_per_step"], weak["pack_s_per_step"]
        for p in (8, 64):
            t = _ring_s(p, b, latency, bandwidth)
            e = r1["step_s"] / (r1["step_s"] + t + pack)
            report["predicted"].append({"model": m["model"], "processes": p, "comm_s": t,
                                        "pack_s": pack, "efficiency": e})
            print(f"{m['model']:10s} p={p:2d}: T = 2*{p - 1}/{p} * {b / 1e6:.3f} MB / "
                  f"{bandwidth / 1e9:.2f} GB/s + 2*{p - 1} * {latency * 1e6:.1f} us = "
                  f"{t * 1e3:.2f} ms; E = {r1['step_s'] * 1e3:.1f} / ({r1['step_s'] * 1e3:.1f} "
                  f"+ {t * 1e3:.2f} + {pack * 1e3:.2f} pack) = {100 * e:.1f}%")
    return report


def main(argv):
    if argv and argv[0] == "--worker":
        return _worker(argv[1], int(argv[2]), int(argv[3]), int(argv[4]),
                       independent=argv[5:] == ["independent"])
    if argv and argv[0] == "--allreduce":
        return _allreduce_worker([int(a) for a in argv[1:]], repeats=30)
    p = argparse.ArgumentParser(prog="python -m bench distributed",
                                description=__doc__.split("\n")[0])
    p.add_argument("--model", nargs="*", default=["dense", "mnist_cnn"], choices=sorted(MODELS))
    p.add_argument("--samples", type=int, default=None, help="default: per model")
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (median)")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)
    if not shutil.which("mpirun"):
        print("mpirun not found: apt-get install openmpi-bin libopenmpi-dev; "
              "pip install pykern[distributed]", file=sys.stderr)
        return 2
    models = [_bench_model(name, args) for name in args.model]
    ring = _ring_report(models)
    if args.json:
        write_json(args.json, {"benchmark": "distributed", "machine": machine_info(),
                               "models": models, "ring": ring})
    return 0
