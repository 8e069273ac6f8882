// WMMA on whole fragments: every thread of a warp holds the full tile (the
// hardware spreads it over the lanes), so loads, stores and the product give
// the same values; TF32 rounding is round-to-nearest (ties away) to 10 bits.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];  // (i, j) at x[i * cols + j]
};

template <class F>
inline void fill_fragment(F& f, float v) {
  for (float& e : f.x) e = v;
}

template <class Use, int M, int N, int K, class T, class Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ldm) {
  using Fr = fragment<Use, M, N, K, T, Layout>;
  for (int i = 0; i < Fr::rows; ++i)
    for (int j = 0; j < Fr::cols; ++j)
      f.x[i * Fr::cols + j] =
          std::is_same_v<Layout, col_major> ? p[j * ldm + i] : p[i * ldm + j];
}

template <class A, class B, class C>
inline void mma_sync(C& d, const A& a, const B& b, const C& c) {
  C out;
  for (int i = 0; i < C::rows; ++i)
    for (int j = 0; j < C::cols; ++j) {
      float s = c.x[i * C::cols + j];
      for (int k = 0; k < A::cols; ++k) s = std::fmaf(a.x[i * A::cols + k], b.x[k * B::cols + j], s);
      out.x[i * C::cols + j] = s;
    }
  d = out;
}

template <class C>
inline void store_matrix_sync(float* p, const C& c, unsigned ldm, layout_t layout) {
  for (int i = 0; i < C::rows; ++i)
    for (int j = 0; j < C::cols; ++j)
      (layout == mem_row_major ? p[i * ldm + j] : p[j * ldm + i]) = c.x[i * C::cols + j];
}

inline float __float_to_tf32(float f) {
  if (!std::isfinite(f)) return f;
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x1000u) & ~0x1fffu;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace nvcuda::wmma
