"""Runtime configuration: instruction set, threads and devices.

`PYKERN_MAX_ISA=avx512|avx2|scalar` caps the instruction set (read once, at the
first kernel call); `OMP_NUM_THREADS` sets the initial thread count.
"""
from pykern import _cpu

__all__ = ["cpu_isa", "hardware_isa", "peak_gflops", "num_threads", "set_num_threads", "get_num_threads",
           "list_devices", "get_device_details", "cuda_available", "set_device", "get_device",
           "set_tf32", "get_tf32"]


def cpu_isa():
    """The instruction set the CPU kernels use: 'avx512', 'avx2' or 'scalar'."""
    return _cpu.cpu_isa()


def hardware_isa():
    """The best instruction set this CPU and OS support, ignoring PYKERN_MAX_ISA."""
    return _cpu.hardware_isa()


def peak_gflops(seconds=0.2, threads=None):
    """The CPU's fp32 peak measured now: GFLOP/s of FMA loops on `threads` threads
    (default: the kernels' thread count) for about `seconds`."""
    return float(_cpu.fma_peak_gflops(seconds, threads or _cpu.num_threads()))


def num_threads():
    """Threads the CPU kernels use."""
    return _cpu.num_threads()


get_num_threads = num_threads


def set_num_threads(n):
    """Sets the threads the CPU kernels use (default: OMP_NUM_THREADS or all cores)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    _cpu.set_num_threads(n)


def _cuda_module():
    try:
        from pykern import _cuda
    except ImportError:
        return None
    return _cuda


def cuda_available():
    """True when pykern was built with CUDA and a GPU is visible."""
    cuda = _cuda_module()
    return cuda is not None and cuda.device_count() > 0


def list_devices(details=False):
    """The devices tensors can live on: 'cpu', then 'cuda:0', 'cuda:1', ... With
    details=True, one dict per device (get_device_details)."""
    cuda = _cuda_module()
    count = cuda.device_count() if cuda is not None else 0
    names = ["cpu"] + [f"cuda:{i}" for i in range(count)]
    return [get_device_details(n) for n in names] if details else names


def get_device_details(name):
    """What pykern knows of device `name`: {'name', 'type'} plus, for the CPU, 'isa' and
    'threads'; for a GPU 'device_name' (e.g. 'NVIDIA H100 80GB HBM3'), 'memory_bytes',
    'compute_capability' (major, minor) and 'multiprocessors'."""
    from pykern.backend import devices
    d = devices.get(name)
    if d.type == "cuda":
        info = _cuda_module().device_info(d.index)
        return {"name": d.name, "type": "cuda", "device_name": info["name"],
                "memory_bytes": info["total_memory_bytes"],
                "compute_capability": tuple(info["compute_capability"]),
                "multiprocessors": info["multiprocessors"]}
    if d.type == "cpu":
        return {"name": "cpu", "type": "cpu", "isa": cpu_isa(), "threads": num_threads()}
    return {"name": d.name, "type": d.type}


def set_device(name):
    """Sets the default device of new tensors and variables ('cpu', 'cuda', 'cuda:N';
    'meta' for shapes only); `pykern.device(name)` scopes it to a block instead. The
    default is the first GPU when one is visible (PYKERN_DEVICE overrides it)."""
    from pykern.backend import devices
    devices.set_device(name)


def get_device():
    """The name of the device new tensors and variables go to here."""
    from pykern.backend import devices
    return devices.current().name


# TF32 tensor cores for the CUDA GEMM/matmul (process-wide; read by the CUDA table at
# each call). Off by default: results are exact float32 unless a program opts in.
_tf32 = [False]


def set_tf32(enabled):
    """Lets the CUDA GEMM and matmul kernels use TF32 tensor cores (operands rounded to
    10 mantissa bits, float32 accumulation: about 1e-3 relative error, several times
    faster). Default False: exact float32. The CPU kernels are unaffected."""
    if not isinstance(enabled, bool):
        raise TypeError(f"set_tf32: enabled must be a bool, got {enabled!r}")
    _tf32[0] = enabled


def get_tf32():
    """Whether the CUDA GEMM and matmul kernels may use TF32 tensor cores."""
    return _tf32[0]
