// Baseline SGEMM micro-kernel in plain C++ (SSE2 at most, from the compiler):
// the path for CPUs without AVX2+FMA and for PYKERN_MAX_ISA=scalar. Accumulates
// in float with separate multiply and add, as the vector kernels' FMA would not
// be available here.
#include <cstring>

#include "cpu/gemm_kernels.h"

namespace pykern::cpu::generic {
namespace {

#define PK_VEC_FLOATS 4
#include "cpu/kernels/activation_body.h"
#undef PK_VEC_FLOATS

constexpr int MR = 4, NR = 16;

void store_tile(const float (&acc)[MR][NR], float* C, int64_t ldc, int m, int n, float alpha,
                float beta, const float* bias) {
  for (int r = 0; r < m; ++r) {
    float* c = C + r * ldc;
    for (int j = 0; j < n; ++j) {
      float x = alpha * acc[r][j];
      if (beta != 0.0f) x += beta * c[j];
      if (bias) x += bias[j];
      c[j] = x;
    }
  }
}

void micro_4x16(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t ldb,
                 float* C, int64_t ldc, int m, int n, float alpha, float beta, const float* bias) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < K; ++k)
    for (int r = 0; r < m; ++r) {
      const float a = A[r * rsa + k * csa];
      for (int j = 0; j < n; ++j) acc[r][j] += a * B[k * ldb + j];
    }
  store_tile(acc, C, ldc, m, n, alpha, beta, bias);
}

}  // namespace

const IsaKernels& kernels() {
  static const IsaKernels k{MR, NR, micro_4x16, act_row_impl, act_grad_row_impl};
  return k;
}

}  // namespace pykern::cpu::generic
