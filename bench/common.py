"""Timing helpers shared by the benchmarks: warm-up, repeats, median."""
import json
import os
import platform
import statistics
import time


def median_time_s(fn, min_time_s=0.05, repeats=7):
    """Median over `repeats` of the mean time of one call of `fn`, after a warm-up.

    Each repeat runs enough calls to last about `min_time_s`, so that timer
    resolution and call overhead do not dominate tiny operations.
    """
    return statistics.median(time_samples_s(fn, min_time_s, repeats))


def time_samples_s(fn, min_time_s=0.05, repeats=7):
    """The `repeats` mean times of one call of `fn` that median_time_s takes the median of."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(min_time_s / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls)
    return samples


def machine_info():
    info = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def thread_counts(spec):
    """The thread counts of a --threads "1,2" option; by default 1 and all cores."""
    return [int(t) for t in spec.split(",")] if spec else sorted({1, os.cpu_count() or 1})


def save_runs(path, benchmark, runs):
    """Writes a benchmark's runs with the machine's description, if a path was given."""
    if path:
        write_json(path, {"benchmark": benchmark, "machine": machine_info(), "runs": runs})
        print(f"\nwrote {path}")


def write_json(path, payload):
    """Writes `payload` to `path` atomically (temporary name, then rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def print_table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).rjust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))


def require_gpu(benchmark):
    """The pykern CUDA device's description; exits with a clear message when pykern has
    no CUDA build or no GPU is visible (a --device cuda run must not fall back)."""
    import pykern
    if not pykern.config.cuda_available():
        raise SystemExit(f"bench {benchmark} --device cuda: no CUDA device (pykern._cuda "
                         f"{'is built but sees no GPU' if pykern.config._cuda_module() else 'is not built'}"
                         f"); run it on a GPU machine")
    info = pykern.config.get_device_details("cuda:0")
    return f"{info['device_name']} (sm_{''.join(map(str, info['compute_capability']))})"


def torch_cuda():
    """PyTorch configured for an exact fp32 comparison on the GPU (TF32 off), or None
    when PyTorch or its CUDA is missing."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch
