// SGEMM on the GPU, with the contract of pykern/gemm.h:
//   C (M,N) = act(alpha * op(A) @ op(B) + beta * C + bias), row-major,
//   beta == 0 never reads C. fp32 FMAs throughout (no TF32).
// Plain C++ (no CUDA headers) so the bindings can include it.
#pragma once
#include "pykern/gemm.h"

namespace pykern::cuda {

// g's pointers are device pointers; runs on the legacy default stream and
// returns without waiting for the kernel. M, N, K must be below 2^31.
void sgemm_device(const GemmArgs& g);

// g's pointers are host pointers (the CPU contract): copies A, B, bias (and C
// when beta != 0) to the device, runs sgemm_device and copies C back.
// Throws std::runtime_error when there is no device or a CUDA call fails.
void sgemm_host(const GemmArgs& g);

}  // namespace pykern::cuda
