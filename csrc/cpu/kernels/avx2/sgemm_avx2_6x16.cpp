// AVX2+FMA SGEMM micro-kernel: a 6x16 register tile (12 ymm accumulators, 2 ymm
// of B, one broadcast: the BLIS haswell shape, kernels.md 1.2).
// Compiled with -mavx2 -mfma only; reached only when cpu_isa() >= avx2.
#include <immintrin.h>

#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/kernels/unroll.h"

namespace pykern::cpu::avx2 {
namespace {

#define PK_VEC_FLOATS 8
#include "cpu/kernels/activation_body.h"
#undef PK_VEC_FLOATS

constexpr int MR = 6, NR = 16;

// Lane mask with the first n of 8 lanes set (sign bit on).
inline __m256i lane_mask(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

template <int M, int NV>
__attribute__((always_inline)) inline void store_tile(const __m256 (&acc)[M][NV], float* C,
                                                      int64_t ldc, int m, int n, float alpha,
                                                      float beta, const float* bias) {
  __m256i mask[NV];
  bool full[NV];
  __m256 vbias[NV];
  unroll<NV>([&](auto v) {
    mask[v] = lane_mask(n - 8 * v);
    full[v] = n >= 8 * (v + 1);
    vbias[v] = bias ? _mm256_maskload_ps(bias + 8 * v, mask[v]) : _mm256_setzero_ps();
  });
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  unroll<M>([&](auto r) {
    if (r >= m) return;
    float* c = C + r * ldc;
    unroll<NV>([&](auto v) {
      __m256 x = alpha == 1.0f ? acc[r][v] : _mm256_mul_ps(acc[r][v], va);
      if (beta != 0.0f) {
        const __m256 old =
            full[v] ? _mm256_loadu_ps(c + 8 * v) : _mm256_maskload_ps(c + 8 * v, mask[v]);
        x = _mm256_fmadd_ps(vb, old, x);
      }
      x = _mm256_add_ps(x, vbias[v]);
      if (full[v])
        _mm256_storeu_ps(c + 8 * v, x);
      else
        _mm256_maskstore_ps(c + 8 * v, mask[v], x);
    });
  });
}

// FULL: all n columns of both vectors are inside B, so plain loads; otherwise
// masked loads (slower on AMD, so kept out of the full-width tiles).
template <int M, int NV, bool FULL>
void tile(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t ldb,
          float* C, int64_t ldc, int n, float alpha, float beta, const float* bias) {
  __m256 acc[M][NV];
  __m256i mask[NV];
  unroll<M>([&](auto r) { unroll<NV>([&](auto v) { acc[r][v] = _mm256_setzero_ps(); }); });
  unroll<NV>([&](auto v) { mask[v] = lane_mask(n - 8 * v); });
  // One step: acc += op(A)(:, k) x op(B)(k, :), with a(r) giving &op(A)(r, k).
  auto step = [&](int64_t k, auto a) __attribute__((always_inline)) {
    __m256 b[NV];
    unroll<NV>([&](auto v) {
      b[v] = FULL ? _mm256_loadu_ps(B + k * ldb + 8 * v)
                  : _mm256_maskload_ps(B + k * ldb + 8 * v, mask[v]);
    });
    unroll<M>([&](auto r) {
      const __m256 x = _mm256_broadcast_ss(a(r));
      unroll<NV>([&](auto v) { acc[r][v] = _mm256_fmadd_ps(x, b[v], acc[r][v]); });
    });
  };
  if (csa == 1) {  // op(A) rows are contiguous: one pointer per row
    const float* a[M];
    unroll<M>([&](auto r) { a[r] = A + r * rsa; });
    for (int64_t k = 0; k < K; ++k) step(k, [&](auto r) { return a[r] + k; });
  } else {  // rsa == 1: op(A) columns are contiguous, fixed offsets from one pointer
    for (int64_t k = 0; k < K; ++k) {
      const float* ak = A + k * csa;
      step(k, [&](auto r) { return ak + r; });
    }
  }
  store_tile<M, NV>(acc, C, ldc, M, n, alpha, beta, bias);
}

template <int NV, bool FULL>
void tile_rows(int m, int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B,
               int64_t ldb, float* C, int64_t ldc, int n, float alpha, float beta,
               const float* bias) {
#define PK_ROWS(M) \
  case M: return tile<M, NV, FULL>(K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  switch (m) {
    PK_ROWS(1) PK_ROWS(2) PK_ROWS(3) PK_ROWS(4) PK_ROWS(5) PK_ROWS(6)
    default: return;
  }
#undef PK_ROWS
}

void micro_6x16(int64_t K, const float* A, int64_t rsa, int64_t csa, const float* B, int64_t ldb,
                float* C, int64_t ldc, int m, int n, float alpha, float beta, const float* bias) {
  if (n == 16)
    tile_rows<2, true>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  else if (n > 8)
    tile_rows<2, false>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  else if (n == 8)
    tile_rows<1, true>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
  else
    tile_rows<1, false>(m, K, A, rsa, csa, B, ldb, C, ldc, n, alpha, beta, bias);
}

}  // namespace

const IsaKernels& kernels() {
  static const IsaKernels k{MR, NR, micro_6x16, act_row_impl, act_grad_row_impl};
  return k;
}

}  // namespace pykern::cpu::avx2
