// Pooling kernels (contract and determinism notes in cuda/pool.h). One thread
// per output (or input) element, channels fastest, so every warp reads and
// writes consecutive channels of a pixel.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/pool.h"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
  return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20));
}

// PoolGeometry in ints (sizes per dim are far below 2^31 after validate_pool
// on any array that fits in memory; check_geometry makes sure).
struct Geom {
  int64_t N, C;
  int in[3], pool[3], stride[3], pad[3], out[3];
};

Geom geom_of(const PoolGeometry& g, const char* op) {
  Geom r;
  r.N = g.N;
  r.C = g.C;
  for (int k = 0; k < 3; ++k) {
    const int64_t vals[] = {g.in[k], g.pool[k], g.stride[k], g.pad_begin[k], g.out[k]};
    for (int64_t v : vals)
      if (v > INT_MAX / 4)
        throw std::invalid_argument(std::string(op) + " (cuda): a spatial size or pool "
                                    "parameter of 2^29 or more");
    r.in[k] = int(g.in[k]);
    r.pool[k] = int(g.pool[k]);
    r.stride[k] = int(g.stride[k]);
    r.pad[k] = int(g.pad_begin[k]);
    r.out[k] = int(g.out[k]);
  }
  return r;
}

__device__ __forceinline__ int64_t sample_cells(const Geom& g) {
  return int64_t(g.in[0]) * g.in[1] * g.in[2] * g.C;
}

// Output element i (N, OD, OH, OW, C) -> sample n, channel c and the real
// cells [lo, hi) of its window per dim.
struct Window {
  int64_t n;
  int c;
  int lo[3], hi[3];
};

__device__ __forceinline__ Window window_of(const Geom& g, int64_t i) {
  Window w;
  w.c = int(i % g.C);
  int64_t q = i / g.C;
  int o[3];
#pragma unroll
  for (int k = 2; k >= 0; --k) {
    o[k] = int(q % g.out[k]);
    q /= g.out[k];
  }
  w.n = q;
#pragma unroll
  for (int k = 0; k < 3; ++k) {
    const int start = o[k] * g.stride[k] - g.pad[k];
    w.lo[k] = max(start, 0);
    w.hi[k] = min(start + g.pool[k], g.in[k]);
  }
  return w;
}

template <class Idx>
__global__ void __launch_bounds__(kThreads)
    max_forward_kernel(Geom g, const float* __restrict__ x, float* __restrict__ y,
                       Idx* __restrict__ argmax, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    const Window w = window_of(g, i);
    const float* xs = x + w.n * sample_cells(g);
    float best = 0.0f;
    int64_t at = -1;
    for (int d = w.lo[0]; d < w.hi[0]; ++d)
      for (int h = w.lo[1]; h < w.hi[1]; ++h)
        for (int col = w.lo[2]; col < w.hi[2]; ++col) {
          const int64_t cell = ((int64_t(d) * g.in[1] + h) * g.in[2] + col) * g.C + w.c;
          const float v = xs[cell];
          if (at < 0 || v > best || (isnan(v) && !isnan(best))) {
            best = v;
            at = cell;
          }
        }
    y[i] = best;
    argmax[i] = Idx(at);
  }
}

// Thread per (n, c): the plane's outputs in order. *bad gets the smallest flat
// position whose index is out of range or in another channel (integer atomicMin:
// order-independent); such entries are skipped.
template <class Idx>
__global__ void __launch_bounds__(kThreads)
    max_backward_kernel(int64_t N, int64_t C, int64_t cells, int64_t outputs_per_plane,
                        const float* __restrict__ dy, const Idx* __restrict__ argmax,
                        float* __restrict__ dx, unsigned long long* bad) {
  const int64_t planes = N * C;
  for (int64_t t = blockIdx.x * int64_t(kThreads) + threadIdx.x; t < planes;
       t += int64_t(gridDim.x) * kThreads) {
    const int64_t n = t / C, c = t % C;
    float* dxs = dx + n * cells;
    for (int64_t i = c; i < cells; i += C) dxs[i] = 0.0f;
    const int64_t first = n * outputs_per_plane * C + c;
    for (int64_t o = 0; o < outputs_per_plane; ++o) {
      const int64_t pos = first + o * C;
      const int64_t i = int64_t(argmax[pos]);
      if (i < 0 || i >= cells || i % C != c) {
        atomicMin(bad, static_cast<unsigned long long>(pos));
        continue;
      }
      dxs[i] += dy[pos];
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    avg_forward_kernel(Geom g, const float* __restrict__ x, float* __restrict__ y, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    const Window w = window_of(g, i);
    const float* xs = x + w.n * sample_cells(g);
    float sum = 0.0f;
    for (int d = w.lo[0]; d < w.hi[0]; ++d)
      for (int h = w.lo[1]; h < w.hi[1]; ++h)
        for (int col = w.lo[2]; col < w.hi[2]; ++col)
          sum += xs[((int64_t(d) * g.in[1] + h) * g.in[2] + col) * g.C + w.c];
    const int count = (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
    y[i] = sum / float(count);
  }
}

// Input cell i (N, D, H, W, C): outputs o along dim k whose window
// [o*stride - pad, + pool) holds position p = i_k + pad.
__global__ void __launch_bounds__(kThreads)
    avg_backward_kernel(Geom g, const float* __restrict__ dy, float* __restrict__ dx,
                        int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    const int c = int(i % g.C);
    int64_t q = i / g.C;
    int first[3], last[3];
#pragma unroll
    for (int k = 2; k >= 0; --k) {
      const int p = int(q % g.in[k]) + g.pad[k];
      q /= g.in[k];
      first[k] = p < g.pool[k] ? 0 : (p - g.pool[k]) / g.stride[k] + 1;
      last[k] = min(p / g.stride[k] + 1, g.out[k]);
    }
    const float* dys = dy + q * g.out[0] * g.out[1] * int64_t(g.out[2]) * g.C + c;
    float acc = 0.0f;
    for (int od = first[0]; od < last[0]; ++od) {
      const int sd = od * g.stride[0] - g.pad[0];
      const int nd = min(sd + g.pool[0], g.in[0]) - max(sd, 0);
      for (int oh = first[1]; oh < last[1]; ++oh) {
        const int sh = oh * g.stride[1] - g.pad[1];
        const int nh = min(sh + g.pool[1], g.in[1]) - max(sh, 0);
        for (int ow = first[2]; ow < last[2]; ++ow) {
          const int sw = ow * g.stride[2] - g.pad[2];
          const int nw = min(sw + g.pool[2], g.in[2]) - max(sw, 0);
          const float weight = 1.0f / float(nd * nh * nw);
          acc = fmaf(dys[((int64_t(od) * g.out[1] + oh) * g.out[2] + ow) * g.C], weight, acc);
        }
      }
    }
    dx[i] = acc;
  }
}

int64_t outputs(const PoolGeometry& g) { return g.out[0] * g.out[1] * g.out[2]; }
int64_t cells(const PoolGeometry& g) { return g.in[0] * g.in[1] * g.in[2] * g.C; }

}  // namespace

void max_pool_forward_device(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax) {
  check_argmax_fits(g, argmax);
  const Geom gg = geom_of(g, "max_pool_forward");
  const int64_t total = g.N * outputs(g) * g.C;
  if (total == 0) return;
  if (argmax.i64)
    max_forward_kernel<<<grid_for(total), kThreads>>>(gg, x, y, argmax.i64, total);
  else
    max_forward_kernel<<<grid_for(total), kThreads>>>(gg, x, y, argmax.i32, total);
  PK_LAUNCH_CHECK("max_pool_forward");
}

void max_pool_backward_device(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx) {
  const int64_t S = cells(g), per_plane = outputs(g);
  if (g.N * S == 0) return;
  constexpr unsigned long long kNone = ~0ull;
  DeviceBuffer flag(sizeof(unsigned long long));
  auto* bad = static_cast<unsigned long long*>(flag.ptr());
  PK_CUDA_CHECK(cudaMemsetAsync(bad, 0xff, sizeof(unsigned long long)));
  const int64_t planes = g.N * g.C;
  if (argmax.i64)
    max_backward_kernel<<<grid_for(planes), kThreads>>>(g.N, g.C, S, per_plane, dy, argmax.i64,
                                                        dx, bad);
  else
    max_backward_kernel<<<grid_for(planes), kThreads>>>(g.N, g.C, S, per_plane, dy, argmax.i32,
                                                        dx, bad);
  PK_LAUNCH_CHECK("max_pool_backward");
  unsigned long long first_bad = kNone;
  PK_CUDA_CHECK(cudaMemcpy(&first_bad, bad, sizeof first_bad, cudaMemcpyDeviceToHost));
  if (first_bad == kNone) return;
  const int64_t pos = int64_t(first_bad);
  int64_t value = 0;
  if (argmax.i64) {
    PK_CUDA_CHECK(cudaMemcpy(&value, argmax.i64 + pos, sizeof value, cudaMemcpyDeviceToHost));
  } else {
    int32_t v32 = 0;
    PK_CUDA_CHECK(cudaMemcpy(&v32, argmax.i32 + pos, sizeof v32, cudaMemcpyDeviceToHost));
    value = v32;
  }
  if (value < 0 || value >= S) throw_bad_argmax(g, pos, value);
  throw std::invalid_argument(
      "max_pool_backward: argmax[" + std::to_string(pos) + "] (flat) = " +
      std::to_string(value) + " names a cell of channel " + std::to_string(value % g.C) +
      " for an output of channel " + std::to_string(pos % g.C) +
      " (the CUDA kernel accumulates each channel separately; max_pool_forward's argmax "
      "never crosses channels)");
}

void avg_pool_forward_device(const PoolGeometry& g, const float* x, float* y) {
  const Geom gg = geom_of(g, "avg_pool_forward");
  const int64_t total = g.N * outputs(g) * g.C;
  if (total == 0) return;
  avg_forward_kernel<<<grid_for(total), kThreads>>>(gg, x, y, total);
  PK_LAUNCH_CHECK("avg_pool_forward");
}

void avg_pool_backward_device(const PoolGeometry& g, const float* dy, float* dx) {
  const Geom gg = geom_of(g, "avg_pool_backward");
  const int64_t total = g.N * cells(g);
  if (total == 0) return;
  avg_backward_kernel<<<grid_for(total), kThreads>>>(gg, dy, dx, total);
  PK_LAUNCH_CHECK("avg_pool_backward");
}

}  // namespace pykern::cuda
