"""Before/after: `bench overhead` and `bench models` for this checkout and another one, side by side.

For a change that must cost nothing that shows (the device seam of issue 8): the
other checkout (an older commit, built in place) and this one run the same two
benchmarks in alternating child processes, each with its own sources on
PYTHONPATH, `--rounds` times; the table gives the medians and the ratio
this / other (above 1: this checkout is faster for throughput, below 1 for
overhead means less overhead).

    git worktree add ../base <commit> && (cd ../base && cmake ... && cmake --build build)
    PYTHONPATH=. python -m bench seam --other ../base [--rounds 3] [--json PATH]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench.common import machine_info, print_table, write_json


def _run(root, bench, extra):
    """One benchmark run in `root` (its bench/ and pykern/); its JSON payload."""
    with open(os.path.join(root, "bench", f"{bench}.py")) as f:
        if "--model" not in f.read():  # an older bench models: the dense model only
            extra = [a for a in extra if a not in ("--model", "dense")]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        env = dict(os.environ, PYTHONPATH=os.path.abspath(root))
        subprocess.run([sys.executable, "-m", "bench", bench, "--json", out, *extra],
                       cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def _overhead(payload):
    return {v["variant"]: v["overhead_per_op_us"] for v in payload["variants"]}


def _models(payload):
    out = {}
    for r in payload["results"]:
        if r["framework"].startswith("pykern"):
            out[f"{r['framework']} train samples/s"] = r["train_samples_per_s"]
            out[f"{r['framework']} predict samples/s"] = r["predict_samples_per_s"]
    return out


def main(argv):
    p = argparse.ArgumentParser(prog="python -m bench seam", description=__doc__.split("\n")[0])
    p.add_argument("--other", required=True, help="root of the other (older) checkout")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--samples", type=int, default=16384)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    roots = {"other": args.other, "this": "."}
    figures = {name: {} for name in roots}
    for _ in range(args.rounds):
        for name, root in roots.items():
            runs = ((_overhead, "overhead", []),
                    (_models, "models", ["--model", "dense", "--samples", str(args.samples),
                                         "--repeats", "3",
                                         "--skip", "keras", "torch"]))
            for extract, bench, extra in runs:
                for key, value in extract(_run(root, bench, extra)).items():
                    figures[name].setdefault(key, []).append(value)
    rows, payload = [], []
    for key in figures["this"]:
        this = statistics.median(figures["this"][key])
        other = statistics.median(figures["other"].get(key, [float("nan")]))
        unit = "us/op" if "samples" not in key else ""
        rows.append([key + (f" ({unit})" if unit else ""), f"{other:,.2f}", f"{this:,.2f}",
                     f"{this / other:.3f}"])
        payload.append({"figure": key, "other": other, "this": this})
    print(f"median of {args.rounds} alternating rounds; other = {args.other}")
    print_table(["figure", "other", "this", "this/other"], rows)
    if args.json:
        write_json(args.json, {"benchmark": "seam", "machine": machine_info(),
                               "rounds": args.rounds, "results": payload})
    return 0
