"""Helpers of the GPU benchmarks (--device cuda): timing that waits for the device, and
PyTorch's TF32 switch (bench.common.torch_cuda gives PyTorch with TF32 off)."""
import statistics
import time


def set_torch_tf32(torch, enabled):
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def gpu_time_s(fn, sync, min_time_s=0.1, repeats=7):
    """(median, samples): seconds per call of fn, each sample a batch of back-to-back
    calls lasting about min_time_s, from an idle device to its last kernel's end (so
    large kernels are timed without a host round trip per call)."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    calls = max(1, int(min_time_s / one))
    samples = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples), samples
