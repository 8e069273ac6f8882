// Fused recurrent layers on the GPU (contract: cuda/rnn.h, pykern/rnn.h). The
// driver mirrors cpu/rnn.cpp step for step; the CPU's per-row passes
// (cpu/kernels/rnn_rows_body.h) become one thread per (batch row, unit) that
// handles all G gates of its unit, so gate k of unit j is read at k*U + j and a
// warp's loads are contiguous. Each thread owns its h/c/dh entries, so states
// are updated in place; the GEMMs between the kernels are ordered by the stream.
//
// Scratch comes from the caching allocator and is released when the launcher
// returns: the next owner's work is queued behind ours on the same stream.
#include <algorithm>
#include <cstdint>
#include <utility>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/gemm.h"
#include "cuda/rnn.h"
#include "cuda/rnn_act.cuh"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;  // grid-stride loops cover larger sizes

// Blocks for n > 0 elements, one thread each up to kMaxBlocks blocks.
dim3 grid_for(int64_t n) {
  return dim3(static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)));
}

struct Dims {
  int64_t B, T, I, U, GU;
};

Dims dims_of(const RnnArgs& a) { return {a.B, a.T, a.I, a.U, cell_gates(a.cell) * a.U}; }

bool gru_two_gemms(const RnnArgs& a) { return a.cell == Cell::gru && !a.reset_after; }

// Views of a workspace (or of scratch with the same layout), as cpu/rnn.cpp.
struct Ws {
  float* z = nullptr;      // (B,T,GU)
  float* hprev = nullptr;  // (B,T,U), null when not saved
  float* aux = nullptr;    // (B,T,U): LSTM Cprev, GRU Aux; null for SimpleRNN or not saved
};

Ws ws_views(const RnnArgs& a, const Dims& d, float* base, bool saved) {
  Ws w;
  w.z = base;
  if (!saved) return w;
  w.hprev = base + d.B * d.T * d.GU;
  if (a.cell != Cell::simple) w.aux = w.hprev + d.B * d.T * d.U;
  return w;
}

// C (M,N) = beta*C + op(A) op(B) [+ bias], row-major, on the device.
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a,
          const float* B, int64_t ldb, bool trans_b, float* C, int64_t ldc, float beta = 0.0f,
          const float* bias = nullptr) {
  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = A;
  g.lda = std::max<int64_t>(lda, 1);
  g.trans_a = trans_a;
  g.B = B;
  g.ldb = std::max<int64_t>(ldb, 1);
  g.trans_b = trans_b;
  g.C = C;
  g.ldc = std::max<int64_t>(ldc, 1);
  g.beta = beta;
  g.bias = bias;
  sgemm_device(g);
}

void copy_or_zero(float* dst, const float* src, int64_t n) {
  if (n == 0) return;
  if (src)
    PK_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, 0));
  else
    PK_CUDA_CHECK(cudaMemsetAsync(dst, 0, n * sizeof(float), 0));
}

template <Cell C>
constexpr int kGates = C == Cell::lstm ? 4 : C == Cell::gru ? 3 : 1;

// ---- forward ------------------------------------------------------------

// One step's arguments; (B,T,U) arrays are indexed by the input time t, y by
// the processing step s.
struct FwdStep {
  int64_t B, T, U, GU, t, s;
  Act act, rec_act;
  bool zero_output_for_mask;
  const uint8_t* mask;  // (B,T) or null
  float* z;             // (B,T,GU) in: x W + b; out: the pre-activations
  const float* gh;      // (B,GU) h R [+ b'] (GRU without reset_after: z, r, then (r*h) R_h)
  float* h;             // (B,U) state, updated
  float* c;             // (B,U) LSTM cell state, updated
  float* y;             // (B,T,U)
  float* save_h;        // (B,T,U) workspace Hprev, or null
  float* aux;           // (B,T,U) LSTM Cprev / GRU Aux, or null
  float* keep;          // (B,U) GRU without reset_after: z between the two kernels
  float* rh;            // (B,U) GRU without reset_after: r*h, the second GEMM's rows
};

// The step for every (row b, unit j); GRU without reset_after (p.rh set): the
// gates z, r and r*h only (gru_fwd_state_kernel finishes the step).
template <Cell C>
__global__ void __launch_bounds__(kThreads) fwd_step_kernel(FwdStep p) {
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    const int64_t i = b * p.T + p.t;  // the (b, t) row of x and of the workspace
    const int64_t wi = i * U + j;
    float* z = p.z + i * p.GU + j;
    const float* gh = p.gh + b * p.GU + j;
    float* y = p.y + (b * p.T + p.s) * U + j;
    const float hp = p.h[e];
    if (p.save_h) p.save_h[wi] = hp;
    if (p.mask && !p.mask[i]) {
      // A skipped step: states carry over, the output repeats (or is zero).
      if (C == Cell::lstm && p.aux) p.aux[wi] = p.c[e];
      if (C == Cell::gru && p.aux) p.aux[wi] = 0.0f;
      if (p.rh) p.rh[e] = 0.0f;
      *y = (p.zero_output_for_mask || p.s == 0) ? 0.0f : y[-U];
      continue;
    }
    if constexpr (C == Cell::simple) {
      const float v = z[0] + gh[0];
      z[0] = v;
      const float hn = act_f(v, p.act);
      p.h[e] = hn;
      *y = hn;
    } else if constexpr (C == Cell::lstm) {
      float zg[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        zg[k] = z[k * U] + gh[k * U];
        z[k * U] = zg[k];
      }
      const float ig = act_f(zg[0], p.rec_act), fg = act_f(zg[1], p.rec_act);
      const float gg = act_f(zg[2], p.act), og = act_f(zg[3], p.rec_act);
      const float cp = p.c[e];
      if (p.aux) p.aux[wi] = cp;
      const float cn = fg * cp + ig * gg;
      p.c[e] = cn;
      const float hn = og * act_f(cn, p.act);
      p.h[e] = hn;
      *y = hn;
    } else {
      const float pz = z[0] + gh[0], pr = z[U] + gh[U];
      z[0] = pz;
      z[U] = pr;
      const float zg = act_f(pz, p.rec_act), rg = act_f(pr, p.rec_act);
      if (p.rh) {
        const float rh = rg * hp;
        p.rh[e] = rh;
        if (p.aux) p.aux[wi] = rh;
        p.keep[e] = zg;
        continue;
      }
      const float hr = gh[2 * U];
      if (p.aux) p.aux[wi] = hr;
      const float ph = z[2 * U] + rg * hr;
      z[2 * U] = ph;
      const float hh = act_f(ph, p.act);
      const float hn = zg * hp + (1.0f - zg) * hh;
      p.h[e] = hn;
      *y = hn;
    }
  }
}

// GRU without reset_after, after the second GEMM: the candidate and the state.
__global__ void __launch_bounds__(kThreads) gru_fwd_state_kernel(FwdStep p) {
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    const int64_t i = b * p.T + p.t;
    if (p.mask && !p.mask[i]) continue;
    float* z = p.z + i * p.GU + 2 * U + j;
    const float ph = *z + p.gh[b * p.GU + 2 * U + j];
    *z = ph;
    const float zg = p.keep[e], hh = act_f(ph, p.act);
    const float hn = zg * p.h[e] + (1.0f - zg) * hh;
    p.h[e] = hn;
    p.y[(b * p.T + p.s) * U + j] = hn;
  }
}

template <class Kernel, class Args>
void launch_rows(Kernel kernel, const Args& p, const char* name) {
  const int64_t n = p.B * p.U;
  if (n == 0) return;
  kernel<<<grid_for(n), kThreads>>>(p);
  PK_LAUNCH_CHECK(name);
}

void launch_fwd_step(Cell cell, const FwdStep& p) {
  switch (cell) {
    case Cell::simple: return launch_rows(fwd_step_kernel<Cell::simple>, p, "rnn_fwd_step");
    case Cell::lstm: return launch_rows(fwd_step_kernel<Cell::lstm>, p, "lstm_fwd_step");
    case Cell::gru: return launch_rows(fwd_step_kernel<Cell::gru>, p, "gru_fwd_step");
  }
}

// The recurrence; w.z holds x W + b on entry. h and c (LSTM) are the state
// buffers, initialised here and holding the final states on return.
void forward_steps(const RnnArgs& a, const Dims& d, const Ws& w, float* y, float* h, float* c,
                   float* gh, float* keep, float* rh) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  copy_or_zero(h, a.h0, B * U);
  if (a.cell == Cell::lstm) copy_or_zero(c, a.c0, B * U);
  const float* rec_bias = a.cell == Cell::gru && a.reset_after && a.bias ? a.bias + GU : nullptr;
  const bool two = gru_two_gemms(a);
  FwdStep p{B, T, U, GU, 0, 0, a.act, a.rec_act, a.zero_output_for_mask, a.mask, w.z, gh, h, c,
            y, w.hprev, w.aux, two ? keep : nullptr, two ? rh : nullptr};
  for (int64_t s = 0; s < T; ++s) {
    p.s = s;
    p.t = a.reverse ? T - 1 - s : s;
    gemm(B, two ? 2 * U : GU, U, h, U, false, a.recurrent, GU, false, gh, GU, 0.0f, rec_bias);
    launch_fwd_step(a.cell, p);
    if (!two) continue;
    gemm(B, U, U, rh, U, false, a.recurrent + 2 * U, GU, false, gh + 2 * U, GU);
    launch_rows(gru_fwd_state_kernel, p, "gru_fwd_state");
  }
}

// Runs the forward pass into out (its hT and, for LSTM, cT serve as the state
// buffers), saving the workspace into out.ws when it is set.
void forward(const RnnArgs& a, const RnnForward& out) {
  const Dims d = dims_of(a);
  const bool saved = out.ws != nullptr;
  const int64_t z_floats = saved ? 0 : d.B * d.T * d.GU;
  DeviceBuffer scratch((z_floats + d.B * d.GU + 2 * d.B * d.U) * sizeof(float));
  float* base = scratch.f32();
  const Ws w = ws_views(a, d, saved ? out.ws : base, saved);
  float* gh = base + z_floats;
  float* keep = gh + d.B * d.GU;
  float* rh = keep + d.B * d.U;
  // GRU: the input bias is row 0 of (2, 3U) or the whole (3U,).
  gemm(d.B * d.T, d.GU, d.I, a.x, d.I, false, a.kernel, d.GU, false, w.z, d.GU, 0.0f, a.bias);
  forward_steps(a, d, w, out.y, out.hT, out.cT, gh, keep, rh);
}

// ---- backward -----------------------------------------------------------

struct BwdStep {
  int64_t B, T, U, GU, t, s;
  Act act, rec_act;
  bool zero_output_for_mask;
  const uint8_t* mask;  // (B,T) or null
  const float* z;       // (B,T,GU) the saved pre-activations
  const float* hprev;   // (B,T,U)
  const float* aux;     // (B,T,U) LSTM Cprev / GRU Aux
  const float* dy;      // (B,T,U) or null
  const float* dh;      // (B,U) w.r.t. the state after the step
  float* dpo;           // (B,U) w.r.t. the previous output (masks): read and zeroed; or null
  float* dc;            // (B,U) LSTM: in w.r.t. the new c, out w.r.t. the previous c
  float* dg;            // (B,T,GU) out: w.r.t. the pre-activations
  float* dgh;           // (B,T,GU) GRU with reset_after: w.r.t. h R + b'; else null
  float* dhn;           // (B,U) out: the element-wise part of dh_prev
  float* keep;          // (B,U) GRU without reset_after: r, for the reset kernel
  const float* drh;     // (B,U) GRU without reset_after: d(r*h) from the GEMM
};

// dG of one step for every (row b, unit j); GRU without reset_after: all but the
// reset gate's, which needs d(r*h) from a GEMM first (gru_bwd_reset_kernel).
template <Cell C>
__global__ void __launch_bounds__(kThreads) bwd_step_kernel(BwdStep p) {
  constexpr int G = kGates<C>;
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    const int64_t i = b * p.T + p.t;
    const int64_t wi = i * U + j;
    float* dg = p.dg + i * p.GU + j;
    float* dgh = p.dgh ? p.dgh + i * p.GU + j : nullptr;
    const float* dy = p.dy ? p.dy + (b * p.T + p.s) * U + j : nullptr;
    if (p.mask && !p.mask[i]) {
      // A skipped step passes dh (and dc) through; its output gradient goes to
      // the output it repeated.
#pragma unroll
      for (int k = 0; k < G; ++k) {
        dg[k * U] = 0.0f;
        if (dgh) dgh[k * U] = 0.0f;
      }
      p.dhn[e] = p.dh[e];
      if (dy && !p.zero_output_for_mask) p.dpo[e] += *dy;
      continue;
    }
    // The step's total dh: carried + output gradient + the repeated outputs'.
    float dh = p.dh[e];
    if (dy) dh = dh + *dy;
    if (p.dpo) {
      dh = dh + p.dpo[e];
      p.dpo[e] = 0.0f;
    }
    const float* z = p.z + i * p.GU + j;
    if constexpr (C == Cell::simple) {
      const float v = z[0];
      dg[0] = dh * dact_f(v, act_f(v, p.act), p.act);
      p.dhn[e] = 0.0f;
    } else if constexpr (C == Cell::lstm) {
      const float z0 = z[0], z1 = z[U], z2 = z[2 * U], z3 = z[3 * U];
      const float ig = act_f(z0, p.rec_act), fg = act_f(z1, p.rec_act);
      const float gg = act_f(z2, p.act), og = act_f(z3, p.rec_act);
      const float cp = p.aux[wi];
      const float cn = fg * cp + ig * gg, ac = act_f(cn, p.act);
      const float dc = p.dc[e] + dh * og * dact_f(cn, ac, p.act);
      dg[0] = dc * gg * dact_f(z0, ig, p.rec_act);
      dg[U] = dc * cp * dact_f(z1, fg, p.rec_act);
      dg[2 * U] = dc * ig * dact_f(z2, gg, p.act);
      dg[3 * U] = dh * ac * dact_f(z3, og, p.rec_act);
      p.dc[e] = dc * fg;
      p.dhn[e] = 0.0f;
    } else {
      const float pz = z[0], pr = z[U], ph = z[2 * U];
      const float zg = act_f(pz, p.rec_act), rg = act_f(pr, p.rec_act), hh = act_f(ph, p.act);
      const float dph = dh * (1.0f - zg) * dact_f(ph, hh, p.act);
      const float dpz = dh * (p.hprev[wi] - hh) * dact_f(pz, zg, p.rec_act);
      dg[0] = dpz;
      dg[2 * U] = dph;
      p.dhn[e] = dh * zg;
      if (!dgh) {
        p.keep[e] = rg;
        continue;
      }
      const float dpr = dph * p.aux[wi] * dact_f(pr, rg, p.rec_act);
      dg[U] = dpr;
      dgh[0] = dpz;
      dgh[U] = dpr;
      dgh[2 * U] = dph * rg;
    }
  }
}

// GRU without reset_after: the reset gate's gradient and dh_prev's r part from
// d(r*h) = dG_h R_h^T.
__global__ void __launch_bounds__(kThreads) gru_bwd_reset_kernel(BwdStep p) {
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    const int64_t i = b * p.T + p.t;
    if (p.mask && !p.mask[i]) continue;
    const float rg = p.keep[e], drh = p.drh[e];
    const float pr = p.z[i * p.GU + U + j];
    p.dg[i * p.GU + U + j] = drh * p.hprev[i * U + j] * dact_f(pr, rg, p.rec_act);
    p.dhn[e] = p.dhn[e] + drh * rg;
  }
}

void launch_bwd_step(Cell cell, const BwdStep& p) {
  switch (cell) {
    case Cell::simple: return launch_rows(bwd_step_kernel<Cell::simple>, p, "rnn_bwd_step");
    case Cell::lstm: return launch_rows(bwd_step_kernel<Cell::lstm>, p, "lstm_bwd_step");
    case Cell::gru: return launch_rows(bwd_step_kernel<Cell::gru>, p, "gru_bwd_step");
  }
}

// out[c] = the sum over r < rows of x[r*cols + c]. Thread (tx, ty) sums rows
// ty, ty + 16, ... of its column in order, then the 16 partials are added in
// order: a fixed tree, so bitwise repeatable (no atomics).
constexpr int kSumRows = 16;

__global__ void __launch_bounds__(32 * kSumRows)
    col_sum_kernel(const float* __restrict__ x, int64_t rows, int64_t cols, float* out) {
  __shared__ float part[kSumRows][33];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  float s = 0.0f;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += kSumRows) s += x[r * cols + c];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y != 0 || c >= cols) return;
  float t = 0.0f;
  for (int k = 0; k < kSumRows; ++k) t += part[k][threadIdx.x];
  out[c] = t;
}

void col_sum(const float* x, int64_t rows, int64_t cols, float* out) {
  if (cols == 0) return;
  col_sum_kernel<<<dim3(static_cast<unsigned>((cols + 31) / 32)), dim3(32, kSumRows)>>>(
      x, rows, cols, out);
  PK_LAUNCH_CHECK("rnn_bias_grad");
}

// The recurrence backwards: fills dG (and dGh for GRU with reset_after), dh0, dc0.
void backward_steps(const RnnArgs& a, const Dims& d, const Ws& w, const RnnBackward& g,
                    float* dG, float* dGh, float* buf) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  float* dh = buf;            // (B,U) w.r.t. the state after the step
  float* dhn = dh + B * U;    // (B,U) w.r.t. the state before it
  float* dc = dhn + B * U;    // (B,U)
  float* dpo = dc + B * U;    // (B,U) w.r.t. the previous output (masks)
  float* drh = dpo + B * U;   // (B,U) GRU without reset_after: d(r*h)
  float* keep = drh + B * U;  // (B,U) ... and r between the kernels
  copy_or_zero(dh, g.dhT, B * U);
  if (a.cell == Cell::lstm) copy_or_zero(dc, g.dcT, B * U);
  if (a.mask) copy_or_zero(dpo, nullptr, B * U);
  const bool two = gru_two_gemms(a);
  BwdStep p{B, T, U, GU, 0, 0, a.act, a.rec_act, a.zero_output_for_mask, a.mask, w.z, w.hprev,
            w.aux, g.dy, dh, a.mask ? dpo : nullptr, dc, dG, dGh, dhn, keep, drh};
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    p.s = s;
    p.t = t;
    p.dh = dh;
    p.dhn = dhn;
    launch_bwd_step(a.cell, p);
    if (two) {
      // d(r*h) (B,U) = dG_h[:, t] R_h^T, R_h = R[:, 2U:3U]
      gemm(B, U, U, dG + t * GU + 2 * U, T * GU, false, a.recurrent + 2 * U, GU, true, drh, U);
      launch_rows(gru_bwd_reset_kernel, p, "gru_bwd_reset");
    }
    // dh_prev += dG[:, t] R^T over the gates the recurrent product feeds
    gemm(B, U, two ? 2 * U : GU, (dGh ? dGh : dG) + t * GU, T * GU, false, a.recurrent, GU, true,
         dhn, U, 1.0f);
    std::swap(dh, dhn);
  }
  copy_or_zero(g.dh0, dh, B * U);
  if (a.cell == Cell::lstm) copy_or_zero(g.dc0, dc, B * U);
}

__global__ void __launch_bounds__(kThreads)
    nonzero_kernel(const void* src, int elem_bytes, bool is_float, int64_t n, uint8_t* dst) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    bool v;
    if (is_float)
      v = elem_bytes == 8 ? static_cast<const double*>(src)[i] != 0.0
                          : static_cast<const float*>(src)[i] != 0.0f;
    else if (elem_bytes == 8)
      v = static_cast<const int64_t*>(src)[i] != 0;
    else if (elem_bytes == 4)
      v = static_cast<const int32_t*>(src)[i] != 0;
    else
      v = static_cast<const uint8_t*>(src)[i] != 0;
    dst[i] = v ? 1 : 0;
  }
}

}  // namespace

void rnn_forward_device(const RnnArgs& a, const RnnForward& out) {
  validate_rnn(a, "rnn_forward (cuda)");
  if (a.B == 0 || a.U == 0) return;
  forward(a, out);
}

void rnn_backward_device(const RnnArgs& a, const RnnBackward& g) {
  validate_rnn(a, "rnn_backward (cuda)");
  const Dims d = dims_of(a);
  const int64_t rows = d.B * d.T, GU = d.GU, U = d.U;
  const bool split = a.cell == Cell::gru && a.reset_after;
  // Scratch: [workspace if recomputed | dG | dGh | step buffers (6 of (B,U))].
  const int64_t ws_floats = g.ws ? 0 : rnn_workspace_floats(a);
  const int64_t total = ws_floats + rows * GU * (split ? 2 : 1) + 6 * d.B * U;
  DeviceBuffer scratch(total * sizeof(float));
  float* base = scratch.f32();
  float* ws = g.ws ? const_cast<float*>(g.ws) : base;
  float* dG = base + ws_floats;
  float* dGh = split ? dG + rows * GU : nullptr;
  float* buf = dG + rows * GU * (split ? 2 : 1);
  if (!g.ws && d.B > 0 && U > 0) {
    // Rebuild the workspace; the outputs land in dG and the step buffers, unused.
    RnnForward f;
    f.ws = ws;
    f.y = dG;  // (B,T,U) fits in dG, which the backward overwrites
    f.hT = buf;
    f.cT = buf + d.B * U;
    forward(a, f);
  }
  const Ws w = ws_views(a, d, ws, true);
  backward_steps(a, d, w, g, dG, dGh, buf);
  // Whole-sequence products over the B*T rows (b,t).
  gemm(d.I, GU, rows, a.x, d.I, true, dG, GU, false, g.dkernel, GU);
  if (gru_two_gemms(a)) {
    gemm(U, 2 * U, rows, w.hprev, U, true, dG, GU, false, g.drecurrent, GU);
    gemm(U, U, rows, w.aux, U, true, dG + 2 * U, GU, false, g.drecurrent + 2 * U, GU);
  } else {
    gemm(U, GU, rows, w.hprev, U, true, split ? dGh : dG, GU, false, g.drecurrent, GU);
  }
  if (g.dbias) {
    col_sum(dG, rows, GU, g.dbias);
    if (split) col_sum(dGh, rows, GU, g.dbias + GU);
  }
  gemm(rows, d.I, GU, dG, GU, false, a.kernel, GU, true, g.dx, d.I);
}

void nonzero_bytes_device(const void* src, int elem_bytes, bool is_float, int64_t n,
                          uint8_t* dst) {
  if (n <= 0) return;
  nonzero_kernel<<<grid_for(n), kThreads>>>(src, elem_bytes, is_float, n, dst);
  PK_LAUNCH_CHECK("rnn_mask");
}

}  // namespace pykern::cuda
