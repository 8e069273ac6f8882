// Convolution forward, backward-data and backward-filter as implicit GEMMs
// (kernels.md 8.3, CUTLASS's fprop/dgrad/wgrad mapping) on the tiled main loop
// of cuda/gemm_tile.cuh: the loaders below gather the virtual im2col matrix
// tile by tile, so it never exists in global memory. Groups are the batch axis
// of the tiled GEMM (entry g shifts every operand to its group's channels).
//
// Loads are float4 where 4 consecutive GEMM-k (or rows) are 4 consecutive
// channels of one pixel: channels per group a multiple of 4 (and 16-byte
// aligned buffers, which the allocator gives); otherwise element by element.
// Backward-data with stride > 1 reads the zero taps too (3/4 of them at stride
// 2): simple and correct; a strided dgrad would skip them.
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/conv.h"
#include "cuda/conv_geom.cuh"
#include "cuda/gemm_tile.cuh"

namespace pykern::cuda {
namespace {

// The 4 values at k..k+3 of a gathered row whose k = (tap, j) runs over `run`
// channels per tap: l.at(row, tap) is the tap's pixel (null in the padding),
// channel j at pixel[j]. vec: run % 4 == 0, so the 4 are one float4 of one pixel.
template <class L>
__device__ __forceinline__ float4 gather4(const L& l, const typename L::Row& r, int k, int run) {
  if (!r.ok || k >= l.K) return zero4();
  if (l.vec) {
    const float* p = l.at(r, k / run);
    return p ? *reinterpret_cast<const float4*>(p + k % run) : zero4();
  }
  float v[4];
  for (int j = 0; j < 4; ++j) {
    const int kk = k + j;
    const float* p = kk < l.K ? l.at(r, kk / run) : nullptr;
    v[j] = p ? p[kk % run] : 0.0f;
  }
  return make_float4(v[0], v[1], v[2], v[3]);
}

// Forward A = im2col(x): row m = output pixel (n, od, oh, ow), k = (tap, c) with
// c fastest over the group's Cg channels.
struct FwdA {
  static constexpr bool kKContig = true;
  const float* x;
  ConvGeom g;
  int rows, K;
  bool vec;

  struct Row {
    int64_t base;  // the sample's first element
    int d0, h0, w0;
    bool ok;
  };
  __device__ void shift(int64_t offset) { x += offset; }
  __device__ Row row(int m) const {
    Row r{0, 0, 0, 0, m < rows};
    if (!r.ok) return r;
    window_origin(g, m % g.out_pixels, &r.d0, &r.h0, &r.w0);
    r.base = int64_t(m / g.out_pixels) * g.in_pixels * g.C;
    return r;
  }
  // The pixel tap t of the row's window reads, or null in the padding.
  __device__ const float* at(const Row& r, int t) const {
    return tap_pixel(g, x, r.base, r.d0, r.h0, r.w0, t);
  }
  __device__ float4 load(const Row& r, int k) const { return gather4(*this, r, k, g.Cg); }
};

// Backward-data A = the dy values each input pixel receives: row m = input
// pixel (n, d, h, w), k = (tap, k') with k' fastest over the group's Kg filters;
// the output o reading this pixel through the tap has o*stride = i + pad - tap*dil.
struct DgradA {
  static constexpr bool kKContig = true;
  const float* dy;
  ConvGeom g;
  int rows, K;
  bool vec;

  struct Row {
    int64_t base;  // the sample's first dy element
    int d, h, w;   // coordinates in the padded input
    bool ok;
  };
  __device__ void shift(int64_t offset) { dy += offset; }
  __device__ Row row(int m) const {
    Row r{0, 0, 0, 0, m < rows};
    if (!r.ok) return r;
    const int p = m % g.in_pixels;
    r.w = p % g.in[2] + g.pad[2];
    r.h = p / g.in[2] % g.in[1] + g.pad[1];
    r.d = p / (g.in[2] * g.in[1]) + g.pad[0];
    r.base = int64_t(m / g.in_pixels) * g.out_pixels * g.K;
    return r;
  }
  __device__ const float* at(const Row& r, int t) const {
    int kd, kh, kw;
    tap_of(g, t, &kd, &kh, &kw);
    const int od = out_index(r.d, kd, g.dil[0], g.stride[0], g.out[0]);
    const int oh = out_index(r.h, kh, g.dil[1], g.stride[1], g.out[1]);
    const int ow = out_index(r.w, kw, g.dil[2], g.stride[2], g.out[2]);
    if (od < 0 || oh < 0 || ow < 0) return nullptr;
    return dy + r.base + (int64_t(od * g.out[1] + oh) * g.out[2] + ow) * g.K;
  }
  __device__ float4 load(const Row& r, int k) const { return gather4(*this, r, k, g.Kg); }
};

// Backward-data B^T: row c < Cg, k = (tap, k'): w[tap, c, g*Kg + k'] (the group
// offset is in w), i.e. each tap's (Cg, K) slice read transposed.
struct DgradB {
  static constexpr bool kKContig = true;
  const float* w;
  ConvGeom g;
  int K;
  bool vec;

  struct Row {
    int c;
  };
  __device__ void shift(int64_t offset) { w += offset; }
  __device__ Row row(int c) const { return {c}; }
  __device__ float4 load(const Row& r, int k) const {
    if (r.c >= g.Cg || k >= K) return zero4();
    if (vec) {  // Kg % 4 == 0
      const int t = k / g.Kg;
      return *reinterpret_cast<const float4*>(w + (int64_t(t) * g.Cg + r.c) * g.K + k % g.Kg);
    }
    float v[4];
    for (int j = 0; j < 4; ++j) {
      const int kk = k + j, t = kk / g.Kg;
      v[j] = kk < K ? w[(int64_t(t) * g.Cg + r.c) * g.K + kk % g.Kg] : 0.0f;
    }
    return make_float4(v[0], v[1], v[2], v[3]);
  }
};

// Backward-filter A: row m = (tap, c) over the group's taps and channels, k =
// output pixel (n, od, oh, ow); chunks are 4 consecutive rows at one k.
struct WgradA {
  static constexpr bool kKContig = false;
  const float* x;
  ConvGeom g;
  int rows, K;
  bool vec;

  struct Row {
    int m;
  };
  __device__ void shift(int64_t offset) { x += offset; }
  __device__ Row row(int m) const { return {m}; }
  __device__ float4 load(const Row& r, int k) const {
    if (k >= K || r.m >= rows) return zero4();
    int d0, h0, w0;
    window_origin(g, k % g.out_pixels, &d0, &h0, &w0);
    const int64_t base = int64_t(k / g.out_pixels) * g.in_pixels * g.C;
    if (vec) {  // Cg % 4 == 0: rows m..m+3 are channels c..c+3 of one tap
      const float* p = tap_pixel(g, x, base, d0, h0, w0, r.m / g.Cg);
      return p ? *reinterpret_cast<const float4*>(p + r.m % g.Cg) : zero4();
    }
    float v[4];
    for (int j = 0; j < 4; ++j) {
      const int m = r.m + j;
      const float* p = m < rows ? tap_pixel(g, x, base, d0, h0, w0, m / g.Cg) : nullptr;
      v[j] = p ? p[m % g.Cg] : 0.0f;
    }
    return make_float4(v[0], v[1], v[2], v[3]);
  }
};

}  // namespace

void conv_forward_device(const ConvShape& s, const float* x, const float* w, const float* bias,
                         Act act, float* y) {
  if (is_depthwise(s)) return depthwise_forward_device(s, x, w, bias, act, y);
  const ConvGeom g = conv_geometry(s, "conv_forward");
  const int rows = g.N * g.out_pixels, K = taps(g) * g.Cg;
  const FwdA la{x, g, rows, K, g.Cg % 4 == 0 && aligned16(x)};
  const Dense<false> lb{w, g.K, g.Kg, K, g.Kg % 4 == 0 && aligned16(w)};
  Epilogue e;
  e.C = y;
  e.ldc = g.K;
  e.c_step = g.Kg;
  e.M = rows;
  e.N = g.Kg;
  e.bias = bias;
  e.bias_step = g.Kg;
  e.act = act;
  e.vec = g.Kg % 4 == 0 && aligned16(y);
  run_tiles(la, lb, e, K, s.groups, group_index(s.groups, g.Cg), group_index(s.groups, g.Kg),
            /*allow_split=*/true, "conv_forward");
}

void conv_backward_data_device(const ConvShape& s, const float* dy, const float* w, float* dx) {
  if (is_depthwise(s)) return depthwise_backward_data_device(s, dy, w, dx);
  const ConvGeom g = conv_geometry(s, "conv_backward_data");
  const int rows = g.N * g.in_pixels, K = taps(g) * g.Kg;
  const bool vec = g.Kg % 4 == 0;
  const DgradA la{dy, g, rows, K, vec && aligned16(dy)};
  const DgradB lb{w, g, K, vec && aligned16(w)};
  Epilogue e;
  e.C = dx;
  e.ldc = g.C;
  e.c_step = g.Cg;
  e.M = rows;
  e.N = g.Cg;
  e.vec = g.Cg % 4 == 0 && aligned16(dx);
  run_tiles(la, lb, e, K, s.groups, group_index(s.groups, g.Kg), group_index(s.groups, g.Kg),
            /*allow_split=*/true, "conv_backward_data");
}

void conv_backward_filter_device(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (is_depthwise(s)) return depthwise_backward_filter_device(s, x, dy, dw);
  const ConvGeom g = conv_geometry(s, "conv_backward_filter");
  const int rows = taps(g) * g.Cg, K = g.N * g.out_pixels;
  const WgradA la{x, g, rows, K, g.Cg % 4 == 0 && aligned16(x)};
  const Dense<false> lb{dy, g.K, g.Kg, K, g.Kg % 4 == 0 && aligned16(dy)};
  Epilogue e;
  e.C = dw;
  e.ldc = g.K;
  e.c_step = g.Kg;
  e.M = rows;
  e.N = g.Kg;
  e.vec = g.Kg % 4 == 0 && aligned16(dw);
  run_tiles(la, lb, e, K, s.groups, group_index(s.groups, g.Cg), group_index(s.groups, g.Kg),
            /*allow_split=*/true, "conv_backward_filter");
}

}  // namespace pykern::cuda
