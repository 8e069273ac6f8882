// Depthwise convolution (groups == C, K = C*M): direct kernels. Too little
// work per output channel for a GEMM; the work is memory-bound.
//   forward:        one thread per output element, taps in order (fp32 FMAs)
//   backward-data:  one thread per input element gathering every (tap, m)
//                   that reads it: each dx is written once, no atomics
//   backward-filter: dw (taps, C*M) as column sums over the N*OD*OH*OW output
//                   pixels of x * dy, in double (cuda/colsum.cuh)
// Consecutive threads take consecutive channels, so loads and stores of the
// channels-last arrays coalesce.
#include <algorithm>
#include <cstdint>

#include "cuda/act_device.cuh"
#include "cuda/check.h"
#include "cuda/colsum.cuh"
#include "cuda/conv.h"
#include "cuda/conv_geom.cuh"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
  return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20));
}

// y (N, OD, OH, OW, C*M): thread per element, grid-stride.
__global__ void __launch_bounds__(kThreads)
    depthwise_forward_kernel(ConvGeom g, int M, const float* __restrict__ x,
                             const float* __restrict__ w, const float* __restrict__ bias, Act act,
                             float* __restrict__ y) {
  const int CM = g.K;
  const int64_t total = int64_t(g.N) * g.out_pixels * CM;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    const int j = int(i % CM), c = j / M;
    const int64_t q = i / CM;
    int od, oh, ow;
    out_coords(g, int(q % g.out_pixels), &od, &oh, &ow);
    const float* xs = x + q / g.out_pixels * g.in_pixels * int64_t(g.C) + c;
    float acc = 0.0f;
    int t = 0;
    for (int kd = 0; kd < g.k[0]; ++kd) {
      const int id = od * g.stride[0] - g.pad[0] + kd * g.dil[0];
      for (int kh = 0; kh < g.k[1]; ++kh) {
        const int ih = oh * g.stride[1] - g.pad[1] + kh * g.dil[1];
        for (int kw = 0; kw < g.k[2]; ++kw, ++t) {
          const int iw = ow * g.stride[2] - g.pad[2] + kw * g.dil[2];
          if (!inside(id, g.in[0]) || !inside(ih, g.in[1]) || !inside(iw, g.in[2])) continue;
          acc = fmaf(xs[(int64_t(id * g.in[1] + ih) * g.in[2] + iw) * g.C],
                     w[int64_t(t) * CM + j], acc);
        }
      }
    }
    if (bias) acc += bias[j];
    y[i] = act_apply(acc, act);
  }
}

// dx (N, D, H, W, C): thread per element; every tap whose output exists, m in order.
__global__ void __launch_bounds__(kThreads)
    depthwise_backward_data_kernel(ConvGeom g, int M, const float* __restrict__ dy,
                                   const float* __restrict__ w, float* __restrict__ dx) {
  const int CM = g.K;
  const int64_t total = int64_t(g.N) * g.in_pixels * g.C;
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    const int c = int(i % g.C);
    const int64_t q = i / g.C;
    const int p = int(q % g.in_pixels);
    const int pw = p % g.in[2] + g.pad[2], ph = p / g.in[2] % g.in[1] + g.pad[1],
              pd = p / (g.in[2] * g.in[1]) + g.pad[0];
    const float* dys = dy + q / g.in_pixels * g.out_pixels * int64_t(CM) + int64_t(c) * M;
    const float* wc = w + int64_t(c) * M;
    float acc = 0.0f;
    int t = 0;
    for (int kd = 0; kd < g.k[0]; ++kd) {
      const int od = out_index(pd, kd, g.dil[0], g.stride[0], g.out[0]);
      for (int kh = 0; kh < g.k[1]; ++kh) {
        const int oh = out_index(ph, kh, g.dil[1], g.stride[1], g.out[1]);
        for (int kw = 0; kw < g.k[2]; ++kw, ++t) {
          const int ow = out_index(pw, kw, g.dil[2], g.stride[2], g.out[2]);
          if (od < 0 || oh < 0 || ow < 0) continue;
          const float* d = dys + (int64_t(od * g.out[1] + oh) * g.out[2] + ow) * CM;
          const float* wt = wc + int64_t(t) * CM;
          for (int m = 0; m < M; ++m) acc = fmaf(d[m], wt[m], acc);
        }
      }
    }
    dx[i] = acc;
  }
}

// Column (tap t, channel j = c*M + m) of row r = output pixel (n, od, oh, ow):
// x[n, o*stride - pad + t*dil, c] * dy[r, j].
struct FilterTerm {
  ConvGeom g;
  int M;
  const float* x;
  const float* dy;
  __device__ void operator()(int64_t, int64_t r, int64_t col, double* s) const {
    const int CM = g.K;
    const int j = int(col % CM);
    int d0, h0, w0;
    window_origin(g, int(r % g.out_pixels), &d0, &h0, &w0);
    const float* p =
        tap_pixel(g, x, r / g.out_pixels * g.in_pixels * g.C, d0, h0, w0, int(col / CM));
    if (p) s[0] += double(p[j / M]) * double(dy[r * CM + j]);
  }
};

struct StoreFloat {
  float* out;
  __device__ void operator()(int64_t, int64_t c, const double* t) const { out[c] = float(t[0]); }
};

}  // namespace

void depthwise_forward_device(const ConvShape& s, const float* x, const float* w,
                              const float* bias, Act act, float* y) {
  const ConvGeom g = conv_geometry(s, "depthwise_forward");
  const int64_t total = int64_t(g.N) * g.out_pixels * g.K;
  if (total == 0) return;
  depthwise_forward_kernel<<<grid_for(total), kThreads>>>(g, g.K / g.C, x, w, bias, act, y);
  PK_LAUNCH_CHECK("depthwise_forward");
}

void depthwise_backward_data_device(const ConvShape& s, const float* dy, const float* w,
                                    float* dx) {
  const ConvGeom g = conv_geometry(s, "depthwise_backward_data");
  const int64_t total = int64_t(g.N) * g.in_pixels * g.C;
  if (total == 0) return;
  depthwise_backward_data_kernel<<<grid_for(total), kThreads>>>(g, g.K / g.C, dy, w, dx);
  PK_LAUNCH_CHECK("depthwise_backward_data");
}

void depthwise_backward_filter_device(const ConvShape& s, const float* x, const float* dy,
                                      float* dw) {
  const ConvGeom g = conv_geometry(s, "depthwise_backward_filter");
  const int64_t cols = int64_t(taps(g)) * g.K;
  column_sums<1>(1, int64_t(g.N) * g.out_pixels, cols, 1, FilterTerm{g, g.K / g.C, x, dy},
                 StoreFloat{dw}, "depthwise_backward_filter");
}

}  // namespace pykern::cuda
