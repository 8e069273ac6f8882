// Pooling kernels (contract in pykern/pool.h).
//
// Memory-bound: every kernel walks channels-last data with the channel axis
// innermost, in chunks of kChunk channels whose running maxima / sums stay in
// registers while the window is walked; the compiler vectorises the channel
// loops at the baseline ISA. Threads take output rows (n, od, oh), or input rows
// for the average-pool gradient, which is a gather: each input cell sums the
// outputs whose windows hold it, so no two threads write the same cell and
// overlapping windows need no atomics. The max-pool gradient is a scatter along
// argmax, one sample per thread.
#include <algorithm>
#include <cstring>
#include <vector>

#include "pykern/pool.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

constexpr int64_t kChunk = 64;

int64_t sample_size(const PoolGeometry& g) { return g.in[0] * g.in[1] * g.in[2] * g.C; }
int64_t window_volume(const PoolGeometry& g) { return g.pool[0] * g.pool[1] * g.pool[2]; }

// Per dim k and output o: the real cells [lo, hi) of o's window.
struct Windows {
  std::vector<int64_t> lo[3], hi[3];
  explicit Windows(const PoolGeometry& g) {
    for (int k = 0; k < 3; ++k)
      for (int64_t o = 0; o < g.out[k]; ++o) {
        const int64_t start = o * g.stride[k] - g.pad_begin[k];
        lo[k].push_back(std::max<int64_t>(start, 0));
        hi[k].push_back(std::min(start + g.pool[k], g.in[k]));
      }
  }
};

// Per dim k and input cell i: the outputs [first, last) whose windows hold i.
struct Covers {
  std::vector<int64_t> first[3], last[3];
  explicit Covers(const PoolGeometry& g) {
    for (int k = 0; k < 3; ++k)
      for (int64_t i = 0; i < g.in[k]; ++i) {
        const int64_t p = i + g.pad_begin[k];  // position in the padded input
        first[k].push_back(p < g.pool[k] ? 0 : (p - g.pool[k]) / g.stride[k] + 1);
        last[k].push_back(std::min(p / g.stride[k] + 1, g.out[k]));
      }
  }
};

template <class Idx>
void max_forward(const PoolGeometry& g, const float* x, float* y, Idx* argmax) {
  const Windows win(g);
  const int64_t C = g.C, S = sample_size(g), H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2], rows = g.N * OD * OH;
  const int nt = threads_for(2.0 * rows * OW * C * window_volume(g));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oh = r % OH, od = r / OH % OD, n = r / (OH * OD);
    const float* xs = x + n * S;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t o = (r * OW + ow) * C;
      for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
        const int64_t cn = std::min(kChunk, C - c0);
        // at[j] holds the winning cell's offset (d*H + h)*W + w, times C: the same for
        // every channel of a cell, so the select takes a broadcast scalar
        float best[kChunk];
        Idx at[kChunk];
        const Idx first = static_cast<Idx>(((win.lo[0][od] * H + win.lo[1][oh]) * W +
                                            win.lo[2][ow]) * C);
        std::copy_n(xs + first + c0, cn, best);
        std::fill_n(at, cn, first);
        for (int64_t d = win.lo[0][od]; d < win.hi[0][od]; ++d)
          for (int64_t h = win.lo[1][oh]; h < win.hi[1][oh]; ++h)
            for (int64_t w = win.lo[2][ow]; w < win.hi[2][ow]; ++w) {
              const Idx cell = static_cast<Idx>(((d * H + h) * W + w) * C);
              const float* xv = xs + cell + c0;
              for (int64_t j = 0; j < cn; ++j) {
                // v > b, or v is NaN while b is not: the first of equal maxima wins and
                // the first NaN sticks (no short-circuit, so the loop vectorises)
                const float v = xv[j], b = best[j];
                const bool take = (b == b) & !(v <= b);
                best[j] = take ? v : b;
                at[j] = take ? cell : at[j];
              }
            }
        for (int64_t j = 0; j < cn; ++j) at[j] += static_cast<Idx>(c0 + j);
        std::copy_n(best, cn, y + o + c0);
        std::copy_n(at, cn, argmax + o + c0);
      }
    }
  }
}

template <class Idx>
void max_backward(const PoolGeometry& g, const float* dy, const Idx* argmax, float* dx) {
  const int64_t S = sample_size(g), per_sample = g.out[0] * g.out[1] * g.out[2] * g.C;
  std::vector<int64_t> bad_at(g.N, -1);  // first bad position of each sample
  const int nt = std::min<int64_t>(threads_for(4.0 * g.N * (S + per_sample)), g.N);
#pragma omp parallel for num_threads(std::max(nt, 1)) schedule(static)
  for (int64_t n = 0; n < g.N; ++n) {
    float* dxs = dx + n * S;
    std::memset(dxs, 0, S * sizeof(float));
    const Idx* am = argmax + n * per_sample;
    const float* dys = dy + n * per_sample;
    for (int64_t j = 0; j < per_sample; ++j) {
      const int64_t i = am[j];
      if (i < 0 || i >= S) {
        if (bad_at[n] < 0) bad_at[n] = j;
        continue;
      }
      dxs[i] += dys[j];
    }
  }
  for (int64_t n = 0; n < g.N; ++n)
    if (bad_at[n] >= 0) {
      const int64_t pos = n * per_sample + bad_at[n];
      throw_bad_argmax(g, pos, argmax[pos]);
    }
}

}  // namespace

void max_pool_forward(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax) {
  if (argmax.i64)
    max_forward(g, x, y, argmax.i64);
  else
    max_forward(g, x, y, argmax.i32);
}

void max_pool_backward(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx) {
  if (argmax.i64)
    max_backward(g, dy, argmax.i64, dx);
  else
    max_backward(g, dy, argmax.i32, dx);
}

void avg_pool_forward(const PoolGeometry& g, const float* x, float* y) {
  const Windows win(g);
  const int64_t C = g.C, S = sample_size(g), H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2], rows = g.N * OD * OH;
  const int nt = threads_for(1.0 * rows * OW * C * window_volume(g));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oh = r % OH, od = r / OH % OD, n = r / (OH * OD);
    const float* xs = x + n * S;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t o = (r * OW + ow) * C;
      const float count = static_cast<float>((win.hi[0][od] - win.lo[0][od]) *
                                             (win.hi[1][oh] - win.lo[1][oh]) *
                                             (win.hi[2][ow] - win.lo[2][ow]));
      for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
        const int64_t cn = std::min(kChunk, C - c0);
        float sum[kChunk] = {};
        for (int64_t d = win.lo[0][od]; d < win.hi[0][od]; ++d)
          for (int64_t h = win.lo[1][oh]; h < win.hi[1][oh]; ++h)
            for (int64_t w = win.lo[2][ow]; w < win.hi[2][ow]; ++w) {
              const float* xv = xs + ((d * H + h) * W + w) * C + c0;
              for (int64_t j = 0; j < cn; ++j) sum[j] += xv[j];
            }
        for (int64_t j = 0; j < cn; ++j) y[o + c0 + j] = sum[j] / count;
      }
    }
  }
}

void avg_pool_backward(const PoolGeometry& g, const float* dy, float* dx) {
  const Windows win(g);
  const Covers cov(g);
  const int64_t C = g.C, D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2], rows = g.N * D * H;
  // each input cell gathers about volume/stride^s outputs; count one per window cell
  const int nt = threads_for(2.0 * g.N * OD * OH * OW * C * window_volume(g));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t h = r % H, d = r / H % D, n = r / (H * D);
    for (int64_t w = 0; w < W; ++w) {
      float* dxv = dx + (r * W + w) * C;
      for (int64_t c0 = 0; c0 < C; c0 += kChunk) {
        const int64_t cn = std::min(kChunk, C - c0);
        float sum[kChunk] = {};
        for (int64_t od = cov.first[0][d]; od < cov.last[0][d]; ++od)
          for (int64_t oh = cov.first[1][h]; oh < cov.last[1][h]; ++oh)
            for (int64_t ow = cov.first[2][w]; ow < cov.last[2][w]; ++ow) {
              const float scale =
                  1.f / static_cast<float>((win.hi[0][od] - win.lo[0][od]) *
                                           (win.hi[1][oh] - win.lo[1][oh]) *
                                           (win.hi[2][ow] - win.lo[2][ow]));
              const float* dyv = dy + (((n * OD + od) * OH + oh) * OW + ow) * C + c0;
              for (int64_t j = 0; j < cn; ++j) sum[j] += dyv[j] * scale;
            }
        std::copy_n(sum, cn, dxv + c0);
      }
    }
  }
}

}  // namespace pykern
