// Convolution by GEMM on pykern's SGEMM. See pykern/conv.h for the contract.
//
// Output pixels are grouped in "lines" (cpu/conv_geometry.h): one line is the
// OW pixels of one (n, od, oh). The im2col matrix has one row per output pixel
// and one column per (g, kd, kh, kw, c) with c < Cg, so group g's columns
// [g*T*Cg, (g+1)*T*Cg) meet the rows (t, c) of w (T taps) with w's row stride
// K, and the group's outputs land in columns [g*Kg, (g+1)*Kg) of y. The
// matrix is built one block of lines at a time in a thread's reused scratch,
// so it stays in that core's cache and its size is bounded:
//
//   forward:         y[rows]    = act(col[rows] @ w + bias)      one GEMM per group
//   backward_data:   dcol[rows] = dy[rows] @ w^T, then col2im    (scatter-add into dx)
//   backward_filter: dw        += col[rows]^T @ dy[rows]
//
// A 1x1, stride-1, unpadded convolution needs no col matrix: x itself is it,
// and each pass is one sgemm over all N*D*H*W pixels.
//
// im2col rather than batch-reduce over the taps, by measurement (one thread,
// best of 20): nine sgemm calls with K = C and beta = 1 into the same 576x64
// output, A already in place (no copy counted), ran at 78-90 GFLOP/s for
// C = 32 and 87-97 for C = 64, against 102-106 for the single K = 9C sgemm on
// the im2col rows; the copy costs about 10% (forward reaches 85-90% of that
// GEMM), so im2col wins. Batch-reduce only pays with a micro-kernel that
// keeps the accumulators in registers across taps (oneDNN's brgemm).
//
// Threads. Each pass is one parallel region in which every thread takes whole
// blocks and runs im2col and sgemm_serial on them: on this shared 2-core
// machine a region per block (im2col, then a threaded sgemm) cost more in
// wake-ups and in waiting for a descheduled thread than the work itself
// (MNIST conv2d_1 forward: 12-35 GFLOP/s with 64-256 Ki-float blocks, against
// 75-80 on one thread). Only when there are fewer blocks than threads does a
// pass go block by block with threaded im2col and sgemm instead.
//
// Determinism: blocks (and backward-filter chunks) are a function of the
// shape; sgemm and sgemm_serial give the same bits; im2col only copies. In
// backward_data each dx float receives its terms in one fixed walk order
// (block, line, tap, pixel): a thread owns whole images (or, block by block,
// a range of dx lines). backward_filter sums each chunk of blocks into its
// own partial dw and adds the partials in chunk order.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/conv_geometry.h"
#include "cpu/gemm_kernels.h"
#include "pykern/arena.h"
#include "pykern/conv.h"
#include "pykern/gemm.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

// Arena slots: sgemm takes 0 and 2 of whichever thread runs it; each thread's
// col block lives in its slot 1; the calling thread's slot 3 holds the
// backward-filter partials or backward_data's transposed w.
constexpr int kColSlot = 1;
constexpr int kPartialSlot = 3;
constexpr int kTransposedSlot = 3;

// Floats of col per block: 1 MiB, a thread's share of L2 here. Measured with
// two threads on the shared 2-core Zen 4 (best of 4 rounds, fwd / bwd-data /
// bwd-filter GFLOP/s, 3x3 valid):
//   block (floats)      64 Ki            128 Ki           256 Ki           512 Ki
//   MNIST conv2d_1   103/110/127       77/ 75/ 94      148/130/162      147/130/156
//   CIFAR conv2d_1   145/135/140       69/132/138      153/103/163      159/141/162
// (the spread is the other tenants; on one thread all four sizes gave 80-90).
constexpr int64_t kColBlockFloats = int64_t(1) << 18;
// Blocks smaller than this many rows make GEMMs too short to run at speed...
constexpr int64_t kMinBlockRows = 128;
// ... but small images are still cut into this many blocks, to share them out.
constexpr int64_t kTargetBlocks = 16;
// backward_filter: at most this many partial dw's, of at most this many floats in all.
constexpr int64_t kFilterChunks = 16;
constexpr int64_t kPartialFloats = int64_t(1) << 22;

using Gemm = void (*)(const GemmArgs&);

// How a convolution is cut into blocks of output pixels. A block is either
// `images_per_block` whole images or, for an image larger than the col
// budget, one of `chunks_per_image` chunks of one image: `chunk_lines` lines,
// or for a line larger than the budget (long 1-D inputs) one of the
// `line_parts` runs of `part_px` pixels of one line.
struct Plan {
  int64_t Cg, Kg, taps, cols, OW;  // cols = taps * C, the width of the col matrix
  int64_t lines, image_lines;      // output lines in all and per image
  int64_t blocks, max_block_rows;
  int64_t images_per_block;        // 0 when images are cut in chunks
  int64_t chunks_per_image, chunk_lines, line_parts, part_px;
};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

Plan make_plan(const ConvShape& s) {
  Plan p{};
  p.Cg = s.C / s.groups;
  p.Kg = s.K / s.groups;
  p.taps = s.k[0] * s.k[1] * s.k[2];
  p.cols = p.taps * s.C;
  p.OW = s.out[2];
  p.image_lines = s.out[0] * s.out[1];
  p.lines = s.N * p.image_lines;
  const int64_t budget_rows = std::max<int64_t>(1, kColBlockFloats / p.cols);
  const int64_t budget_lines = budget_rows / p.OW;
  p.line_parts = 1;
  p.part_px = p.OW;
  if (budget_lines >= p.image_lines) {
    const int64_t want = std::max(ceil_div(s.N, kTargetBlocks),
                                  ceil_div(kMinBlockRows, p.image_lines * p.OW));
    p.images_per_block = std::min(want, budget_lines / p.image_lines);
    p.blocks = ceil_div(s.N, p.images_per_block);
    p.max_block_rows = p.images_per_block * p.image_lines * p.OW;
  } else if (budget_lines >= 1) {
    p.chunks_per_image = ceil_div(p.image_lines, budget_lines);
    p.chunk_lines = ceil_div(p.image_lines, p.chunks_per_image);
    p.blocks = s.N * p.chunks_per_image;
    p.max_block_rows = p.chunk_lines * p.OW;
  } else {
    p.line_parts = ceil_div(p.OW, budget_rows);
    p.part_px = ceil_div(p.OW, p.line_parts);
    p.chunk_lines = 1;
    p.chunks_per_image = p.image_lines * p.line_parts;
    p.blocks = s.N * p.chunks_per_image;
    p.max_block_rows = p.part_px;
  }
  return p;
}

// Output pixels [px0, px1) of the lines [l0, l1) (whole lines unless
// l1 == l0 + 1): `rows` consecutive rows of y from `first_row`.
struct Block {
  int64_t l0, l1, px0, px1, first_row, rows;
};

Block block_of(const Plan& p, int64_t b) {
  Block k;
  k.px0 = 0, k.px1 = p.OW;
  if (p.images_per_block) {
    k.l0 = b * p.images_per_block * p.image_lines;
    k.l1 = std::min(p.lines, k.l0 + p.images_per_block * p.image_lines);
  } else {
    const int64_t n = b / p.chunks_per_image, chunk = b % p.chunks_per_image;
    const int64_t image_l0 = n * p.image_lines, c = chunk / p.line_parts;
    k.l0 = image_l0 + c * p.chunk_lines;
    k.l1 = std::min(image_l0 + p.image_lines, k.l0 + p.chunk_lines);
    if (p.line_parts > 1) {
      k.px0 = chunk % p.line_parts * p.part_px;
      k.px1 = std::min(p.OW, k.px0 + p.part_px);
    }
  }
  k.first_row = k.l0 * p.OW + k.px0;
  k.rows = (k.l1 - k.l0) * (k.px1 - k.px0);
  return k;
}

float* col_scratch(const Plan& p) {
  return thread_scratch(kColSlot, size_t(p.max_block_rows * p.cols) * sizeof(float));
}

bool pointwise(const ConvShape& s) {
  for (int a = 0; a < 3; ++a)
    if (s.k[a] != 1 || s.stride[a] != 1 || s.pad_begin[a] || s.pad_end[a]) return false;
  return true;
}

bool depthwise_shape(const ConvShape& s) { return s.groups == s.C && s.groups > 1; }

double flops(const ConvShape& s) {
  return 2.0 * s.N * s.out[0] * s.out[1] * s.out[2] * s.K * s.k[0] * s.k[1] * s.k[2] *
         (s.C / s.groups);
}

// One tap row's in-range pixels: col columns [col, col + floats) of output
// pixel ow come from x's input column iw onwards. With groups == 1 and dilation
// 1 along W, the KW taps of a row are adjacent in both x and col, so a run
// covers all of them at once (KW*C floats) instead of one tap (Cg floats).
struct TapRun {
  int64_t ow, iw, col, floats;
};

template <class F>
void for_each_run(const ConvShape& s, const Plan& p, const Block& blk, int64_t kd, int64_t kh,
                  F&& f) {
  const int64_t row_tap = (kd * s.k[1] + kh) * s.k[2];
  if (s.groups == 1 && s.dil[2] == 1) {
    for (int64_t ow = blk.px0; ow < blk.px1; ++ow) {
      const int64_t iw0 = ow * s.stride[2] - s.pad_begin[2];
      const int64_t a = std::max<int64_t>(0, -iw0), b = std::min(s.k[2], s.in[2] - iw0);
      if (a < b) f(TapRun{ow, iw0 + a, (row_tap + a) * s.C, (b - a) * s.C});
    }
    return;
  }
  for (int64_t kw = 0; kw < s.k[2]; ++kw) {
    int64_t lo, hi;
    cpu::conv_valid_ow(s, kw, &lo, &hi);
    for (int64_t ow = std::max(lo, blk.px0); ow < std::min(hi, blk.px1); ++ow)
      f(TapRun{ow, ow * s.stride[2] + cpu::conv_w_offset(s, kw), (row_tap + kw) * p.Cg, p.Cg});
  }
}

// memcpy for the short runs of few-channel inputs (C = 1 or 3: 3 to 9 floats a
// run) costs more in calls than in copying, and more than the GEMM on them.
// (A plain loop would be turned back into a memmove call by GCC.)
inline void copy_floats(float* d, const float* s, int64_t n) {
  if (n >= 16) {
    std::memcpy(d, s, size_t(n) * sizeof(float));
    return;
  }
  if (n & 8) std::memcpy(d, s, 32), d += 8, s += 8;
  if (n & 4) std::memcpy(d, s, 16), d += 4, s += 4;
  if (n & 2) std::memcpy(d, s, 8), d += 2, s += 2;
  if (n & 1) *d = *s;
}

// The output pixels [*lo, *hi) of a line whose every kernel column is in range.
void interior_ow(const ConvShape& s, int64_t* lo, int64_t* hi) {
  *lo = 0, *hi = s.out[2];
  for (int64_t kw = 0; kw < s.k[2]; ++kw) {
    int64_t a, b;
    cpu::conv_valid_ow(s, kw, &a, &b);
    *lo = std::max(*lo, a), *hi = std::min(*hi, b);
  }
  if (*lo > *hi) *lo = *hi;
}

// The col rows of output line l's pixels [blk.px0, blk.px1), zero where
// padded. Only what the copies leave out is zeroed: whole lines with a tap row
// in the padding, and the pixels at a line's ends otherwise.
void im2col_line(const ConvShape& s, const Plan& p, const Block& blk, const float* x, int64_t l,
                 float* dst) {
  const int64_t group_stride = p.taps * p.Cg, row_floats = p.cols;
  bool rows_inside = true;
  for (int64_t kd = 0; kd < s.k[0]; ++kd)
    for (int64_t kh = 0; kh < s.k[1]; ++kh) rows_inside &= cpu::conv_input_line(s, l, kd, kh) >= 0;
  int64_t lo = 0, hi = 0;
  if (rows_inside) interior_ow(s, &lo, &hi);
  lo = std::clamp(lo, blk.px0, blk.px1), hi = std::clamp(hi, lo, blk.px1);
  std::memset(dst, 0, size_t((lo - blk.px0) * row_floats) * sizeof(float));
  std::memset(dst + (hi - blk.px0) * row_floats, 0,
              size_t((blk.px1 - hi) * row_floats) * sizeof(float));
  for (int64_t kd = 0; kd < s.k[0]; ++kd)
    for (int64_t kh = 0; kh < s.k[1]; ++kh) {
      const int64_t il = cpu::conv_input_line(s, l, kd, kh);
      if (il < 0) continue;
      const float* src = x + il * s.in[2] * s.C;
      for_each_run(s, p, blk, kd, kh, [&](const TapRun& r) {
        float* d = dst + (r.ow - blk.px0) * row_floats + r.col;
        const float* x_px = src + r.iw * s.C;
        for (int64_t g = 0; g < s.groups; ++g)
          copy_floats(d + g * group_stride, x_px + g * p.Cg, r.floats);
      });
    }
}

// col for block `b`, on `nt` threads (1 inside a caller's parallel region).
void im2col(const ConvShape& s, const Plan& p, const float* x, Block b, int nt, float* col) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t l = b.l0; l < b.l1; ++l)
    im2col_line(s, p, b, x, l, col + (l - b.l0) * (b.px1 - b.px0) * p.cols);
}

void add_into(float* __restrict d, const float* __restrict c, int64_t n) {
  for (int64_t j = 0; j < n; ++j) d[j] += c[j];
}

// dx lines [a, b) += their terms from dcol, which holds block `blk`'s rows.
void col2im(const ConvShape& s, const Plan& p, const float* dcol, Block blk, int64_t a, int64_t b,
            float* dx) {
  const int64_t line_floats = s.in[2] * s.C, group_stride = p.taps * p.Cg;
  for (int64_t l = blk.l0; l < blk.l1; ++l) {
    const float* src = dcol + (l - blk.l0) * (blk.px1 - blk.px0) * p.cols;
    for (int64_t kd = 0; kd < s.k[0]; ++kd)
      for (int64_t kh = 0; kh < s.k[1]; ++kh) {
        const int64_t il = cpu::conv_input_line(s, l, kd, kh);
        if (il < a || il >= b) continue;
        float* dst = dx + il * line_floats;
        for_each_run(s, p, blk, kd, kh, [&](const TapRun& r) {
          const float* c = src + (r.ow - blk.px0) * p.cols + r.col;
          float* d = dst + r.iw * s.C;
          for (int64_t g = 0; g < s.groups; ++g) add_into(d + g * p.Cg, c + g * group_stride, r.floats);
        });
      }
  }
}

// The per-group products on `rows` output pixels whose col rows (or x rows, for
// a pointwise convolution) start at `col` with row stride p.cols.
void forward_gemms(Gemm gemm, const ConvShape& s, const Plan& p, const float* col, int64_t rows,
                   const float* w, const float* bias, Act act, float* y) {
  for (int64_t g = 0; g < s.groups; ++g) {
    GemmArgs a;
    a.M = rows, a.N = p.Kg, a.K = p.taps * p.Cg;
    a.A = col + g * p.taps * p.Cg, a.lda = p.cols;
    a.B = w + g * p.Kg, a.ldb = s.K;
    a.C = y + g * p.Kg, a.ldc = s.K;
    a.bias = bias ? bias + g * p.Kg : nullptr;
    a.act = act;
    gemm(a);
  }
}

// dcol = dy @ w^T per group, with wt = w^T (K, T*Cg) made once per call: a
// transposed operand would be transposed again inside every block's GEMM
// (10% of backward_data's time on CIFAR conv2d_2).
void backward_data_gemms(Gemm gemm, const ConvShape& s, const Plan& p, const float* dy,
                         int64_t rows, const float* wt, float* dcol) {
  for (int64_t g = 0; g < s.groups; ++g) {
    GemmArgs a;
    a.M = rows, a.N = p.taps * p.Cg, a.K = p.Kg;
    a.A = dy + g * p.Kg, a.lda = s.K;
    a.B = wt + g * p.Kg * p.taps * p.Cg, a.ldb = p.taps * p.Cg;
    a.C = dcol + g * p.taps * p.Cg, a.ldc = p.cols;
    gemm(a);
  }
}

// w (T*Cg, K) transposed into scratch of the calling thread.
const float* transposed_w(const ConvShape& s, const Plan& p, const float* w) {
  const int64_t rows = p.taps * p.Cg;
  float* wt = thread_scratch(kTransposedSlot, size_t(rows * s.K) * sizeof(float));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < s.K; ++k) wt[k * rows + r] = w[r * s.K + k];
  return wt;
}

void backward_filter_gemms(Gemm gemm, const ConvShape& s, const Plan& p, const float* col,
                           const float* dy, int64_t rows, bool accumulate, float* dw) {
  for (int64_t g = 0; g < s.groups; ++g) {
    GemmArgs a;
    a.trans_a = true;
    a.M = p.taps * p.Cg, a.N = p.Kg, a.K = rows;
    a.A = col + g * p.taps * p.Cg, a.lda = p.cols;
    a.B = dy + g * p.Kg, a.ldb = s.K;
    a.C = dw + g * p.Kg, a.ldc = s.K;
    a.beta = accumulate ? 1.0f : 0.0f;
    gemm(a);
  }
}

int64_t x_pixels(const ConvShape& s) { return s.N * s.in[0] * s.in[1] * s.in[2]; }

// backward_data, thread by whole images: unit u is block u (whole images) or
// image u (all its chunks). Its dx images are zeroed, then its blocks scattered.
void backward_data_by_images(const ConvShape& s, const Plan& p, const float* dy, const float* wt,
                             int nt, float* dx) {
  const int64_t units = p.images_per_block ? p.blocks : s.N;
  const int64_t per_unit = p.images_per_block ? 1 : p.chunks_per_image;
  const int64_t image_floats = s.in[0] * s.in[1] * s.in[2] * s.C;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t u = 0; u < units; ++u) {
    float* dcol = col_scratch(p);
    const int64_t n0 = p.images_per_block ? u * p.images_per_block : u;
    const int64_t n1 = p.images_per_block ? std::min(s.N, n0 + p.images_per_block) : u + 1;
    std::memset(dx + n0 * image_floats, 0, size_t((n1 - n0) * image_floats) * sizeof(float));
    for (int64_t b = u * per_unit; b < (u + 1) * per_unit; ++b) {
      const Block blk = block_of(p, b);
      backward_data_gemms(sgemm_serial, s, p, dy + blk.first_row * s.K, blk.rows, wt, dcol);
      col2im(s, p, dcol, blk, 0, INT64_MAX, dx);
    }
  }
}

// The dx lines block [l0, l1) adds into: *lo..*hi (*hi = done and *lo past it, if none).
void lines_touched(const ConvShape& s, Block blk, int64_t done, int64_t* lo, int64_t* hi) {
  *lo = INT64_MAX;
  *hi = done;
  for (int64_t l = blk.l0; l < blk.l1; ++l)
    for (int64_t kd = 0; kd < s.k[0]; ++kd)
      for (int64_t kh = 0; kh < s.k[1]; ++kh) {
        const int64_t il = cpu::conv_input_line(s, l, kd, kh);
        if (il < 0) continue;
        *lo = std::min(*lo, il);
        *hi = std::max(*hi, il);
      }
}

// backward_data, block by block with threaded GEMMs, for fewer units than
// threads. A block's largest dx line never falls below the previous block's,
// so dx lines in (done, hi] are new to this block (or skipped by every block)
// and are zeroed just before it adds into them. Each thread owns a contiguous
// range of dx lines and walks the whole block.
void backward_data_by_blocks(const ConvShape& s, const Plan& p, const float* dy, const float* wt,
                             int nt, float* dx) {
  float* dcol = col_scratch(p);
  const int64_t line_floats = s.in[2] * s.C, dx_lines = s.N * s.in[0] * s.in[1];
  int64_t done = -1;  // dx lines [0, done] hold their sums so far
  for (int64_t b = 0; b < p.blocks; ++b) {
    const Block blk = block_of(p, b);
    backward_data_gemms(sgemm, s, p, dy + blk.first_row * s.K, blk.rows, wt, dcol);
    int64_t lo, hi;
    lines_touched(s, blk, done, &lo, &hi);
    const int64_t first = std::min(done + 1, lo), span = hi - first + 1;
    const int team = static_cast<int>(std::min<int64_t>(nt, std::max<int64_t>(span, 1)));
#pragma omp parallel num_threads(team) if (team > 1)
    {
      const int t = omp_get_thread_num();
      const int64_t a = first + span * t / team, e = first + span * (t + 1) / team;
      for (int64_t il = std::max(a, done + 1); il < e; ++il)
        std::memset(dx + il * line_floats, 0, size_t(line_floats) * sizeof(float));
      col2im(s, p, dcol, blk, a, e, dx);
    }
    done = hi;
  }
  if (done + 1 < dx_lines)
    std::memset(dx + (done + 1) * line_floats, 0,
                size_t((dx_lines - done - 1) * line_floats) * sizeof(float));
}

// The partial dw of chunk c of the blocks, into `out`.
void filter_chunk(Gemm gemm, int nt, const ConvShape& s, const Plan& p, const float* x,
                  const float* dy, int64_t chunks, int64_t c, float* out) {
  float* col = col_scratch(p);
  const int64_t b0 = p.blocks * c / chunks, b1 = p.blocks * (c + 1) / chunks;
  for (int64_t b = b0; b < b1; ++b) {
    const Block blk = block_of(p, b);
    im2col(s, p, x, blk, nt, col);
    backward_filter_gemms(gemm, s, p, col, dy + blk.first_row * s.K, blk.rows, b > b0, out);
  }
}

// dw += part[0] + part[1] + ... in that order, for each float.
void add_partials(const float* part, int64_t count, int64_t wsize, float* dw) {
  constexpr int64_t kSpan = 4096;  // floats of dw a task sums, so each stays in L1
  const int64_t spans = ceil_div(wsize, kSpan);
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(double(count) * wsize), spans));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t t = 0; t < spans; ++t) {
    const int64_t j0 = t * kSpan, n = std::min(kSpan, wsize - j0);
    for (int64_t c = 0; c < count; ++c) add_into(dw + j0, part + c * wsize + j0, n);
  }
}

// --- The tile path ---------------------------------------------------------
// The block path above writes a whole block of col (up to 1 MiB) and then lets
// sgemm read it once per 32-column panel of w, from L2. When w is small enough
// to stay in L2 (every CIFAR/MNIST-sized layer), the tile path instead gathers
// the col rows of one micro-tile of MR output pixels (consecutive in y, across
// line ends) into an L1-resident buffer and runs the micro-kernel on it against
// w in place, for every panel: the gathered rows are reused from L1 and col
// never goes through L2. One thread computes each output tile whole, with one
// K chain, so the result does not depend on the thread count. Forward GFLOP/s
// on two threads of the shared Zen 4 VM, block path -> direct or tile path,
// medians of two interleaved runs of each (the VM's noise is +-15%):
//   CIFAR conv2d   (64x32x32x3   -> 32, direct)   78-81 -> 112-113
//   MNIST conv2d   (128x28x28x1  -> 32, direct)   33-37 ->  43-59
//   MNIST conv2d_1 (128x26x26x32 -> 64, direct) 142-157 -> 173 (the other run disturbed)
//   CIFAR conv2d_1 (64x15x15x32  -> 64, tile)   155-161 -> 157-159; 182-196 in a quiet spell
//   CIFAR conv2d_2 (64x6x6x64    -> 64, tile)   170-183 -> 182-205
// Backward-data the same way (dcol per tile, scattered at once) measured no gain
// over the block path (165-177 either way on MNIST conv2d_1) and is not used.
constexpr double kTileMaxWBytes = 512.0 * 1024;

// Gathering a tile costs a few calls per pixel: only worth it on rows of 64+ floats.
constexpr int64_t kTileMinCols = 64;

bool tile_path(const ConvShape& s, const Plan& p) {
  return p.cols >= kTileMinCols && 4.0 * p.cols * s.K <= kTileMaxWBytes;
}

// Rows [r0, r0 + m) of the col matrix (output pixels in y's order) into dst.
void gather_rows(const ConvShape& s, const Plan& p, const float* x, int64_t r0, int64_t m,
                 float* dst) {
  while (m > 0) {
    Block blk;
    blk.l0 = r0 / p.OW;
    blk.l1 = blk.l0 + 1;
    blk.px0 = r0 % p.OW;
    blk.px1 = std::min(p.OW, blk.px0 + m);
    blk.first_row = r0;
    blk.rows = blk.px1 - blk.px0;
    im2col_line(s, p, blk, x, blk.l0, dst);
    dst += blk.rows * p.cols;
    r0 += blk.rows;
    m -= blk.rows;
  }
}

void forward_tiles(const ConvShape& s, const Plan& p, const float* x, const float* w,
                   const float* bias, Act act, float* y) {
  const cpu::IsaKernels& ks = cpu::kernels_for(cpu_isa());
  const int mr = ks.mr, nr = ks.nr;
  const int64_t pixels = p.lines * p.OW, tiles = ceil_div(pixels, mr);
  const int64_t kg = p.taps * p.Cg;
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(flops(s)), tiles));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    float* col = thread_scratch(kColSlot, size_t(mr * p.cols) * sizeof(float));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t r0 = t * mr;
      const int m = static_cast<int>(std::min<int64_t>(mr, pixels - r0));
      gather_rows(s, p, x, r0, m, col);
      float* yt = y + r0 * s.K;
      for (int64_t g = 0; g < s.groups; ++g)
        for (int64_t j = 0; j < p.Kg; j += nr) {
          const int n = static_cast<int>(std::min<int64_t>(nr, p.Kg - j));
          const int64_t c0 = g * p.Kg + j;
          ks.micro(kg, col + g * kg, p.cols, 1, w + c0, s.K, yt + c0, s.K, m, n, 1.0f, 0.0f,
                   bias ? bias + c0 : nullptr);
        }
      if (act != Act::none) ks.act_row(yt, m * s.K, act);  // the tile's rows are contiguous
    }
  }
}

// --- The direct path -------------------------------------------------------
// No col matrix at all. With groups == 1 and no dilation along W, the taps of
// one kernel row (kd, kh) read KW*C contiguous floats of one input line for
// each output pixel, and consecutive pixels of an output line start stride*C
// floats apart: that is a row-major matrix the micro-kernel reads in place
// (rows stride*C apart, overlapping). So each micro-tile of up to MR pixels of
// one output line sums its kernel rows as KD*KH chained micro-kernel calls on x
// itself (beta = 1 after the first; the bias with the last). Kernel rows in the
// padding (top, bottom) are skipped; with padding along W the line's input
// lines are first copied, zero-extended, into a small per-thread buffer. The
// price: a micro-tile cannot cross a line end, so an output line of OW pixels
// uses OW / (MR * ceil(OW / MR)) of the tile rows (13 of 16 for CIFAR conv2d_1,
// whose 32 channels the tile path gathers cheaply instead); the direct path is
// taken where that is 90% or more, or where rows are too short to gather.
// Each output pixel is summed by one thread in one fixed order.
// The input an output line reads on the direct paths: span_px pixels from column
// -pad_begin on. Where that reaches past either end of the input (padding along
// W), the line is copied zero-extended into a buffer of line_floats.
struct LineSpan {
  int64_t span_px, line_floats;
  bool pad_w;
};

LineSpan line_span(const ConvShape& s, const Plan& p) {
  LineSpan r;
  r.span_px = (p.OW - 1) * s.stride[2] + s.k[2];
  r.pad_w = s.pad_begin[2] > 0 || r.span_px - s.pad_begin[2] > s.in[2];
  r.line_floats = r.span_px * s.C;
  return r;
}

// Input line il as the direct paths read it: x's own line, or its zero-extended
// copy in buf (buffer pixel q holds input column q - pad_begin).
const float* line_source(const ConvShape& s, const LineSpan& ls, const float* x, int64_t il,
                         float* buf) {
  const float* src = x + il * s.in[2] * s.C;
  if (!ls.pad_w) return src;
  const int64_t pw = s.pad_begin[2];
  const int64_t a = std::min(pw, ls.span_px), b = std::clamp(pw + s.in[2], a, ls.span_px);
  std::memset(buf, 0, size_t(a * s.C) * sizeof(float));
  std::memcpy(buf + a * s.C, src, size_t((b - a) * s.C) * sizeof(float));
  std::memset(buf + b * s.C, 0, size_t((ls.span_px - b) * s.C) * sizeof(float));
  return buf;
}

bool direct_path(const ConvShape& s, const Plan& p, int mr) {
  if (s.groups != 1 || s.dil[2] != 1) return false;
  const int64_t tiles = ceil_div(p.OW, mr);
  return 10 * p.OW >= 9 * mr * tiles || p.cols < kTileMinCols;
}

void forward_direct(const ConvShape& s, const Plan& p, const float* x, const float* w,
                    const float* bias, Act act, float* y) {
  const cpu::IsaKernels& ks = cpu::kernels_for(cpu_isa());
  const int mr = ks.mr, nr = ks.nr;
  const int64_t run = s.k[2] * s.C, sw = s.stride[2], kernel_rows = s.k[0] * s.k[1];
  const LineSpan ls = line_span(s, p);
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(flops(s)), p.lines));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    float* buf = ls.pad_w ? thread_scratch(kColSlot, size_t(kernel_rows * ls.line_floats) *
                                                         sizeof(float))
                          : nullptr;
    std::vector<const float*> seg_x(kernel_rows), seg_w(kernel_rows);
#pragma omp for schedule(static)
    for (int64_t l = 0; l < p.lines; ++l) {
      int64_t nseg = 0;
      for (int64_t kd = 0; kd < s.k[0]; ++kd)
        for (int64_t kh = 0; kh < s.k[1]; ++kh) {
          const int64_t il = cpu::conv_input_line(s, l, kd, kh);
          if (il < 0) continue;
          float* own = ls.pad_w ? buf + nseg * ls.line_floats : nullptr;
          seg_x[nseg] = line_source(s, ls, x, il, own);
          seg_w[nseg] = w + (kd * s.k[1] + kh) * run * s.K;
          ++nseg;
        }
      float* yl = y + l * p.OW * s.K;
      for (int64_t ow = 0; ow < p.OW; ow += mr) {
        const int m = static_cast<int>(std::min<int64_t>(mr, p.OW - ow));
        float* yt = yl + ow * s.K;
        for (int64_t j = 0; j < s.K; j += nr) {
          const int n = static_cast<int>(std::min<int64_t>(nr, s.K - j));
          const float* bj = bias ? bias + j : nullptr;
          if (nseg == 0)  // every kernel row in the padding: the bias alone
            ks.micro(0, x, 1, 1, w, s.K, yt + j, s.K, m, n, 1.0f, 0.0f, bj);
          for (int64_t i = 0; i < nseg; ++i)
            ks.micro(run, seg_x[i] + ow * sw * s.C, sw * s.C, 1, seg_w[i] + j, s.K, yt + j, s.K,
                     m, n, 1.0f, i ? 1.0f : 0.0f, i == nseg - 1 ? bj : nullptr);
        }
        if (act != Act::none) ks.act_row(yt, m * s.K, act);  // the tile's rows are contiguous
      }
    }
  }
}

// backward_filter the same way, for the few-channel layers the direct forward
// serves (a first layer: C = 1 or 3), where im2col's per-pixel copies cost more
// than the products (CIFAR conv2d ran at ~80 GFLOP/s on two threads): for each
// output line and kernel row, dw's KW*C rows of that kernel row += (the line's
// input run)^T @ (the line's dy rows), the micro-kernel reading x transposed in
// place (op(A)(r, k) = x[k*stride*C + r]) with one K chain of OW pixels.
// Lines are cut into a fixed number of chunks (a function of the shape), each
// summed into its own partial dw, and the partials are added in chunk order.
bool filter_direct_path(const ConvShape& s, const Plan& p, int mr) {
  return s.groups == 1 && s.dil[2] == 1 && p.cols < kTileMinCols && p.OW >= mr;
}

void backward_filter_direct(const ConvShape& s, const Plan& p, const float* x, const float* dy,
                            float* dw) {
  const cpu::IsaKernels& ks = cpu::kernels_for(cpu_isa());
  const int mr = ks.mr, nr = ks.nr;
  const int64_t run = s.k[2] * s.C, sw = s.stride[2], wsize = p.taps * s.C * s.K;
  const LineSpan ls = line_span(s, p);
  const int64_t chunks = std::min(p.lines, kFilterChunks);
  float* part = chunks > 1
                    ? thread_scratch(kPartialSlot, size_t((chunks - 1) * wsize) * sizeof(float))
                    : nullptr;
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(flops(s)), chunks));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    float* buf =
        ls.pad_w ? thread_scratch(kColSlot, size_t(ls.line_floats) * sizeof(float)) : nullptr;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
      float* d = c == 0 ? dw : part + (c - 1) * wsize;
      std::memset(d, 0, size_t(wsize) * sizeof(float));
      for (int64_t l = p.lines * c / chunks; l < p.lines * (c + 1) / chunks; ++l) {
        const float* dyl = dy + l * p.OW * s.K;
        for (int64_t kd = 0; kd < s.k[0]; ++kd)
          for (int64_t kh = 0; kh < s.k[1]; ++kh) {
            const int64_t il = cpu::conv_input_line(s, l, kd, kh);
            if (il < 0) continue;
            const float* src = line_source(s, ls, x, il, buf);
            float* dws = d + (kd * s.k[1] + kh) * run * s.K;
            for (int64_t i = 0; i < run; i += mr)
              for (int64_t j = 0; j < s.K; j += nr)
                ks.micro(p.OW, src + i, 1, sw * s.C, dyl + j, s.K, dws + i * s.K + j, s.K,
                         static_cast<int>(std::min<int64_t>(mr, run - i)),
                         static_cast<int>(std::min<int64_t>(nr, s.K - j)), 1.0f, 1.0f,
                         nullptr);
          }
      }
    }
  }
  if (chunks > 1) add_partials(part, chunks - 1, wsize, dw);
}

}  // namespace

void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, Act act,
                  float* y) {
  if (depthwise_shape(s)) return depthwise_forward(s, x, w, bias, act, y);
  const Plan p = make_plan(s);
  if (pointwise(s)) return forward_gemms(sgemm, s, p, x, x_pixels(s), w, bias, act, y);
  if (direct_path(s, p, cpu::kernels_for(cpu_isa()).mr))
    return forward_direct(s, p, x, w, bias, act, y);
  if (tile_path(s, p)) return forward_tiles(s, p, x, w, bias, act, y);
  const int nt = threads_for(flops(s));
  auto run_block = [&](int64_t b, Gemm gemm, int im2col_threads) {
    const Block blk = block_of(p, b);
    float* col = col_scratch(p);
    im2col(s, p, x, blk, im2col_threads, col);
    forward_gemms(gemm, s, p, col, blk.rows, w, bias, act, y + blk.first_row * s.K);
  };
  if (p.blocks >= nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t b = 0; b < p.blocks; ++b) run_block(b, sgemm_serial, 1);
  } else {
    for (int64_t b = 0; b < p.blocks; ++b) run_block(b, sgemm, nt);
  }
}

void conv_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  if (depthwise_shape(s)) return depthwise_backward_data(s, dy, w, dx);
  const Plan p = make_plan(s);
  const float* wt = transposed_w(s, p, w);
  if (pointwise(s)) return backward_data_gemms(sgemm, s, p, dy, x_pixels(s), wt, dx);
  const int nt = threads_for(flops(s));
  const int64_t units = p.images_per_block ? p.blocks : s.N;
  if (units >= nt)
    backward_data_by_images(s, p, dy, wt, nt, dx);
  else
    backward_data_by_blocks(s, p, dy, wt, nt, dx);
}

void conv_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (depthwise_shape(s)) return depthwise_backward_filter(s, x, dy, dw);
  const Plan p = make_plan(s);
  if (pointwise(s)) return backward_filter_gemms(sgemm, s, p, x, dy, x_pixels(s), false, dw);
  if (p.lines > 0 && filter_direct_path(s, p, cpu::kernels_for(cpu_isa()).mr))
    return backward_filter_direct(s, p, x, dy, dw);
  const int64_t wsize = p.taps * p.Cg * s.K;
  if (p.blocks == 0) {
    std::memset(dw, 0, size_t(wsize) * sizeof(float));
    return;
  }
  const int64_t chunks = std::min({p.blocks, kFilterChunks,
                                   std::max<int64_t>(1, kPartialFloats / wsize)});
  // Chunk 0 sums into dw itself, chunk c > 0 into partial c - 1.
  float* part = chunks > 1
                    ? thread_scratch(kPartialSlot, size_t((chunks - 1) * wsize) * sizeof(float))
                    : nullptr;
  auto out = [&](int64_t c) { return c == 0 ? dw : part + (c - 1) * wsize; };
  const int nt = threads_for(flops(s));
  if (chunks >= nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t c = 0; c < chunks; ++c) filter_chunk(sgemm_serial, 1, s, p, x, dy, chunks, c, out(c));
  } else {
    for (int64_t c = 0; c < chunks; ++c) filter_chunk(sgemm, nt, s, p, x, dy, chunks, c, out(c));
  }
  if (chunks > 1) add_partials(part, chunks - 1, wsize, dw);
}

}  // namespace pykern
