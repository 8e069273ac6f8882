"""The CUDA kernel table's sequence and training kernels: the LSTM/GRU/SimpleRNN
sequence forward and backward, embedding gather and its gradient, and the optimizer
plan (mixed into `cuda.CudaKernels`; same names, signatures and semantics as
`cpu.CpuKernels`, on `pykern._cuda.Array` storage)."""


class CudaSeqKernels:
    """Filled by the sequence kernel family (issue #11)."""
