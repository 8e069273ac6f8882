// SGEMM on the GPU, with the contract of pykern/gemm.h:
//   C (M,N) = act(alpha * op(A) @ op(B) + beta * C + bias), row-major,
//   beta == 0 never reads C. fp32 FMAs throughout unless tf32 is asked for.
// Plain C++ (no CUDA headers) so the bindings can include it.
//
// Results are bitwise repeatable: the tiling and the split-K factor (partial
// sums over slices of K reduced in a fixed order, no atomics) depend on the
// shape alone. tf32: the products run on TF32 tensor cores (operands rounded
// to 10 mantissa bits, fp32 accumulation): ~1e-3 relative error, opt-in only.
#pragma once
#include <cstdint>

#include "pykern/gemm.h"

namespace pykern::cuda {

// Batch axes of a batched GEMM: entry z (row-major over dims) multiplies
// A + sum(i_d * a_stride[d]) by B + sum(i_d * b_stride[d]) into C + z*c_step;
// a stride of 0 broadcasts an operand along that axis. ndim == 0: one product.
constexpr int kGemmMaxBatchDims = 6;
struct GemmBatch {
  int ndim = 0;
  int64_t dims[kGemmMaxBatchDims] = {};
  int64_t a_stride[kGemmMaxBatchDims] = {};
  int64_t b_stride[kGemmMaxBatchDims] = {};
  int64_t c_step = 0;
};

// g's pointers are device pointers; runs on the legacy default stream and
// returns without waiting for the kernel. M, N, K must be below 2^31 - 128.
// Throws std::invalid_argument on bad sizes (before any launch).
void sgemm_device(const GemmArgs& g, bool tf32 = false);
void sgemm_batched_device(const GemmArgs& g, const GemmBatch& batch, bool tf32 = false);

// g's pointers are host pointers (the CPU contract): copies A, B, bias (and C
// when beta != 0) to the device, runs sgemm_device and copies C back.
// Throws std::runtime_error when there is no device or a CUDA call fails.
void sgemm_host(const GemmArgs& g);

// y[i] = act(x[i]) for i < n, any activation of pykern/activation.h (x == y allowed).
void activation_device(const float* x, float* y, int64_t n, Act act);

}  // namespace pykern::cuda
