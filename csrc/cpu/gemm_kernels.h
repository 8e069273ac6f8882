// The slots one ISA fills for the SGEMM driver (cpu/gemm.cpp). Block sizes
// live in the driver's table; each kernels/<isa>/ file supplies only these.
#pragma once
#include <cstdint>

#include "pykern/activation.h"
#include "pykern/isa.h"

namespace pykern::cpu {

// The micro-kernel, computing one m x n tile of C (m <= MR, n <= NR):
//   acc(r, c) = sum over k < K of op(A)(r, k) * op(B)(k, c)
//   C = alpha*acc + beta*C + bias[c]     (beta == 0: C is not read;
//                                          bias == null: no bias)
// op(A) is read where it lies: op(A)(r,k) = A[r*rsa + k*csa], and one of rsa,
// csa is 1 (op(A) is A or its transpose). A row-major op(A) takes one pointer
// per row, so MR stays small enough for the general registers. op(B) rows are
// loaded as vectors from B[k*ldb + c], c < n (columns >= n are never read):
// rows of the caller's B for small products, or an NR-wide packed panel
// (ldb == NR) for large ones. A is never packed: it would cost one scalar
// store per element against N/16 vector FMAs per element (13% at N = 128,
// measured 58 vs 81 GFLOP/s on 128x9216x128).
using MicroKernel = void (*)(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
                             int64_t ldb, float* C, int64_t ldc, int m, int n, float alpha,
                             float beta, const float* bias);

using ActRow = void (*)(float* y, int64_t n, Act act);
// g[i] *= act'(x[i]) for i < n, where y[i] = act(x[i]).
using ActGradRow = void (*)(const float* x, const float* y, float* g, int64_t n, Act act);

struct IsaKernels {
  int mr, nr;
  MicroKernel micro;
  ActRow act_row;
  ActGradRow act_grad_row;
};

namespace avx512 { const IsaKernels& kernels(); }
namespace avx2 { const IsaKernels& kernels(); }
namespace generic { const IsaKernels& kernels(); }

// The slots of one ISA (cpu/gemm.cpp): kernels_for(cpu_isa()) for the current one.
const IsaKernels& kernels_for(Isa isa);

}  // namespace pykern::cpu
