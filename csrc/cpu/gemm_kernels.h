// The slots one ISA fills for the SGEMM driver (cpu/gemm.cpp). Block sizes
// live in the driver's table; each kernels/<isa>/ file supplies only these.
#pragma once
#include <cstdint>

#include "pykern/activation.h"

namespace pykern::cpu {

// The micro-kernel. Ap is an MR-row micro-panel of op(A), stored k-major
// (Ap[k*MR + r]; rows >= m may hold anything finite). op(B) rows are read
// from B with row stride ldb: B[k*ldb + c] for c < n (columns >= n are never
// read), which serves both a packed NR-wide micro-panel (ldb == NR) and the
// rows of an unpacked B (the direct path for small products). Computes the
// m x n tile (m <= MR, n <= NR) acc = sum over k < kc and stores it to C (row
// stride ldc):
//   C = alpha*acc + beta*C + bias[c]     (beta == 0: C is not read;
//                                          bias == null: no bias)
using MicroKernel = void (*)(int64_t kc, const float* Ap, const float* B, int64_t ldb, float* C,
                             int64_t ldc, int m, int n, float alpha, float beta,
                             const float* bias);

// Direct micro-kernel for small products: op(A) is read in place,
// op(A)(r,k) = A[r*rsa + k*csa] with rsa == 1 or csa == 1 (one of them always
// is: op(A) is A or its transpose), for m <= DMR rows; op(B) as above. Packing
// A would cost one store per element against N/16 vector FMAs per element:
// 25% extra work at N = 64.
using DirectKernel = void (*)(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
                              int64_t ldb, float* C, int64_t ldc, int m, int n, float alpha,
                              float beta, const float* bias);

using ActRow = void (*)(float* y, int64_t n, Act act);

struct IsaKernels {
  int mr, nr;
  MicroKernel micro;
  int dmr;  // rows per direct tile (NR columns as above)
  DirectKernel direct;
  ActRow act_row;
};

namespace avx512 { const IsaKernels& kernels(); }
namespace avx2 { const IsaKernels& kernels(); }
namespace generic { const IsaKernels& kernels(); }

}  // namespace pykern::cpu
