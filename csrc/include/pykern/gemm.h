// SGEMM: the kernel contract.
//
//   C (M,N) = act(alpha * op(A) @ op(B) + beta * C + bias)
//
// Row-major throughout. op(A) is (M,K): A is stored (M,K) with row stride lda,
// or (K,M) when trans_a. op(B) is (K,N): B is stored (K,N) with row stride ldb,
// or (N,K) when trans_b. C is (M,N) with row stride ldc. bias is (N,) or null.
// beta == 0 never reads C (it may hold NaN or Inf). K == 0 gives
// act(beta * C + bias). The result is bitwise identical for any thread count
// and across runs: the path and the K blocking depend on (M,N,K) alone.
#pragma once
#include <cstdint>

#include "pykern/activation.h"

namespace pykern {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.0f;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float beta = 0.0f;
  float* C = nullptr;
  int64_t ldc = 0;
  const float* bias = nullptr;
  Act act = Act::none;
};

// Throws std::invalid_argument on inconsistent sizes or leading dimensions.
void validate_gemm(const GemmArgs& g);

// The fast path: packed BLIS-style or direct, for the current ISA.
void sgemm(const GemmArgs& g);

// The same product on the calling thread alone, bitwise equal to sgemm's: for
// kernels that split their own work over threads and call it from inside
// their parallel region (sgemm itself must never be called there).
void sgemm_serial(const GemmArgs& g);

// Whether sgemm computes each value of g's C as one chain over all of K (no K
// blocking, so the partial sums never leave the registers). When it does, any
// split of C's columns into separate sgemm_serial calls gives the same bits:
// kernels that split a product over their own threads check it first.
bool sgemm_single_k_chain(const GemmArgs& g);

// The plain, obviously-correct oracle (double accumulation, one thread).
void sgemm_ref(const GemmArgs& g);

}  // namespace pykern
