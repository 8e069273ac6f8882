"""The CUDA kernel table's dense-network kernels: GEMM/matmul, convolution, depthwise,
pooling, batch and layer normalization (mixed into `cuda.CudaKernels`; same names,
signatures and semantics as `cpu.CpuKernels`, on `pykern._cuda.Array` storage)."""


class CudaNNKernels:
    """Filled by the dense-network kernel family (issue #11)."""
