// Convolution by GEMM on pykern::sgemm. See pykern/conv.h for the contract.
//
// Output pixels are grouped in "lines": one line is the OW pixels of one
// (n, od, oh). The im2col matrix has one row per output pixel and one column
// per (g, kd, kh, kw, c) with c < Cg, so for group g its columns
// [g*T*Cg, (g+1)*T*Cg) meet the rows (t, c) of w (T taps, Cg channels) with
// w's row stride K, and the group's outputs land in columns [g*Kg, (g+1)*Kg)
// of y. The matrix is built a block of lines at a time in the reused scratch,
// so it stays in cache and bounded:
//
//   forward:         y[rows]   = act(col[rows] @ w + bias)          one sgemm per group
//   backward_data:   dcol[rows] = dy[rows] @ w^T, then col2im      (scatter-add)
//   backward_filter: dw       += col[rows]^T @ dy[rows]             (beta = 1 after block 0)
//
// A 1x1, stride-1, unpadded convolution needs no col matrix: x itself is it.
// sgemm runs its own threads, so it is called here between, never inside, the
// parallel regions that build and scatter the col blocks.
//
// Determinism: the block size is a function of the shape, sgemm is bitwise
// reproducible, im2col only copies, and col2im's threads own disjoint dx lines
// while each walks the block in the same order.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cpu/conv_geometry.h"
#include "pykern/arena.h"
#include "pykern/conv.h"
#include "pykern/gemm.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

// sgemm takes slots 0 and 2 of the calling thread's arena; the col block lives in 1.
constexpr int kColSlot = 1;

// Floats of col per block. TUNING: read from the environment while measuring.
const int64_t kColBlockFloats = [] {
  const char* e = std::getenv("PYKERN_CONV_BLOCK");
  return e ? std::atoll(e) : int64_t(1) << 20;
}();

struct Geometry {
  int64_t Cg, Kg, taps, cols;  // cols = taps * C: the width of the col matrix
  int64_t lines, OW;           // output lines (N*OD*OH) of OW pixels
  int64_t block_lines;         // lines per col block
};

Geometry geometry(const ConvShape& s) {
  Geometry g;
  g.Cg = s.C / s.groups;
  g.Kg = s.K / s.groups;
  g.taps = s.k[0] * s.k[1] * s.k[2];
  g.cols = g.taps * s.C;
  g.lines = s.N * s.out[0] * s.out[1];
  g.OW = s.out[2];
  g.block_lines = std::max<int64_t>(1, kColBlockFloats / (g.OW * g.cols));
  return g;
}

bool pointwise(const ConvShape& s) {
  for (int a = 0; a < 3; ++a)
    if (s.k[a] != 1 || s.stride[a] != 1 || s.pad_begin[a] || s.pad_end[a]) return false;
  return true;
}

// Calls f(ow, iw, tap, col_offset) for each in-range (ow, kw) of one tap row,
// col_offset being where that tap's channels of group 0 start in a col row.
// With groups == 1 and dilation 1 along W, the KW taps of a row are adjacent in
// both x and col, so f gets whole runs of them (run floats instead of C).
struct TapRun {
  int64_t ow, iw, col, floats;
};

template <class F>
void for_each_run(const ConvShape& s, const Geometry& g, int64_t kd, int64_t kh, F&& f) {
  const int64_t row_tap = (kd * s.k[1] + kh) * s.k[2];
  if (s.groups == 1 && s.dil[2] == 1) {
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t iw0 = ow * s.stride[2] - s.pad_begin[2];
      const int64_t a = std::max<int64_t>(0, -iw0), b = std::min(s.k[2], s.in[2] - iw0);
      if (a < b) f(TapRun{ow, iw0 + a, (row_tap + a) * s.C, (b - a) * s.C});
    }
    return;
  }
  for (int64_t kw = 0; kw < s.k[2]; ++kw) {
    int64_t lo, hi;
    cpu::conv_valid_ow(s, kw, &lo, &hi);
    for (int64_t ow = lo; ow < hi; ++ow)
      f(TapRun{ow, ow * s.stride[2] + cpu::conv_w_offset(s, kw), (row_tap + kw) * g.Cg, g.Cg});
  }
}

// col rows of output lines [l0, l1): col is ((l1-l0)*OW, cols), zero where padded.
void im2col(const ConvShape& s, const Geometry& g, const float* x, int64_t l0, int64_t l1,
            float* col) {
  const int64_t line_floats = g.OW * g.cols, group_stride = g.taps * g.Cg;
  const int nt = threads_for(double(l1 - l0) * line_floats);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t l = l0; l < l1; ++l) {
    float* dst = col + (l - l0) * line_floats;
    std::memset(dst, 0, line_floats * sizeof(float));
    for (int64_t kd = 0; kd < s.k[0]; ++kd)
      for (int64_t kh = 0; kh < s.k[1]; ++kh) {
        const int64_t il = cpu::conv_input_line(s, l, kd, kh);
        if (il < 0) continue;
        const float* src = x + il * s.in[2] * s.C;
        for_each_run(s, g, kd, kh, [&](const TapRun& r) {
          float* d = dst + r.ow * g.cols + r.col;
          const float* x_px = src + r.iw * s.C;
          for (int64_t gi = 0; gi < s.groups; ++gi)
            std::memcpy(d + gi * group_stride, x_px + gi * g.Cg, r.floats * sizeof(float));
        });
      }
  }
}

// The dx lines block [l0, l1) adds into: *lo..*hi (*hi = done, *lo past it, if none).
void lines_touched(const ConvShape& s, int64_t l0, int64_t l1, int64_t done, int64_t* lo,
                   int64_t* hi) {
  *lo = INT64_MAX;
  *hi = done;
  for (int64_t l = l0; l < l1; ++l)
    for (int64_t kd = 0; kd < s.k[0]; ++kd)
      for (int64_t kh = 0; kh < s.k[1]; ++kh) {
        const int64_t il = cpu::conv_input_line(s, l, kd, kh);
        if (il < 0) continue;
        *lo = std::min(*lo, il);
        *hi = std::max(*hi, il);
      }
}

// dx += col2im(dcol) for output lines [l0, l1). A block's largest dx line never
// falls below the previous block's, so dx lines in (done, last] are new to this
// block (or skipped by every block) and are zeroed here first; no separate pass
// over dx. Thread t owns a contiguous range of dx lines and walks the whole
// block, adding only into its own lines: no two threads write the same float,
// and every float's sum runs in the same order for any thread count.
void col2im(const ConvShape& s, const Geometry& g, const float* dcol, int64_t l0, int64_t l1,
            int64_t done, int64_t* last, float* dx) {
  int64_t lo, hi;
  lines_touched(s, l0, l1, done, &lo, &hi);
  const int64_t first = std::min(done + 1, lo), span = hi - first + 1;
  *last = hi;
  if (span <= 0) return;
  const int64_t line_floats = s.in[2] * s.C, group_stride = g.taps * g.Cg;
  const int nt = static_cast<int>(
      std::min<int64_t>(threads_for(double(l1 - l0) * g.OW * g.cols), span));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num();
    const int64_t a = first + span * t / nt, b = first + span * (t + 1) / nt;
    for (int64_t il = std::max(a, done + 1); il < b; ++il)
      std::memset(dx + il * line_floats, 0, line_floats * sizeof(float));
    for (int64_t l = l0; l < l1; ++l) {
      const float* src = dcol + (l - l0) * g.OW * g.cols;
      for (int64_t kd = 0; kd < s.k[0]; ++kd)
        for (int64_t kh = 0; kh < s.k[1]; ++kh) {
          const int64_t il = cpu::conv_input_line(s, l, kd, kh);
          if (il < a || il >= b) continue;
          float* dst = dx + il * line_floats;
          for_each_run(s, g, kd, kh, [&](const TapRun& r) {
            const float* c = src + r.ow * g.cols + r.col;
            float* d = dst + r.iw * s.C;
            for (int64_t gi = 0; gi < s.groups; ++gi)
              for (int64_t j = 0; j < r.floats; ++j) d[gi * g.Cg + j] += c[gi * group_stride + j];
          });
        }
    }
  }
}

// The per-group products on `rows` output pixels whose col rows (or x rows, for
// a pointwise convolution) start at `col` with row stride g.cols.
void forward_gemms(const ConvShape& s, const Geometry& g, const float* col, int64_t rows,
                   const float* w, const float* bias, Act act, float* y) {
  for (int64_t gi = 0; gi < s.groups; ++gi) {
    GemmArgs a;
    a.M = rows, a.N = g.Kg, a.K = g.taps * g.Cg;
    a.A = col + gi * g.taps * g.Cg, a.lda = g.cols;
    a.B = w + gi * g.Kg, a.ldb = s.K;
    a.C = y + gi * g.Kg, a.ldc = s.K;
    a.bias = bias ? bias + gi * g.Kg : nullptr;
    a.act = act;
    sgemm(a);
  }
}

void backward_data_gemms(const ConvShape& s, const Geometry& g, const float* dy, int64_t rows,
                         const float* w, float* dcol) {
  for (int64_t gi = 0; gi < s.groups; ++gi) {
    GemmArgs a;
    a.trans_b = true;
    a.M = rows, a.N = g.taps * g.Cg, a.K = g.Kg;
    a.A = dy + gi * g.Kg, a.lda = s.K;
    a.B = w + gi * g.Kg, a.ldb = s.K;
    a.C = dcol + gi * g.taps * g.Cg, a.ldc = g.cols;
    sgemm(a);
  }
}

void backward_filter_gemms(const ConvShape& s, const Geometry& g, const float* col,
                           const float* dy, int64_t rows, bool accumulate, float* dw) {
  for (int64_t gi = 0; gi < s.groups; ++gi) {
    GemmArgs a;
    a.trans_a = true;
    a.M = g.taps * g.Cg, a.N = g.Kg, a.K = rows;
    a.A = col + gi * g.taps * g.Cg, a.lda = g.cols;
    a.B = dy + gi * g.Kg, a.ldb = s.K;
    a.C = dw + gi * g.Kg, a.ldc = s.K;
    a.beta = accumulate ? 1.0f : 0.0f;
    sgemm(a);
  }
}

float* col_block(const Geometry& g) {
  return thread_scratch(kColSlot, size_t(g.block_lines * g.OW * g.cols) * sizeof(float));
}

int64_t x_pixels(const ConvShape& s) { return s.N * s.in[0] * s.in[1] * s.in[2]; }

bool depthwise_shape(const ConvShape& s) { return s.groups == s.C && s.groups > 1; }

}  // namespace

void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, Act act,
                  float* y) {
  if (depthwise_shape(s)) return depthwise_forward(s, x, w, bias, act, y);
  const Geometry g = geometry(s);
  if (pointwise(s)) return forward_gemms(s, g, x, x_pixels(s), w, bias, act, y);
  float* col = col_block(g);
  for (int64_t l0 = 0; l0 < g.lines; l0 += g.block_lines) {
    const int64_t l1 = std::min(g.lines, l0 + g.block_lines);
    im2col(s, g, x, l0, l1, col);
    forward_gemms(s, g, col, (l1 - l0) * g.OW, w, bias, act, y + l0 * g.OW * s.K);
  }
}

void conv_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  if (depthwise_shape(s)) return depthwise_backward_data(s, dy, w, dx);
  const Geometry g = geometry(s);
  if (pointwise(s)) return backward_data_gemms(s, g, dy, x_pixels(s), w, dx);
  float* dcol = col_block(g);
  int64_t done = -1;  // dx lines [0, done] are initialised
  for (int64_t l0 = 0; l0 < g.lines; l0 += g.block_lines) {
    const int64_t l1 = std::min(g.lines, l0 + g.block_lines);
    backward_data_gemms(s, g, dy + l0 * g.OW * s.K, (l1 - l0) * g.OW, w, dcol);
    col2im(s, g, dcol, l0, l1, done, &done, dx);
  }
  const int64_t line_floats = s.in[2] * s.C, dx_lines = s.N * s.in[0] * s.in[1];
  if (done + 1 < dx_lines)
    std::memset(dx + (done + 1) * line_floats, 0,
                size_t((dx_lines - done - 1) * line_floats) * sizeof(float));
}

void conv_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (depthwise_shape(s)) return depthwise_backward_filter(s, x, dy, dw);
  const Geometry g = geometry(s);
  if (pointwise(s)) return backward_filter_gemms(s, g, x, dy, x_pixels(s), false, dw);
  if (g.lines == 0) {
    std::memset(dw, 0, size_t(g.taps * g.Cg * s.K) * sizeof(float));
    return;
  }
  float* col = col_block(g);
  for (int64_t l0 = 0; l0 < g.lines; l0 += g.block_lines) {
    const int64_t l1 = std::min(g.lines, l0 + g.block_lines);
    im2col(s, g, x, l0, l1, col);
    backward_filter_gemms(s, g, col, dy + l0 * g.OW * s.K, (l1 - l0) * g.OW, l0 > 0, dw);
  }
}

}  // namespace pykern
