// Convolution geometry in ints for the CUDA kernels (cuda/conv_gemm.cu,
// cuda/conv_depthwise.cu): the ConvShape of pykern/conv.h after checking that
// every index the kernels form in 32 bits fits. Included by .cu files only.
#pragma once
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "pykern/conv.h"

namespace pykern::cuda {
namespace {

// ConvShape in ints (conv_geometry checks that they fit).
struct ConvGeom {
  int N, C, K, Cg, Kg;
  int in[3], k[3], stride[3], dil[3], pad[3], out[3];
  int in_pixels, out_pixels;  // D*H*W, OD*OH*OW
};

__device__ __forceinline__ void tap_of(const ConvGeom& g, int t, int* kd, int* kh, int* kw) {
  *kw = t % g.k[2];
  const int r = t / g.k[2];
  *kh = r % g.k[1];
  *kd = r / g.k[1];
}

__device__ __forceinline__ bool inside(int v, int n) { return unsigned(v) < unsigned(n); }

// Output pixel p (within a sample) -> (od, oh, ow).
__device__ __forceinline__ void out_coords(const ConvGeom& g, int p, int* od, int* oh, int* ow) {
  *ow = p % g.out[2];
  const int r = p / g.out[2];
  *oh = r % g.out[1];
  *od = r / g.out[1];
}

// The window origin o*stride - pad_begin (per axis) of output pixel p.
__device__ __forceinline__ void window_origin(const ConvGeom& g, int p, int* d0, int* h0,
                                              int* w0) {
  int od, oh, ow;
  out_coords(g, p, &od, &oh, &ow);
  *d0 = od * g.stride[0] - g.pad[0];
  *h0 = oh * g.stride[1] - g.pad[1];
  *w0 = ow * g.stride[2] - g.pad[2];
}

// The pixel (C channels at x + base + pixel*C) that tap t reads from window
// origin (d0, h0, w0), or null in the padding.
__device__ __forceinline__ const float* tap_pixel(const ConvGeom& g, const float* x, int64_t base,
                                                  int d0, int h0, int w0, int t) {
  int kd, kh, kw;
  tap_of(g, t, &kd, &kh, &kw);
  const int id = d0 + kd * g.dil[0], ih = h0 + kh * g.dil[1], iw = w0 + kw * g.dil[2];
  if (!inside(id, g.in[0]) || !inside(ih, g.in[1]) || !inside(iw, g.in[2])) return nullptr;
  return x + base + (int64_t(id * g.in[1] + ih) * g.in[2] + iw) * g.C;
}

// Output index o along one axis with o*stride - pad + t*dil == i, given
// p = i + pad; -1 if there is none.
__device__ __forceinline__ int out_index(int p, int t, int dil, int stride, int out) {
  const int a = p - t * dil;
  if (a < 0 || a % stride) return -1;
  const int o = a / stride;
  return o < out ? o : -1;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The int geometry of s, after checking that every tile index fits an int.
inline ConvGeom conv_geometry(const ConvShape& s, const char* op) {
  const int64_t taps = s.k[0] * s.k[1] * s.k[2];
  const int64_t in_pixels = s.in[0] * s.in[1] * s.in[2];
  const int64_t out_pixels = s.out[0] * s.out[1] * s.out[2];
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups;
  const int64_t limit = INT_MAX - 128;
  const int64_t sizes[] = {s.N * in_pixels, s.N * out_pixels, taps * Cg, taps * Kg, s.C, s.K};
  for (int64_t v : sizes)
    if (v > limit)
      throw std::invalid_argument(std::string(op) + " (cuda): a GEMM extent of " +
                                  std::to_string(v) + " exceeds the kernel's 32-bit tiles [" +
                                  conv_shape_str(s) + "]");
  ConvGeom g;
  g.N = int(s.N);
  g.C = int(s.C);
  g.K = int(s.K);
  g.Cg = int(Cg);
  g.Kg = int(Kg);
  for (int a = 0; a < 3; ++a) {
    g.in[a] = int(s.in[a]);
    g.k[a] = int(s.k[a]);
    g.stride[a] = int(s.stride[a]);
    g.dil[a] = int(s.dil[a]);
    g.pad[a] = int(s.pad_begin[a]);
    g.out[a] = int(s.out[a]);
  }
  g.in_pixels = int(in_pixels);
  g.out_pixels = int(out_pixels);
  return g;
}

inline int taps(const ConvGeom& g) { return g.k[0] * g.k[1] * g.k[2]; }

inline bool is_depthwise(const ConvShape& s) { return s.groups == s.C && s.C > 1; }

}  // namespace
}  // namespace pykern::cuda
