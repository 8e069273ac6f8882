"""Serving: requests/s and p50/p99 latency of `python -m pykern.serve` at 1, 8 and 32 clients.

Models (`--model`, default both):
  mlp        the seed MLP: Input(784) -> Dense(512, relu) -> Dropout(0.2) -> Dense(10, softmax)
  mnist_cnn  bench/models.py's MNIST CNN (two Conv2D, MaxPooling2D, Dense 128, Dense 10)

Each model is saved to a .keras file and served by `python -m pykern.serve` in its
own process (the server as users start it); the clients are threads of this
process, each with one keep-alive HTTP connection, sending TF Serving row-format
requests of one instance ({"instances": [x]}, bodies encoded beforehand so that
the clients spend as little CPU as they can) back to back for --seconds after a
warm-up, each number of clients against a fresh server. Reported per model,
batching setting and number of clients: requests/s, the median and 99th-percentile
latency of one request as its client sees it, the mean rows per model call (the
batches the server formed, from the line it prints on exit; warm-up included),
and the model's own time for one call on 1 and on 32 rows (predict_on_batch, in
this process) for scale. Clients and server share the machine's cores.

    python -m bench serve [--model mlp mnist_cnn] [--clients 1 8 32] [--seconds 3]
                          [--batch-timeout-ms 0 2] [--max-batch-size 32] [--json PATH]
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from bench.common import machine_info, median_time_s, print_table, write_json
from bench.models import MODELS


def _mlp_layers(L):
    return [L.Input((784,)), L.Dense(512, activation="relu"), L.Dropout(0.2),
            L.Dense(10, activation="softmax")]


SERVED = {"mlp": (_mlp_layers, (784,)),
          "mnist_cnn": (MODELS["mnist_cnn"]["layers"], MODELS["mnist_cnn"]["shape"])}


def _model(name):
    import pykern
    pykern.utils.set_random_seed(0)
    return pykern.Sequential(SERVED[name][0](pykern.layers))


def _model_call_ms(model, shape):
    rows = {}
    for n in (1, 32):
        x = np.random.default_rng(n).standard_normal((n, *shape)).astype(np.float32)
        rows[n] = median_time_s(lambda: model.predict_on_batch(x), repeats=5) * 1e3
    return rows


class _Server:
    def __init__(self, path, options):
        self.proc = subprocess.Popen([sys.executable, "-m", "pykern.serve", path, "--port", "0",
                                      "--name", "m", *options], stderr=subprocess.PIPE,
                                     text=True)
        line = ""
        while "pykern.serve: model" not in line:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"the server did not start (exit code {self.proc.wait()})")
        self.port = int(line.rsplit(":", 1)[1].split("/")[0])
        self._rest = []
        self._drain = threading.Thread(target=lambda: self._rest.extend(self.proc.stderr))
        self._drain.start()

    def stop(self):
        """Stops the server; returns the mean rows per model call it reports on exit."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._drain.join()
        summary = [line for line in self._rest if "rows per call" in line]
        return float(summary[-1].split(",")[-1].split()[0]) if summary else float("nan")


def _client(port, bodies, stop_at, latencies_s, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    i = 0
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/models/m:predict", bodies[i % len(bodies)], headers)
            answer = conn.getresponse()
            answer.read()
            status = answer.status
        except OSError as e:  # counted, and the client carries on with a new connection
            conn.close()
            status = type(e).__name__
        latencies_s.append(time.perf_counter() - t0)
        if status != 200:
            errors.append(status)
        i += 1
    conn.close()


def _load(port, shape, clients, seconds):
    """(requests/s, p50 ms, p99 ms, errors) with `clients` threads for `seconds`."""
    rng = np.random.default_rng(clients)
    bodies = [json.dumps({"instances": rng.standard_normal((1, *shape)).astype(
        np.float32).tolist()}).encode() for _ in range(32)]
    for warm_up in (True, False):
        stop_at = time.perf_counter() + (0.5 if warm_up else seconds)
        latencies = [[] for _ in range(clients)]
        errors = []
        threads = [threading.Thread(target=_client, args=(port, bodies, stop_at, latencies[c],
                                                          errors)) for c in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    flat = sorted(x for per in latencies for x in per)
    p = lambda q: flat[min(len(flat) - 1, int(q * len(flat)))] * 1e3  # noqa: E731
    return len(flat) / elapsed, statistics.median(flat) * 1e3, p(0.99), len(errors)


def main(argv):
    ap = argparse.ArgumentParser(prog="python -m bench serve")
    ap.add_argument("--model", nargs="+", default=list(SERVED), choices=list(SERVED))
    ap.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch-timeout-ms", nargs="+", type=float, default=[0.0])
    ap.add_argument("--max-batch-size", type=int, default=None)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model:
            model = _model(name)
            path = os.path.join(tmp, f"{name}.keras")
            model.save(path)
            call_ms = _model_call_ms(model, SERVED[name][1])
            for timeout in args.batch_timeout_ms:
                options = ["--batch-timeout-ms", str(timeout)]
                if args.max_batch_size:
                    options += ["--max-batch-size", str(args.max_batch_size)]
                for clients in args.clients:  # a fresh server: its exit line is this run's
                    server = _Server(path, options)
                    try:
                        rps, p50, p99, errors = _load(server.port, SERVED[name][1], clients,
                                                      args.seconds)
                    finally:
                        batch = server.stop()
                    runs.append(dict(model=name, batch_timeout_ms=timeout, clients=clients,
                                     requests_per_s=rps, p50_ms=p50, p99_ms=p99, errors=errors,
                                     rows_per_call=batch, model_call_ms=call_ms))
                    rows.append([name, f"{timeout:g}", clients, f"{rps:.0f}", f"{p50:.2f}",
                                 f"{p99:.2f}", errors, f"{batch:.1f}", f"{call_ms[1]:.2f}",
                                 f"{call_ms[32]:.2f}"])
    print_table(["model", "timeout ms", "clients", "req/s", "p50 ms", "p99 ms", "errors",
                 "rows/call", "call 1 row ms", "call 32 rows ms"], rows)
    if args.json:
        write_json(args.json, {"benchmark": "serve", "machine": machine_info(), "runs": runs})
    return 0
