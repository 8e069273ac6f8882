// AVX-512 SGEMM micro-kernel: an 8x32 register tile (16 zmm accumulators, 2 zmm
// of B, one broadcast of A). Eight rows keep a row-major A's row pointers in
// the general registers; 16 independent FMA chains cover the FMA latency.
// Compiled with -mavx512f/dq/bw/vl only; reached only when cpu_isa() == avx512.
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/kernels/unroll.h"

namespace pykern::cpu::avx512 {
namespace {

#define PK_VEC_FLOATS 16
#include "cpu/kernels/activation_body.h"
#undef PK_VEC_FLOATS

constexpr int MR = 8, NR = 32;

inline __mmask16 lane_mask(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n > 0 ? n : 0)) - 1u);
}

// Stores rows r < m of the accumulator tile with the contract's epilogue.
template <int M, int NV>
__attribute__((always_inline)) inline void store_tile(const __m512 (&acc)[M][NV], float* C,
                                                      int64_t ldc, int m, int n, float alpha,
                                                      float beta, const float* bias) {
  __mmask16 mask[NV];
  __m512 vbias[NV];
  unroll<NV>([&](auto v) {
    mask[v] = lane_mask(n - 16 * v);
    vbias[v] = bias ? _mm512_maskz_loadu_ps(mask[v], bias + 16 * v) : _mm512_setzero_ps();
  });
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  unroll<M>([&](auto r) {
    if (r >= m) return;
    float* c = C + r * ldc;
    unroll<NV>([&](auto v) {
      __m512 x = alpha == 1.0f ? acc[r][v] : _mm512_mul_ps(acc[r][v], va);
      if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c + 16 * v), x);
      x = _mm512_add_ps(x, vbias[v]);
      _mm512_mask_storeu_ps(c + 16 * v, mask[v], x);
    });
  });
}

template <int M, int NV>
void tile(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t ldb,
                 float* C, int64_t ldc, int n, float alpha, float beta, const float* bias) {
  __m512 acc[M][NV];
  __mmask16 mask[NV];
  unroll<M>([&](auto r) { unroll<NV>([&](auto v) { acc[r][v] = _mm512_setzero_ps(); }); });
  unroll<NV>([&](auto v) { mask[v] = lane_mask(n - 16 * v); });
  // One step: acc += op(A)(:, k) x op(B)(k, :), with a(r) giving op(A)(r, k).
  auto step = [&](int64_t k, auto a) __attribute__((always_inline)) {
    __m512 b[NV];
    unroll<NV>([&](auto v) { b[v] = _mm512_maskz_loadu_ps(mask[v], B + k * ldb + 16 * v); });
    unroll<M>([&](auto r) {
      const __m512 x = _mm512_set1_ps(a(r));
      unroll<NV>([&](auto v) { acc[r][v] = _mm512_fmadd_ps(x, b[v], acc[r][v]); });
    });
  };
  if (csa == 1) {  // op(A) rows are contiguous: one pointer per row
    const float* a[M];
    unroll<M>([&](auto r) { a[r] = A + r * rsa; });
#pragma GCC unroll 2
    for (int64_t k = 0; k < K; ++k) step(k, [&](auto r) { return a[r][k]; });
  } else {  // rsa == 1: op(A) columns are contiguous, fixed offsets from one pointer
#pragma GCC unroll 2
    for (int64_t k = 0; k < K; ++k) {
      const float* ak = A + k * csa;
      step(k, [&](auto r) { return ak[r]; });
    }
  }
  store_tile<M, NV>(acc, C, ldc, M, n, alpha, beta, bias);
}

template <int NV>
void tile_rows(int m, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
                 int64_t ldb, float* C, int64_t ldc, int n, float alpha, float beta,
                 const float* bias) {
#define PK_ROWS(M) \
  case M: return tile<M, NV>(K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  switch (m) {
    PK_ROWS(1) PK_ROWS(2) PK_ROWS(3) PK_ROWS(4) PK_ROWS(5) PK_ROWS(6) PK_ROWS(7) PK_ROWS(8)
    default: return;
  }
#undef PK_ROWS
}

void micro_8x32(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t ldb,
                 float* C, int64_t ldc, int m, int n, float alpha, float beta, const float* bias) {
  if (n > 16)
    tile_rows<2>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  else
    tile_rows<1>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
}

}  // namespace

const IsaKernels& kernels() {
  static const IsaKernels k{MR, NR, micro_8x32, act_row_impl, act_grad_row_impl};
  return k;
}

}  // namespace pykern::cpu::avx512
