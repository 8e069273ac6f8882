// Fused recurrent layers on the GPU (contract: cuda/rnn.h, pykern/rnn.h). The
// driver mirrors cpu/rnn.cpp step for step; the CPU's per-row passes
// (cpu/kernels/rnn_rows_body.h) become one thread per (batch row, unit) that
// handles all G gates of its unit, so gate k of unit j is read at k*U + j and a
// warp's loads are contiguous. Kernels are ordered by the stream.
//
// Two ways to run a step:
// - gemm: the recurrent product Gh = h R as one sgemm_device call, then the
//   gate kernel (each thread updates its own h/c entries in place). GRU without
//   reset_after always takes it (r*h needs a second product inside the step).
// - fused (the default otherwise): one kernel per step computes its (row, unit)
//   tile's G dot products h[b,:] . R[:, k*U + j] from shared-memory tiles and
//   applies the gates at once, so a step is one launch, not two, and Gh never
//   goes through memory. Other blocks still read h while a block writes the new
//   state, so h ping-pongs between two buffers. The backward folds dh_prev's
//   recurrent part, dG[:, t'] R^T of the step after, into the next step's kernel
//   the same way (one launch per step; one last GEMM for dh0).
// Both add every product in a fixed order: bitwise repeatable. PYKERN_CUDA_RNN=gemm
// in the environment forces the gemm path (read at each call, so tests run both).
//
// Scratch comes from the caching allocator and is released when the launcher
// returns: the next owner's work is queued behind ours on the same stream.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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

// The fused kernels' tiles: 32 units (a warp's lanes) x 8 batch rows (the
// warps) per block, stepping the dot products' inner dimension by 32.
constexpr int kTileU = 32, kTileB = 8, kTileK = 32;
constexpr int kFusedThreads = kTileU * kTileB;
constexpr int64_t kMaxGridY = 65535;

bool fused_path(const RnnArgs& a) {
  if (gru_two_gemms(a) || (a.B + kTileB - 1) / kTileB > kMaxGridY) return false;
  const char* env = std::getenv("PYKERN_CUDA_RNN");
  return env == nullptr || std::strcmp(env, "gemm") != 0;
}

dim3 fused_grid(const Dims& d) {
  return dim3(static_cast<unsigned>((d.U + kTileU - 1) / kTileU),
              static_cast<unsigned>((d.B + kTileB - 1) / kTileB));
}

using Ws = RnnWorkspace;

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

template <class Kernel, class Args>
void launch_rows(Kernel kernel, const Args& p, const char* name) {
  const int64_t n = p.B * p.U;
  if (n == 0) return;
  kernel<<<grid_for(n), kThreads>>>(p);
  PK_LAUNCH_CHECK(name);
}

// ---- forward ------------------------------------------------------------

// One step's arguments; (B,T,U) arrays are indexed by the input time t, y by
// the processing step s.
struct FwdStep {
  int64_t B, T, U, GU, t, s;
  Act act, rec_act;
  bool zero_output_for_mask;
  const uint8_t* mask;  // (B,T) or null
  float* z;             // (B,T,GU) in: x W + b; out: the pre-activations
  const float* gh;      // (B,GU) gemm path: h R [+ b'] (GRU two-GEMM: z, r, then (r*h) R_h)
  const float* h;       // (B,U) the state before the step
  float* h_out;         // (B,U) the state after it (the gemm path: h itself)
  float* c;             // (B,U) LSTM cell state, updated in place
  float* y;             // (B,T,U)
  float* save_h;        // (B,T,U) workspace Hprev, or null
  float* aux;           // (B,T,U) LSTM Cprev / GRU Aux, or null
  float* keep;          // (B,U) GRU without reset_after: z between the two kernels
  float* rh;            // (B,U) GRU without reset_after: r*h, the second GEMM's rows
};

// The step of row b, unit j, given gh[k] = gate k's recurrent product
// (h R [+ b'])[b, k*U + j]. GRU without reset_after (p.rh set): the gates z, r
// and r*h only, from gh[0..1] (gru_fwd_state_kernel finishes the step).
template <Cell C>
__device__ __forceinline__ void fwd_cell(const FwdStep& p, int64_t b, int64_t j,
                                         const float* gh) {
  const int64_t U = p.U, e = b * U + j;
  const int64_t i = b * p.T + p.t;  // the (b, t) row of x and of the workspace
  const int64_t wi = i * U + j;
  float* z = p.z + i * p.GU + j;
  float* y = p.y + (b * p.T + p.s) * U + j;
  const float hp = p.h[e];
  if (p.save_h) p.save_h[wi] = hp;
  if (p.mask && !p.mask[i]) {
    // A skipped step: states carry over, the output repeats (or is zero).
    if (C == Cell::lstm && p.aux) p.aux[wi] = p.c[e];
    if (C == Cell::gru && p.aux) p.aux[wi] = 0.0f;
    if (p.rh) p.rh[e] = 0.0f;
    p.h_out[e] = hp;
    *y = (p.zero_output_for_mask || p.s == 0) ? 0.0f : y[-U];
    return;
  }
  if constexpr (C == Cell::simple) {
    const float v = z[0] + gh[0];
    z[0] = v;
    const float hn = act_apply(v, p.act);
    p.h_out[e] = hn;
    *y = hn;
  } else if constexpr (C == Cell::lstm) {
    float zg[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      zg[k] = z[k * U] + gh[k];
      z[k * U] = zg[k];
    }
    const float ig = act_apply(zg[0], p.rec_act), fg = act_apply(zg[1], p.rec_act);
    const float gg = act_apply(zg[2], p.act), og = act_apply(zg[3], p.rec_act);
    const float cp = p.c[e];
    if (p.aux) p.aux[wi] = cp;
    const float cn = fg * cp + ig * gg;
    p.c[e] = cn;
    const float hn = og * act_apply(cn, p.act);
    p.h_out[e] = hn;
    *y = hn;
  } else {
    const float pz = z[0] + gh[0], pr = z[U] + gh[1];
    z[0] = pz;
    z[U] = pr;
    const float zg = act_apply(pz, p.rec_act), rg = act_apply(pr, p.rec_act);
    if (p.rh) {
      const float rh = rg * hp;
      p.rh[e] = rh;
      if (p.aux) p.aux[wi] = rh;
      p.keep[e] = zg;
      return;
    }
    const float hr = gh[2];
    if (p.aux) p.aux[wi] = hr;
    const float ph = z[2 * U] + rg * hr;
    z[2 * U] = ph;
    const float hh = act_apply(ph, p.act);
    const float hn = zg * hp + (1.0f - zg) * hh;
    p.h_out[e] = hn;
    *y = hn;
  }
}

// gemm path: the step for every (row b, unit j) from the GEMM's Gh.
template <Cell C>
__global__ void __launch_bounds__(kThreads) fwd_step_kernel(FwdStep p) {
  constexpr int G = kGates<C>;
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  const int ng = C == Cell::gru && p.rh ? 2 : G;  // GRU two-GEMM: h's product comes later
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    float gh[G];
#pragma unroll
    for (int k = 0; k < G; ++k) gh[k] = k < ng ? p.gh[b * p.GU + k * U + j] : 0.0f;
    fwd_cell<C>(p, b, j, gh);
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
    const float zg = p.keep[e], hh = act_apply(ph, p.act);
    const float hn = zg * p.h[e] + (1.0f - zg) * hh;
    p.h_out[e] = hn;
    p.y[(b * p.T + p.s) * U + j] = hn;
  }
}

// fused path: block (kTileU, kTileB) takes units j0 + threadIdx.x and rows
// b0 + threadIdx.y. For each kTileK slice of the inner dimension it stages h's
// rows (kTileB x kTileK) and, for every gate, R's columns of its units
// (kTileK x G x kTileU) in shared memory, zero past B and U; each thread adds
// its G products in increasing k. rec_bias: b' (GRU reset_after) or null.
template <Cell C>
__global__ void __launch_bounds__(kFusedThreads)
    fused_fwd_step_kernel(FwdStep p, const float* __restrict__ R,
                          const float* __restrict__ rec_bias) {
  constexpr int G = kGates<C>;
  static_assert(kTileB * kTileK == kFusedThreads, "one h value per thread per slice");
  __shared__ float hs[kTileB][kTileK + 1];
  __shared__ float rs[kTileK][G][kTileU];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kTileU + tx;
  const int64_t U = p.U, GU = p.GU;
  const int64_t j0 = int64_t(blockIdx.x) * kTileU, b0 = int64_t(blockIdx.y) * kTileB;
  float acc[G];
#pragma unroll
  for (int k = 0; k < G; ++k) acc[k] = 0.0f;
  for (int64_t k0 = 0; k0 < U; k0 += kTileK) {
    {
      const int r = tid / kTileK, c = tid % kTileK;
      const int64_t hb = b0 + r, hk = k0 + c;
      hs[r][c] = hb < p.B && hk < U ? p.h[hb * U + hk] : 0.0f;
    }
    for (int idx = tid; idx < kTileK * G * kTileU; idx += kFusedThreads) {
      const int kk = idx / (G * kTileU), g = (idx / kTileU) % G, jj = idx % kTileU;
      const int64_t rk = k0 + kk, rj = j0 + jj;
      rs[kk][g][jj] = rk < U && rj < U ? R[rk * GU + g * U + rj] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kTileK; ++kk) {
      const float hv = hs[ty][kk];
#pragma unroll
      for (int g = 0; g < G; ++g) acc[g] = fmaf(hv, rs[kk][g][tx], acc[g]);
    }
    __syncthreads();
  }
  const int64_t b = b0 + ty, j = j0 + tx;
  if (b >= p.B || j >= U) return;
  float gh[G];
#pragma unroll
  for (int k = 0; k < G; ++k) gh[k] = rec_bias ? acc[k] + rec_bias[k * U + j] : acc[k];
  fwd_cell<C>(p, b, j, gh);
}

void launch_fwd_step(Cell cell, const FwdStep& p) {
  switch (cell) {
    case Cell::simple: return launch_rows(fwd_step_kernel<Cell::simple>, p, "rnn_fwd_step");
    case Cell::lstm: return launch_rows(fwd_step_kernel<Cell::lstm>, p, "lstm_fwd_step");
    case Cell::gru: return launch_rows(fwd_step_kernel<Cell::gru>, p, "gru_fwd_step");
  }
}

void launch_fused_fwd_step(Cell cell, const Dims& d, const FwdStep& p, const float* R,
                           const float* rec_bias) {
  if (d.B * d.U == 0) return;
  const dim3 grid = fused_grid(d), block(kTileU, kTileB);
  switch (cell) {
    case Cell::simple:
      fused_fwd_step_kernel<Cell::simple><<<grid, block>>>(p, R, rec_bias);
      return PK_LAUNCH_CHECK("rnn_fused_fwd_step");
    case Cell::lstm:
      fused_fwd_step_kernel<Cell::lstm><<<grid, block>>>(p, R, rec_bias);
      return PK_LAUNCH_CHECK("lstm_fused_fwd_step");
    case Cell::gru:
      fused_fwd_step_kernel<Cell::gru><<<grid, block>>>(p, R, rec_bias);
      return PK_LAUNCH_CHECK("gru_fused_fwd_step");
  }
}

// The recurrence; w.z holds x W + b on entry. hT and c (LSTM) are the state
// buffers, initialised here and holding the final states on return; h_alt (B,U)
// is the fused path's second state buffer, gh/keep/rh the gemm path's.
void forward_steps(const RnnArgs& a, const Dims& d, const Ws& w, float* y, float* hT, float* c,
                   float* gh, float* keep, float* rh, float* h_alt) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  copy_or_zero(hT, a.h0, B * U);
  if (a.cell == Cell::lstm) copy_or_zero(c, a.c0, B * U);
  const float* rec_bias = a.cell == Cell::gru && a.reset_after && a.bias ? a.bias + GU : nullptr;
  const bool two = gru_two_gemms(a), fused = fused_path(a);
  FwdStep p{B, T, U, GU, 0, 0, a.act, a.rec_act, a.zero_output_for_mask, a.mask, w.z, gh,
            hT, hT, c, y, w.hprev, w.aux, two ? keep : nullptr, two ? rh : nullptr};
  float* cur = hT;
  float* next = h_alt;
  for (int64_t s = 0; s < T; ++s) {
    p.s = s;
    p.t = a.reverse ? T - 1 - s : s;
    if (fused) {
      p.h = cur;
      p.h_out = next;
      launch_fused_fwd_step(a.cell, d, p, a.recurrent, rec_bias);
      std::swap(cur, next);
      continue;
    }
    gemm(B, two ? 2 * U : GU, U, hT, U, false, a.recurrent, GU, false, gh, GU, 0.0f, rec_bias);
    launch_fwd_step(a.cell, p);
    if (!two) continue;
    gemm(B, U, U, rh, U, false, a.recurrent + 2 * U, GU, false, gh + 2 * U, GU);
    launch_rows(gru_fwd_state_kernel, p, "gru_fwd_state");
  }
  if (cur != hT) copy_or_zero(hT, cur, B * U);
}

// Runs the forward pass into out (its hT and, for LSTM, cT serve as the state
// buffers), saving the workspace into out.ws when it is set.
void forward(const RnnArgs& a, const RnnForward& out) {
  const Dims d = dims_of(a);
  const bool saved = out.ws != nullptr;
  const int64_t z_floats = saved ? 0 : d.B * d.T * d.GU;
  DeviceBuffer scratch((z_floats + d.B * d.GU + 3 * d.B * d.U) * sizeof(float));
  float* base = scratch.f32();
  const Ws w = rnn_workspace_views(a, saved ? out.ws : base, saved);
  float* gh = base + z_floats;
  float* keep = gh + d.B * d.GU;
  float* rh = keep + d.B * d.U;
  float* h_alt = rh + d.B * d.U;
  // GRU: the input bias is row 0 of (2, 3U) or the whole (3U,).
  gemm(d.B * d.T, d.GU, d.I, a.x, d.I, false, a.kernel, d.GU, false, w.z, d.GU, 0.0f, a.bias);
  forward_steps(a, d, w, out.y, out.hT, out.cT, gh, keep, rh, h_alt);
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
  const float* dh;      // (B,U) w.r.t. the state after the step (the fused path: its
                        // element-wise part; the recurrent part is added in the kernel)
  float* dpo;           // (B,U) w.r.t. the previous output (masks): read and zeroed; or null
  float* dc;            // (B,U) LSTM: in w.r.t. the new c, out w.r.t. the previous c
  float* dg;            // (B,T,GU) out: w.r.t. the pre-activations
  float* dgh;           // (B,T,GU) GRU with reset_after: w.r.t. h R + b'; else null
  float* dhn;           // (B,U) out: the element-wise part of dh_prev (may be dh itself)
  float* keep;          // (B,U) GRU without reset_after: r, for the reset kernel
  const float* drh;     // (B,U) GRU without reset_after: d(r*h) from the GEMM
};

// dG of one step for row b, unit j, given the gradient w.r.t. the state after
// the step carried from later steps; GRU without reset_after: all but the reset
// gate's, which needs d(r*h) from a GEMM first (gru_bwd_reset_kernel).
template <Cell C>
__device__ __forceinline__ void bwd_cell(const BwdStep& p, int64_t b, int64_t j, float carried) {
  constexpr int G = kGates<C>;
  const int64_t U = p.U, e = b * U + j;
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
    p.dhn[e] = carried;
    if (dy && !p.zero_output_for_mask) p.dpo[e] += *dy;
    return;
  }
  // The step's total dh: carried + output gradient + the repeated outputs'.
  float dh = carried;
  if (dy) dh = dh + *dy;
  if (p.dpo) {
    dh = dh + p.dpo[e];
    p.dpo[e] = 0.0f;
  }
  const float* z = p.z + i * p.GU + j;
  if constexpr (C == Cell::simple) {
    const float v = z[0];
    dg[0] = dh * act_derivative(v, act_apply(v, p.act), p.act);
    p.dhn[e] = 0.0f;
  } else if constexpr (C == Cell::lstm) {
    const float z0 = z[0], z1 = z[U], z2 = z[2 * U], z3 = z[3 * U];
    const float ig = act_apply(z0, p.rec_act), fg = act_apply(z1, p.rec_act);
    const float gg = act_apply(z2, p.act), og = act_apply(z3, p.rec_act);
    const float cp = p.aux[wi];
    const float cn = fg * cp + ig * gg, ac = act_apply(cn, p.act);
    const float dc = p.dc[e] + dh * og * act_derivative(cn, ac, p.act);
    dg[0] = dc * gg * act_derivative(z0, ig, p.rec_act);
    dg[U] = dc * cp * act_derivative(z1, fg, p.rec_act);
    dg[2 * U] = dc * ig * act_derivative(z2, gg, p.act);
    dg[3 * U] = dh * ac * act_derivative(z3, og, p.rec_act);
    p.dc[e] = dc * fg;
    p.dhn[e] = 0.0f;
  } else {
    const float pz = z[0], pr = z[U], ph = z[2 * U];
    const float zg = act_apply(pz, p.rec_act), rg = act_apply(pr, p.rec_act), hh = act_apply(ph, p.act);
    const float dph = dh * (1.0f - zg) * act_derivative(ph, hh, p.act);
    const float dpz = dh * (p.hprev[wi] - hh) * act_derivative(pz, zg, p.rec_act);
    dg[0] = dpz;
    dg[2 * U] = dph;
    p.dhn[e] = dh * zg;
    if (!dgh) {
      p.keep[e] = rg;
      return;
    }
    const float dpr = dph * p.aux[wi] * act_derivative(pr, rg, p.rec_act);
    dg[U] = dpr;
    dgh[0] = dpz;
    dgh[U] = dpr;
    dgh[2 * U] = dph * rg;
  }
}

// gemm path: one step for every (row b, unit j); p.dh holds the whole carried dh.
template <Cell C>
__global__ void __launch_bounds__(kThreads) bwd_step_kernel(BwdStep p) {
  const int64_t n = p.B * p.U, stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t U = p.U;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t b = e / U, j = e - b * U;
    bwd_cell<C>(p, b, j, p.dh[e]);
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
    p.dg[i * p.GU + U + j] = drh * p.hprev[i * U + j] * act_derivative(pr, rg, p.rec_act);
    p.dhn[e] = p.dhn[e] + drh * rg;
  }
}

// fused path: block (kTileU, kTileB) as fused_fwd_step_kernel. The carried dh of
// row b, unit j is p.dh[b, j] (the element-wise part left by the step after)
// plus sum_c later[b, c] R[j, c], later = that step's dG (dGh for GRU with
// reset_after) at its time, rows T*GU apart, or null for the last step. Slices
// of kTileC columns c of `later` (kTileB rows) and of R (kTileU rows, read along
// c and stored transposed) are staged in shared memory, zero past B, U and GU;
// wide slices, since G*U columns are summed here against U in the forward.
// p.dh and p.dhn may alias: each thread reads its entry before writing it, and
// no block reads another's.
constexpr int kTileC = 128;

template <Cell C>
__global__ void __launch_bounds__(kFusedThreads)
    fused_bwd_step_kernel(BwdStep p, const float* __restrict__ R, const float* later) {
  __shared__ float ds[kTileB][kTileC + 1];
  __shared__ float rs[kTileC][kTileU + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kTileU + tx;
  const int64_t U = p.U, GU = p.GU, ld = p.T * p.GU;
  const int64_t j0 = int64_t(blockIdx.x) * kTileU, b0 = int64_t(blockIdx.y) * kTileB;
  float acc = 0.0f;
  if (later) {
    for (int64_t c0 = 0; c0 < GU; c0 += kTileC) {
      for (int idx = tid; idx < kTileB * kTileC; idx += kFusedThreads) {
        const int r = idx / kTileC, c = idx % kTileC;
        const int64_t db = b0 + r, dc = c0 + c;
        ds[r][c] = db < p.B && dc < GU ? later[db * ld + dc] : 0.0f;
      }
      for (int idx = tid; idx < kTileC * kTileU; idx += kFusedThreads) {
        const int cc = idx % kTileC, jj = idx / kTileC;
        const int64_t rj = j0 + jj, rc = c0 + cc;
        rs[cc][jj] = rj < U && rc < GU ? R[rj * GU + rc] : 0.0f;
      }
      __syncthreads();
#pragma unroll 8
      for (int cc = 0; cc < kTileC; ++cc) acc = fmaf(ds[ty][cc], rs[cc][tx], acc);
      __syncthreads();
    }
  }
  const int64_t b = b0 + ty, j = j0 + tx;
  if (b >= p.B || j >= U) return;
  bwd_cell<C>(p, b, j, p.dh[b * U + j] + acc);
}

void launch_bwd_step(Cell cell, const BwdStep& p) {
  switch (cell) {
    case Cell::simple: return launch_rows(bwd_step_kernel<Cell::simple>, p, "rnn_bwd_step");
    case Cell::lstm: return launch_rows(bwd_step_kernel<Cell::lstm>, p, "lstm_bwd_step");
    case Cell::gru: return launch_rows(bwd_step_kernel<Cell::gru>, p, "gru_bwd_step");
  }
}

void launch_fused_bwd_step(Cell cell, const Dims& d, const BwdStep& p, const float* R,
                           const float* later) {
  if (d.B * d.U == 0) return;
  const dim3 grid = fused_grid(d), block(kTileU, kTileB);
  switch (cell) {
    case Cell::simple:
      fused_bwd_step_kernel<Cell::simple><<<grid, block>>>(p, R, later);
      return PK_LAUNCH_CHECK("rnn_fused_bwd_step");
    case Cell::lstm:
      fused_bwd_step_kernel<Cell::lstm><<<grid, block>>>(p, R, later);
      return PK_LAUNCH_CHECK("lstm_fused_bwd_step");
    case Cell::gru:
      fused_bwd_step_kernel<Cell::gru><<<grid, block>>>(p, R, later);
      return PK_LAUNCH_CHECK("gru_fused_bwd_step");
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
  float* dhn = dh + B * U;    // (B,U) w.r.t. the state before it (the gemm path)
  float* dc = dhn + B * U;    // (B,U)
  float* dpo = dc + B * U;    // (B,U) w.r.t. the previous output (masks)
  float* drh = dpo + B * U;   // (B,U) GRU without reset_after: d(r*h)
  float* keep = drh + B * U;  // (B,U) ... and r between the kernels
  copy_or_zero(dh, g.dhT, B * U);
  if (a.cell == Cell::lstm) copy_or_zero(dc, g.dcT, B * U);
  if (a.mask) copy_or_zero(dpo, nullptr, B * U);
  const bool two = gru_two_gemms(a), fused = fused_path(a);
  // The gradients the recurrent product feeds back, and over how many columns.
  const float* rec_dG = dGh ? dGh : dG;
  const int64_t rec_cols = two ? 2 * U : GU;
  auto time_of = [&](int64_t s) { return a.reverse ? T - 1 - s : s; };
  BwdStep p{B, T, U, GU, 0, 0, a.act, a.rec_act, a.zero_output_for_mask, a.mask, w.z, w.hprev,
            w.aux, g.dy, dh, a.mask ? dpo : nullptr, dc, dG, dGh, fused ? dh : dhn, keep, drh};
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = time_of(s);
    p.s = s;
    p.t = t;
    if (fused) {
      const float* later = s + 1 < T ? rec_dG + time_of(s + 1) * GU : nullptr;
      launch_fused_bwd_step(a.cell, d, p, a.recurrent, later);
      continue;
    }
    p.dh = dh;
    p.dhn = dhn;
    launch_bwd_step(a.cell, p);
    if (two) {
      // d(r*h) (B,U) = dG_h[:, t] R_h^T, R_h = R[:, 2U:3U]
      gemm(B, U, U, dG + t * GU + 2 * U, T * GU, false, a.recurrent + 2 * U, GU, true, drh, U);
      launch_rows(gru_bwd_reset_kernel, p, "gru_bwd_reset");
    }
    // dh_prev += dG[:, t] R^T over the gates the recurrent product feeds
    gemm(B, U, rec_cols, rec_dG + t * GU, T * GU, false, a.recurrent, GU, true, dhn, U, 1.0f);
    std::swap(dh, dhn);
  }
  // fused: the first processed step's recurrent part has no later kernel to go to
  if (fused && T > 0)
    gemm(B, U, rec_cols, rec_dG + time_of(0) * GU, T * GU, false, a.recurrent, GU, true, dh, U,
         1.0f);
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
  const Ws w = rnn_workspace_views(a, ws, true);
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
