// Pooling driver (contract in pykern/pool.h): windows, threads and argmax
// bookkeeping around the per-ISA cell kernels of cpu/kernels/<isa>/pool_*.cpp.
//
// Memory-bound: channels-last data is walked with the channel axis innermost;
// for each output cell the driver lists the offsets of its window's real cells
// and a cell kernel runs over the channels, keeping a block of channel vectors
// in registers for the whole window. Threads take output rows (n, od, oh), or
// input rows for the average-pool gradient, which is a gather: each input cell
// sums the outputs whose windows hold it, so no two threads write the same cell
// and overlapping windows need no atomics. The max-pool gradient is a scatter
// along argmax, one sample per thread.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/pool_kernels.h"
#include "pykern/isa.h"
#include "pykern/pool.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

const cpu::PoolKernels& cell_kernels() {
  static const cpu::PoolKernels& k = [] () -> const cpu::PoolKernels& {
    switch (cpu_isa()) {
      case Isa::avx512: return cpu::avx512::pool_kernels();
      case Isa::avx2: return cpu::avx2::pool_kernels();
      default: return cpu::generic::pool_kernels();
    }
  }();
  return k;
}

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

  // Offsets ((d*H + h)*W + w)*C of the real cells of output (od, oh, ow)'s window,
  // in row-major order; returns their count.
  int64_t cells(const PoolGeometry& g, int64_t od, int64_t oh, int64_t ow, int64_t* off) const {
    int64_t n = 0;
    for (int64_t d = lo[0][od]; d < hi[0][od]; ++d)
      for (int64_t h = lo[1][oh]; h < hi[1][oh]; ++h)
        for (int64_t w = lo[2][ow]; w < hi[2][ow]; ++w)
          off[n++] = ((d * g.in[1] + h) * g.in[2] + w) * g.C;
    return n;
  }

  int64_t count(int64_t od, int64_t oh, int64_t ow) const {
    return (hi[0][od] - lo[0][od]) * (hi[1][oh] - lo[1][oh]) * (hi[2][ow] - lo[2][ow]);
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

// Calls f(scratch, n, od, oh, ow, output offset) for every output cell, threads
// over rows (n, od, oh), each thread with its own scratch = make(); `work` is the
// flop estimate that sets the thread count.
template <class Make, class F>
void for_each_output(const PoolGeometry& g, double work, const Make& make, const F& f) {
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2], rows = g.N * OD * OH;
#pragma omp parallel num_threads(threads_for(work))
  {
    auto scratch = make();
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t ow = 0; ow < OW; ++ow)
        f(scratch, r / (OH * OD), r / OH % OD, r % OH, ow, (r * OW + ow) * g.C);
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
  check_argmax_fits(g, argmax);
  const cpu::MaxCell max_cell = cell_kernels().max_cell;
  const Windows win(g);
  const int64_t C = g.C, S = sample_size(g), volume = window_volume(g);
  // Per thread: the window's offsets, and the tags the kernel records for the
  // winner: the offsets themselves for int32 argmax, else the cell numbers k,
  // mapped to int64 offsets afterwards.
  struct Scratch {
    std::vector<int64_t> off;
    std::vector<int32_t> tag, at;
  };
  const auto make = [&] { return Scratch{std::vector<int64_t>(volume), std::vector<int32_t>(volume),
                                         std::vector<int32_t>(argmax.i64 ? C : 0)}; };
  for_each_output(g, 2.0 * g.N * g.out[0] * g.out[1] * g.out[2] * C * volume, make,
                  [&](Scratch& s, int64_t n, int64_t od, int64_t oh, int64_t ow, int64_t o) {
    const int64_t cells = win.cells(g, od, oh, ow, s.off.data());
    if (argmax.i32) {
      for (int64_t k = 0; k < cells; ++k) s.tag[k] = static_cast<int32_t>(s.off[k]);
      max_cell(x + n * S, s.off.data(), s.tag.data(), cells, C, y + o, argmax.i32 + o);
    } else {
      for (int64_t k = 0; k < cells; ++k) s.tag[k] = static_cast<int32_t>(k);
      max_cell(x + n * S, s.off.data(), s.tag.data(), cells, C, y + o, s.at.data());
      for (int64_t c = 0; c < C; ++c) argmax.i64[o + c] = s.off[s.at[c] - c] + c;
    }
  });
}

void max_pool_backward(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx) {
  if (argmax.i64)
    max_backward(g, dy, argmax.i64, dx);
  else
    max_backward(g, dy, argmax.i32, dx);
}

void avg_pool_forward(const PoolGeometry& g, const float* x, float* y) {
  const cpu::SumCell sum_cell = cell_kernels().sum_cell;
  const Windows win(g);
  const int64_t C = g.C, S = sample_size(g), volume = window_volume(g);
  for_each_output(g, 1.0 * g.N * g.out[0] * g.out[1] * g.out[2] * C * volume,
                  [&] { return std::vector<int64_t>(volume); },
                  [&](std::vector<int64_t>& off, int64_t n, int64_t od, int64_t oh, int64_t ow,
                      int64_t o) {
    const int64_t cells = win.cells(g, od, oh, ow, off.data());
    sum_cell(x + n * S, off.data(), nullptr, cells, C, static_cast<float>(cells), y + o);
  });
}

void avg_pool_backward(const PoolGeometry& g, const float* dy, float* dx) {
  const cpu::SumCell sum_cell = cell_kernels().sum_cell;
  const Windows win(g);
  const Covers cov(g);
  const int64_t C = g.C, D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2], rows = g.N * D * H;
  const int64_t volume = window_volume(g);  // bounds the outputs that cover one cell
  // one multiply-add per (output, window cell) pair, as the forward
  const int nt = threads_for(2.0 * g.N * OD * OH * OW * C * volume);
#pragma omp parallel num_threads(nt)
  {
    std::vector<int64_t> off(volume);
    std::vector<float> weight(volume);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t h = r % H, d = r / H % D, n = r / (H * D);
      const float* dys = dy + n * OD * OH * OW * C;
      for (int64_t w = 0; w < W; ++w) {
        int64_t cells = 0;
        for (int64_t od = cov.first[0][d]; od < cov.last[0][d]; ++od)
          for (int64_t oh = cov.first[1][h]; oh < cov.last[1][h]; ++oh)
            for (int64_t ow = cov.first[2][w]; ow < cov.last[2][w]; ++ow, ++cells) {
              off[cells] = ((od * OH + oh) * OW + ow) * C;
              weight[cells] = 1.f / static_cast<float>(win.count(od, oh, ow));
            }
        sum_cell(dys, off.data(), weight.data(), cells, C, 1.f, dx + (r * W + w) * C);
      }
    }
  }
}

}  // namespace pykern
