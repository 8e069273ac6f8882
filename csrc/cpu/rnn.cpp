// Fused recurrent layers (contract: pykern/rnn.h). One call runs the whole
// sequence; the heavy products are sgemm calls made from this serial driver,
// the per-step element-wise work is one fused pass per batch row (the per-ISA
// kernels of cpu/rnn_kernels.h).
//
// Forward, per step s (time t), on a whole-sequence team (forward_steps_team):
//   LSTM, SimpleRNN: Z[:, t] = [x[:, t], h] [W; R] + b   one product, [W; R] packed once
//   GRU:             Z[:, t] = x[:, t] W + b, Gh = h R + b'   (z, r, candidate)
//   rows: gates, state, y[:, s] (and the pre-activations kept in Z when training).
// Backward, per step (s = T-1..0): rows: dG[:, t] = d(pre-activations), dh_prev's
// element-wise part;  dh_prev += dG[:, t] R^T (one GEMM, R^T transposed once).
// Then over all B*T rows at once: [dW; dR; db] = [x, Hprev, 1]^T dG (LSTM,
// SimpleRNN; GRU: three products), dx = dG W^T. GRU without reset_after runs
// per-step GEMMs instead of the team, one more per step (through r*h).
//
// Workspace (float offsets, rows (b,t) like x): Z (B,T,G*U) | Hprev (B,T,U) |
// Cprev (LSTM) or Aux (GRU) (B,T,U). Scratch: the forward's step buffers live in
// thread_scratch slot 3 and the backward's in slot 1 (the backward may run the
// forward to rebuild a workspace), both on the calling thread only; sgemm uses
// slots 0 and 2.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/gemm_kernels.h"
#include "cpu/rnn_kernels.h"
#include "pykern/arena.h"
#include "pykern/gemm.h"
#include "pykern/isa.h"
#include "pykern/rnn.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

constexpr int kFwdSlot = 3, kBwdSlot = 1;
// A team thread's packed weight columns (see pack_cols): sgemm's slot 2, free
// because the team regions call the micro-kernel, never sgemm.
constexpr int kPackSlot = 2;

struct Dims {
  int64_t B, T, I, U, GU;
};

Dims dims_of(const RnnArgs& a) { return {a.B, a.T, a.I, a.U, cell_gates(a.cell) * a.U}; }

bool gru_two_gemms(const RnnArgs& a) { return a.cell == Cell::gru && !a.reset_after; }

using Ws = RnnWorkspace;

// C (M,N) = beta*C + op(A) op(B) [+ bias], row-major with leading dimensions.
GemmArgs gemm_args(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a,
                   const float* B, int64_t ldb, float* C, int64_t ldc, float beta,
                   const float* bias, bool trans_b) {
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
  return g;
}

void mm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a,
        const float* B, int64_t ldb, float* C, int64_t ldc, float beta = 0.0f,
        const float* bias = nullptr, bool trans_b = false) {
  sgemm(gemm_args(M, N, K, A, lda, trans_a, B, ldb, C, ldc, beta, bias, trans_b));
}

// f(b) for every batch row; rows are independent, so any split gives the same
// bits. About `flops_per_row` of work each decides whether a team pays off.
template <class F>
void for_rows(int64_t B, double flops_per_row, F&& f) {
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(B * flops_per_row), B));
  if (nt <= 1) {
    for (int64_t b = 0; b < B; ++b) f(b);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < B; ++b) f(b);
}

// The row passes' cost per gate value in the units of threads_for (flops at the
// GEMM's rate): measured ~1.2 ns per gate value for an LSTM step on one core,
// about 120 flops at ~100 GFLOP/s.
constexpr double kFlopsPerGate = 120.0;

const cpu::RnnRowKernels& row_kernels() {
  static const cpu::RnnRowKernels& k = [] () -> const cpu::RnnRowKernels& {
    switch (cpu_isa()) {
      case Isa::avx512: return cpu::avx512::rnn_row_kernels();
      case Isa::avx2: return cpu::avx2::rnn_row_kernels();
      default: return cpu::generic::rnn_row_kernels();
    }
  }();
  return k;
}

// The part of a row pass' arguments both directions share: row b at time t,
// units [j0, j0 + n) (all of them, or a team thread's slice).
cpu::RnnRow row_at(const RnnArgs& a, const Dims& d, const Ws& w, int64_t b, int64_t t,
                   int64_t j0, int64_t n) {
  cpu::RnnRow r;
  r.U = n;
  r.gs = d.U;
  r.act = a.act;
  r.rec_act = a.rec_act;
  r.z = w.z + (b * d.T + t) * d.GU + j0;
  return r;
}

// The step buffers of the forward (h: B rows ldh apart; c: (B,U); gh: (B,GU)) and of
// the backward (dh, dhn, dc, dpo: (B,U); dG, dGh: (B,T,GU), dGh null but for GRU with
// reset_after). gh_full: gh holds the whole pre-activation (see RnnRow).
struct FwdBufs {
  float *h, *c, *gh;
  int64_t ldh;
  bool gh_full;
};
struct BwdBufs {
  float *dh, *dhn, *dc, *dpo, *dG, *dGh;
};

// Row b's forward pass arguments at step s (time t) for units [j0, j0 + n).
cpu::RnnRow forward_row(const RnnArgs& a, const Dims& d, const Ws& w, const RnnForward& out,
                        const FwdBufs& f, int64_t b, int64_t s, int64_t t, int64_t j0,
                        int64_t n) {
  cpu::RnnRow r = row_at(a, d, w, b, t, j0, n);
  const int64_t U = d.U, i = (b * d.T + t) * U + j0;
  r.gh = f.gh + b * d.GU + j0;
  r.gh_full = f.gh_full;
  r.h = f.h + b * f.ldh + j0;
  r.c = f.c + b * U + j0;
  r.y = out.y + (b * d.T + s) * U + j0;
  r.save_h = w.hprev ? w.hprev + i : nullptr;
  if (a.cell == Cell::lstm) r.save_c = w.aux ? w.aux + i : nullptr;
  if (a.cell == Cell::gru) r.aux = w.aux ? w.aux + i : nullptr;
  return r;
}

// Row b's backward pass arguments at step s (time t) for units [j0, j0 + n).
cpu::RnnRow backward_row(const RnnArgs& a, const Dims& d, const Ws& w, const RnnBackward& g,
                         const BwdBufs& f, int64_t b, int64_t s, int64_t t, int64_t j0,
                         int64_t n) {
  cpu::RnnRow r = row_at(a, d, w, b, t, j0, n);
  const int64_t U = d.U, row = b * d.T + t, i = row * U + j0;
  r.hp = w.hprev + i;
  if (a.cell == Cell::lstm) r.cp = w.aux + i;
  if (a.cell == Cell::gru) r.aux = w.aux + i;
  r.dh = f.dh + b * U + j0;
  r.dy = g.dy ? g.dy + (b * d.T + s) * U + j0 : nullptr;
  r.dpo = a.mask ? f.dpo + b * U + j0 : nullptr;
  r.dc = f.dc + b * U + j0;
  r.dg = f.dG + row * d.GU + j0;
  r.dgh = f.dGh ? f.dGh + row * d.GU + j0 : nullptr;
  r.dhn = f.dhn + b * U + j0;
  return r;
}

// dst (cols, rows) = src (rows, cols)^T, in 32 x 32 tiles that stay in L1.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  constexpr int64_t kTile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile)
      for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          dst[c * rows + r] = src[r * cols + c];
}

// ---- drivers ------------------------------------------------------------

void copy_rows(float* dst, const float* src, int64_t n) {
  if (src)
    std::memcpy(dst, src, n * sizeof(float));
  else
    std::memset(dst, 0, n * sizeof(float));
}

cpu::RnnRowPass forward_pass(const RnnArgs& a) {
  const cpu::RnnRowKernels& k = row_kernels();
  return a.cell == Cell::lstm ? k.lstm_fwd : a.cell == Cell::gru ? k.gru_fwd : k.simple_fwd;
}

// GRU with reset_after adds b' (row 1 of its (2, 3U) bias) to h R.
const float* recurrent_bias(const RnnArgs& a, int64_t GU) {
  return a.cell == Cell::gru && a.reset_after && a.bias ? a.bias + GU : nullptr;
}

// A step the mask skips for one row (r.U units, outputs U apart): the states
// carry over, the output repeats the previous one (or is zero).
// With a whole pre-activation in gh, a saved Z keeps it (as a used step would), so
// the workspace never holds stale values.
void skip_step(const RnnArgs& a, const cpu::RnnRow& r, int64_t s, int64_t U) {
  const size_t bytes = r.U * sizeof(float);
  if (r.gh_full && r.save_h)
    for (int64_t k = 0; k < cell_gates(a.cell); ++k) std::memcpy(r.z + k * r.gs, r.gh + k * r.gs, bytes);
  if (r.save_h) std::memcpy(r.save_h, r.h, bytes);
  if (r.save_c) std::memcpy(r.save_c, r.c, bytes);
  if (r.aux) std::memset(r.aux, 0, bytes);
  if (r.rh) std::memset(r.rh, 0, bytes);
  if (a.zero_output_for_mask || s == 0)
    std::memset(r.y, 0, bytes);
  else
    std::memcpy(r.y, r.y - U, bytes);
}

// The recurrence on a team that lives for the whole sequence: thread i owns the
// units [j_i, j_(i+1)) (whole vectors) and, for them, every gate's columns of
// the step's product, the rows' gate pass, c and the new h -- so a step needs one
// barrier (the next step's product reads all of h) instead of two team wake-ups
// (the GEMM's and the rows'). h is double-buffered: a step reads one buffer and
// writes the other.
//
// LSTM and SimpleRNN make a step's whole pre-activation x_t W + h R + b as one
// product over the row [x_t, h] (K = I + U), [W; R] packed once per sequence: one
// micro-kernel chain instead of two (K = I, then K = U) and no Z to store and
// reload. The step buffers hold [x_t, h] rows; the team copies the next step's x
// rows in before its barrier. GRU keeps h R_h + b'_h apart (the reset gate scales
// it) and projects x per step, on the thread's own columns.
//
// The team runs every sequence but GRU without reset_after's (two GEMMs a step),
// one thread included. Every value is one micro-kernel chain over K, whatever the
// split, so the result depends neither on the split nor on the thread count. The
// backward's team (backward_steps_team) is built the same way around
// dh_prev += dG R^T.
constexpr int64_t kTeamUnitAlign = 16;  // one AVX-512 vector of units

bool fused_projection(const RnnArgs& a) { return a.cell != Cell::gru; }

// The team size for a step of `step_flops`: 0 means the per-step path.
int team_threads(const RnnArgs& a, const Dims& d, double step_flops) {
  if (gru_two_gemms(a)) return 0;
  const int64_t by_units = std::max<int64_t>(1, d.U / kTeamUnitAlign);
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads_for(step_flops), by_units)));
}

int64_t unit_split(int64_t U, int nt, int i) {
  if (i >= nt) return U;
  return (U * i / nt + kTeamUnitAlign / 2) / kTeamUnitAlign * kTeamUnitAlign;
}

// A team thread's columns [c0, c0 + n) of the row-major (k1 + k2, ld) matrix
// [top; bottom] (k2 == 0: top alone), copied once per sequence into NR-wide
// panels (k-major, zero-padded), so every step's product reads them contiguously.
// In place, a panel's K rows lie ld floats apart: with ld a multiple of 512 (4U
// for U = 128) they all fall in a few L1 sets and the panel is fetched from L2
// again for each micro-tile.
void pack_cols(const float* top, int64_t k1, const float* bottom, int64_t k2, int64_t ld,
               int64_t c0, int64_t n, int nr, float* dst) {
  const int64_t K = k1 + k2;
  for (int64_t p = 0; p * nr < n; ++p) {
    const int64_t cols = std::min<int64_t>(nr, n - p * nr);
    float* d = dst + p * nr * K;
    for (int64_t k = 0; k < K; ++k) {
      const float* src = k < k1 ? top + k * ld : bottom + (k - k1) * ld;
      std::memcpy(d + k * nr, src + c0 + p * nr, cols * sizeof(float));
      std::fill(d + k * nr + cols, d + (k + 1) * nr, 0.0f);
    }
  }
}

// C (M, n) = beta*C + A (M, K) @ the packed columns [+ bias]: micro-kernel calls
// with the whole K chain, the same arithmetic as sgemm's (sgemm_single_k_chain).
void mm_packed(const cpu::IsaKernels& ks, int64_t M, int64_t n, int64_t K, const float* A,
               int64_t lda, const float* packed, float* C, int64_t ldc, float beta,
               const float* bias) {
  const int mr = ks.mr, nr = ks.nr;
  for (int64_t p = 0; p * nr < n; ++p) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, n - p * nr));
    for (int64_t i = 0; i < M; i += mr) {
      const int m = static_cast<int>(std::min<int64_t>(mr, M - i));
      ks.micro(K, A + i * lda, lda, 1, packed + p * nr * K, nr, C + i * ldc + p * nr, ldc, m,
               cols, 1.0f, beta, bias ? bias + p * nr : nullptr);
    }
  }
}

// Copies x[:, t] into the first I floats of rows [b0, b1) of a fused step buffer.
void load_x_rows(const RnnArgs& a, const Dims& d, int64_t t, int64_t b0, int64_t b1, float* xh,
                 int64_t ldh) {
  for (int64_t b = b0; b < b1; ++b)
    std::memcpy(xh + b * ldh, a.x + (b * d.T + t) * d.I, d.I * sizeof(float));
}

void forward_steps_team(const RnnArgs& a, const Dims& d, const Ws& w, const RnnForward& out,
                        float* buf, int nt) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU, G = cell_gates(a.cell);
  const bool fused = fused_projection(a);
  const int64_t hoff = fused ? d.I : 0, ldh = hoff + U;  // h at hoff in rows ldh apart
  float* hb[2] = {buf, buf + B * ldh};
  float* c = hb[1] + B * ldh;
  float* gh = c + B * U;
  for (int64_t b = 0; b < B; ++b)
    copy_rows(hb[0] + b * ldh + hoff, a.h0 ? a.h0 + b * U : nullptr, U);
  if (fused && T > 0) load_x_rows(a, d, a.reverse ? T - 1 : 0, 0, B, hb[0], ldh);
  copy_rows(c, a.c0, B * U);
  const cpu::RnnRowPass pass = forward_pass(a);
  const float* rec_bias = recurrent_bias(a, GU);
  const cpu::IsaKernels& ks = cpu::kernels_for(cpu_isa());
#pragma omp parallel num_threads(nt)
  {
    const int i = omp_get_thread_num();
    const int64_t j0 = unit_split(U, nt, i), j1 = unit_split(U, nt, i + 1), n = j1 - j0;
    const int64_t b0 = B * i / nt, b1 = B * (i + 1) / nt;  // the x rows this thread copies
    // The thread's columns, gate by gate: of [W; R] (fused), or of R and of W apart.
    const int64_t pn = (n + ks.nr - 1) / ks.nr * ks.nr;
    const int64_t rpanel = pn * (fused ? d.I + U : U), wpanel = fused ? 0 : pn * d.I;
    float* rp = thread_scratch(kPackSlot, size_t(G * (rpanel + wpanel)) * sizeof(float));
    float* wp = rp + G * rpanel;
    for (int64_t g = 0; n > 0 && g < G; ++g) {
      if (fused) {
        pack_cols(a.kernel, d.I, a.recurrent, U, GU, g * U + j0, n, ks.nr, rp + g * rpanel);
      } else {
        pack_cols(a.recurrent, U, nullptr, 0, GU, g * U + j0, n, ks.nr, rp + g * rpanel);
        pack_cols(a.kernel, d.I, nullptr, 0, GU, g * U + j0, n, ks.nr, wp + g * wpanel);
      }
    }
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = a.reverse ? T - 1 - s : s;
      const float* hin = hb[s & 1];
      float* hout = hb[(s + 1) & 1];
      for (int64_t g = 0; n > 0 && g < G; ++g) {
        const int64_t col = g * U + j0;
        const float* bias = a.bias ? a.bias + col : nullptr;
        if (fused) {
          mm_packed(ks, B, n, d.I + U, hin, ldh, rp + g * rpanel, gh + col, GU, 0.0f, bias);
          continue;
        }
        mm_packed(ks, B, n, d.I, a.x + t * d.I, T * d.I, wp + g * wpanel, w.z + t * GU + col,
                  T * GU, 0.0f, bias);
        mm_packed(ks, B, n, U, hin + hoff, ldh, rp + g * rpanel, gh + col, GU, 0.0f,
                  rec_bias ? rec_bias + col : nullptr);
      }
      for (int64_t b = 0; n > 0 && b < B; ++b) {
        const int64_t row = b * T + t;
        std::memcpy(hout + b * ldh + hoff + j0, hin + b * ldh + hoff + j0, n * sizeof(float));
        const cpu::RnnRow r =
            forward_row(a, d, w, out, {hout + hoff, c, gh, ldh, fused}, b, s, t, j0, n);
        if (!a.mask || a.mask[row])
          pass(r);
        else
          skip_step(a, r, s, U);
      }
      if (fused && s + 1 < T) load_x_rows(a, d, a.reverse ? t - 1 : t + 1, b0, b1, hout, ldh);
#pragma omp barrier
    }
  }
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(out.hT + b * U, hb[T & 1] + b * ldh + hoff, U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(out.cT, c, B * U * sizeof(float));
}

// Z[:, t] = x[:, t] W + b: the input projection of one step, made just before
// the step's row passes read it, so they find it in cache. (One GEMM over all
// B*T rows up front left Z, 6.5 MB for LSTM(128) on 64 x 50, in memory: a step's
// rows lie T*G*U floats apart, the hardware prefetcher does not follow them, and
// perf put about a third of the row passes on those loads; software prefetching
// a step ahead recovered only part of it.) Every value is still one K chain, so
// the bits are the same as the one GEMM's. GRU: the input bias is row 0 of
// (2, 3U) or the whole (3U,).
void project_step(const RnnArgs& a, const Dims& d, const Ws& w, int64_t t) {
  mm(d.B, d.GU, d.I, a.x + t * d.I, d.T * d.I, false, a.kernel, d.GU, w.z + t * d.GU,
     d.T * d.GU, 0.0f, a.bias);
}

// The recurrence itself, each step projecting its inputs first.
void forward_steps(const RnnArgs& a, const Dims& d, const Ws& w, const RnnForward& out,
                   float* buf) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  const int team = team_threads(a, d, B * (2.0 * (d.I + U) + kFlopsPerGate) * GU);
  if (team > 0) return forward_steps_team(a, d, w, out, buf, team);
  float* h = buf;            // (B,U)
  float* c = h + B * U;      // (B,U)
  float* gh = c + B * U;     // (B,GU)
  float* keep = gh + B * GU;  // (B,U) GRU without reset_after: z between the passes
  float* rh = keep + B * U;  // (B,U) ... and r*h
  copy_rows(h, a.h0, B * U);
  copy_rows(c, a.c0, B * U);
  const cpu::RnnRowKernels& k = row_kernels();
  const cpu::RnnRowPass pass = forward_pass(a);
  const float* rec_bias = recurrent_bias(a, GU);
  const bool two = gru_two_gemms(a);
  const double flops = kFlopsPerGate * GU;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    project_step(a, d, w, t);
    mm(B, two ? 2 * U : GU, U, h, U, false, a.recurrent, GU, gh, GU, 0.0f, rec_bias);
    auto used = [&](int64_t b) { return !a.mask || a.mask[b * T + t]; };
    auto row = [&](int64_t b) {
      cpu::RnnRow r = forward_row(a, d, w, out, {h, c, gh, U, false}, b, s, t, 0, U);
      if (two) {
        r.keep = keep + b * U;
        r.rh = rh + b * U;
      }
      return r;
    };
    for_rows(B, flops, [&](int64_t b) {
      const cpu::RnnRow r = row(b);
      if (used(b)) return pass(r);
      skip_step(a, r, s, U);
    });
    if (!two) continue;
    mm(B, U, U, rh, U, false, a.recurrent + 2 * U, GU, gh + 2 * U, GU);
    for_rows(B, flops / 2, [&](int64_t b) {
      if (used(b)) k.gru_fwd_state(row(b));
    });
  }
  std::memcpy(out.hT, h, B * U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(out.cT, c, B * U * sizeof(float));
}

// The larger of the two paths' step buffers: forward_steps' h, c, gh, keep, rh and
// the team's two [x_t, h] buffers, c and gh.
int64_t forward_buffer_floats(const Dims& d) {
  return 2 * d.B * (d.I + d.U) + 2 * d.B * d.U + d.B * d.GU;
}

// Runs the forward pass, saving the workspace into ws (or, when ws is null,
// keeping only what the steps need, in scratch).
void forward(const RnnArgs& a, const RnnForward& out) {
  const Dims d = dims_of(a);
  const int64_t z_floats = d.B * d.T * d.GU;
  float* buf = thread_scratch(
      kFwdSlot, (forward_buffer_floats(d) + (out.ws ? 0 : z_floats)) * sizeof(float));
  const Ws w = rnn_workspace_views(a, out.ws ? out.ws : buf + forward_buffer_floats(d),
                                   out.ws != nullptr);
  forward_steps(a, d, w, out, buf);
}

cpu::RnnRowPass backward_pass(const RnnArgs& a) {
  const cpu::RnnRowKernels& k = row_kernels();
  return a.cell == Cell::lstm ? k.lstm_bwd : a.cell == Cell::gru ? k.gru_bwd : k.simple_bwd;
}

// A step the mask skipped, backwards, for one row (r.U units, gates r.gs apart,
// G gates): dh (and dc) pass through; its output gradient goes to the output it
// repeated.
void skip_step_backward(const RnnArgs& a, const cpu::RnnRow& r, int64_t G) {
  const int64_t S = r.gs ? r.gs : r.U;
  const size_t bytes = r.U * sizeof(float);
  for (int64_t k = 0; k < G; ++k) {
    std::memset(r.dg + k * S, 0, bytes);
    if (r.dgh) std::memset(r.dgh + k * S, 0, bytes);
  }
  std::memcpy(r.dhn, r.dh, bytes);
  if (r.dy && !a.zero_output_for_mask)
    for (int64_t j = 0; j < r.U; ++j) r.dpo[j] += r.dy[j];
}

// The backward recurrence on a whole-sequence team (see forward_steps_team):
// thread i owns units [j_i, j_(i+1)): their row passes (dG's columns of every
// gate, dc, dh's element-wise part) and their columns of dh_prev += dG R^T. The
// GEMM reads every thread's dG for the step, hence one barrier per step; dh, dc
// and the masks' dpo are read and written per slice only.
void backward_steps_team(const RnnArgs& a, const Dims& d, const Ws& w, const RnnBackward& g,
                         const float* rt, float* dG, float* dGh, float* buf, int nt) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU, G = cell_gates(a.cell);
  float* dh0 = buf;
  float* dhn0 = dh0 + B * U;
  float* dc = dhn0 + B * U;
  float* dpo = dc + B * U;
  copy_rows(dh0, g.dhT, B * U);
  copy_rows(dc, g.dcT, B * U);
  std::memset(dpo, 0, B * U * sizeof(float));
  const cpu::RnnRowPass pass = backward_pass(a);
  const float* dsrc = dGh ? dGh : dG;
  const cpu::IsaKernels& ks = cpu::kernels_for(cpu_isa());
#pragma omp parallel num_threads(nt)
  {
    const int i = omp_get_thread_num();
    const int64_t j0 = unit_split(U, nt, i), j1 = unit_split(U, nt, i + 1), n = j1 - j0;
    // the thread's columns of R^T
    float* rtp = thread_scratch(kPackSlot, size_t((n + ks.nr - 1) / ks.nr * ks.nr * GU) *
                                               sizeof(float));
    if (n > 0) pack_cols(rt, GU, nullptr, 0, U, j0, n, ks.nr, rtp);
    float* dh = dh0;
    float* dhn = dhn0;
    for (int64_t s = T - 1; s >= 0; --s) {
      const int64_t t = a.reverse ? T - 1 - s : s;
      for (int64_t b = 0; n > 0 && b < B; ++b) {
        const int64_t row = b * T + t;
        const cpu::RnnRow r =
            backward_row(a, d, w, g, {dh, dhn, dc, dpo, dG, dGh}, b, s, t, j0, n);
        if (!a.mask || a.mask[row])
          pass(r);
        else
          skip_step_backward(a, r, G);
      }
#pragma omp barrier
      if (n > 0) mm_packed(ks, B, n, GU, dsrc + t * GU, T * GU, rtp, dhn + j0, U, 1.0f, nullptr);
      std::swap(dh, dhn);
    }
  }
  std::memcpy(g.dh0, T % 2 ? dhn0 : dh0, B * U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(g.dc0, dc, B * U * sizeof(float));
}

// The recurrence backwards: fills dG (and dGh for GRU with reset_after), dh0, dc0.
void backward_steps(const RnnArgs& a, const Dims& d, const Ws& w, const RnnBackward& g,
                    const float* rt, float* dG, float* dGh, float* buf) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  const int team = team_threads(a, d, B * (2.0 * U + 1.5 * kFlopsPerGate) * GU);
  if (team > 0) return backward_steps_team(a, d, w, g, rt, dG, dGh, buf, team);
  float* dh = buf;           // (B,U) w.r.t. the state after the step
  float* dhn = dh + B * U;   // (B,U) w.r.t. the state before it
  float* dc = dhn + B * U;   // (B,U)
  float* dpo = dc + B * U;   // (B,U) w.r.t. the previous output (masked steps repeat it)
  float* drh = dpo + B * U;  // (B,U) GRU without reset_after: d(r*h)
  float* keep = drh + B * U;  // (B,U) ... and r between the passes
  copy_rows(dh, g.dhT, B * U);
  copy_rows(dc, g.dcT, B * U);
  std::memset(dpo, 0, B * U * sizeof(float));
  const cpu::RnnRowKernels& k = row_kernels();
  const cpu::RnnRowPass pass = backward_pass(a);
  const bool two = gru_two_gemms(a);
  const double flops = kFlopsPerGate * 1.5 * GU;
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    auto used = [&](int64_t b) { return !a.mask || a.mask[b * T + t]; };
    auto row = [&](int64_t b) {
      cpu::RnnRow r = backward_row(a, d, w, g, {dh, dhn, dc, dpo, dG, dGh}, b, s, t, 0, U);
      r.keep = keep + b * U;
      r.drh = drh + b * U;
      return r;
    };
    for_rows(B, flops, [&](int64_t b) {
      const cpu::RnnRow r = row(b);
      if (used(b)) return pass(r);
      skip_step_backward(a, r, GU / U);
    });
    if (two) {
      mm(B, U, U, dG + t * GU + 2 * U, T * GU, false, rt + 2 * U * U, U, drh, U);
      for_rows(B, flops / 3, [&](int64_t b) {
        if (used(b)) k.gru_bwd_reset(row(b));
      });
    }
    mm(B, U, two ? 2 * U : GU, (dGh ? dGh : dG) + t * GU, T * GU, false, rt, U, dhn, U, 1.0f);
    std::swap(dh, dhn);
  }
  std::memcpy(g.dh0, dh, B * U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(g.dc0, dc, B * U * sizeof(float));
}

int64_t backward_buffer_floats(const Dims& d) { return 6 * d.B * d.U; }

// out[j] = sum over r < rows of src[r * cols + j], rows in order (the bias
// gradient: a GEMM with one row of ones packed all of dG for it). Threads take
// column blocks, so the bits do not depend on their number.
void column_sums(const float* src, int64_t rows, int64_t cols, float* out) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  auto block = [&](int64_t blk) {
    const int64_t j0 = blk * kBlock, n = std::min(kBlock, cols - j0);
    float acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = src + r * cols + j0;
      for (int64_t j = 0; j < n; ++j) acc[j] += row[j];
    }
    std::memcpy(out + j0, acc, n * sizeof(float));
  };
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(8.0 * rows * cols), blocks));
  if (nt <= 1) {
    for (int64_t b = 0; b < blocks; ++b) block(b);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t b = 0; b < blocks; ++b) block(b);
}

}  // namespace

void rnn_forward(const RnnArgs& a, const RnnForward& out) {
  validate_rnn(a, "rnn_forward");
  if (a.B == 0 || a.U == 0) return;
  forward(a, out);
}

void rnn_backward(const RnnArgs& a, const RnnBackward& g) {
  validate_rnn(a, "rnn_backward");
  const Dims d = dims_of(a);
  const int64_t rows = d.B * d.T, GU = d.GU, U = d.U;
  const bool split = a.cell == Cell::gru && a.reset_after;
  // LSTM, SimpleRNN: the weight and bias gradients as one product [x, h_prev, 1]^T dG
  // (KA = I + U [+ 1] rows of A), so dG, B*T rows, is packed once, not three times.
  const bool one_product = fused_projection(a);
  const int64_t KA = one_product ? d.I + U + (g.dbias ? 1 : 0) : 0;
  // Scratch: [workspace if recomputed | dG | dGh | R^T | step buffers | A | dW,dR,db].
  const int64_t ws_floats = g.ws ? 0 : rnn_workspace_floats(a);
  const int64_t total = ws_floats + rows * GU * (split ? 2 : 1) + GU * U +
                        backward_buffer_floats(d) + KA * (rows + GU);
  float* base = thread_scratch(kBwdSlot, total * sizeof(float));
  float* ws = g.ws ? const_cast<float*>(g.ws) : base;
  float* dG = base + ws_floats;
  float* dGh = split ? dG + rows * GU : nullptr;
  float* rt = dG + rows * GU * (split ? 2 : 1);
  float* buf = rt + GU * U;
  if (!g.ws) {
    // Rebuild the workspace; the outputs land in the step buffers, unused.
    RnnForward f;
    f.ws = ws;
    f.y = dG;  // (B,T,U) fits in dG, which the backward overwrites
    f.hT = buf;
    f.cT = buf + d.B * U;
    forward(a, f);
  }
  const Ws w = rnn_workspace_views(a, ws, true);
  transpose(a.recurrent, U, GU, rt);
  backward_steps(a, d, w, g, rt, dG, dGh, buf);
  // Whole-sequence products over the B*T rows (b,t).
  const float* dR_src = split ? dGh : dG;
  if (one_product) {
    float* xh = buf + backward_buffer_floats(d);  // (rows, KA)
    float* dwr = xh + rows * KA;                   // (KA, GU)
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(xh + r * KA, a.x + r * d.I, d.I * sizeof(float));
      std::memcpy(xh + r * KA + d.I, w.hprev + r * U, U * sizeof(float));
      if (g.dbias) xh[r * KA + d.I + U] = 1.0f;
    }
    mm(KA, GU, rows, xh, KA, true, dG, GU, dwr, GU);
    std::memcpy(g.dkernel, dwr, d.I * GU * sizeof(float));
    std::memcpy(g.drecurrent, dwr + d.I * GU, U * GU * sizeof(float));
    if (g.dbias) std::memcpy(g.dbias, dwr + (d.I + U) * GU, GU * sizeof(float));
    mm(rows, d.I, GU, dG, GU, false, a.kernel, GU, g.dx, d.I, 0.0f, nullptr, true);
    return;
  }
  mm(d.I, GU, rows, a.x, d.I, true, dG, GU, g.dkernel, GU);
  if (gru_two_gemms(a)) {
    mm(U, 2 * U, rows, w.hprev, U, true, dG, GU, g.drecurrent, GU);
    mm(U, U, rows, w.aux, U, true, dG + 2 * U, GU, g.drecurrent + 2 * U, GU);
  } else {
    mm(U, GU, rows, w.hprev, U, true, dR_src, GU, g.drecurrent, GU);
  }
  if (g.dbias) {
    column_sums(dG, rows, GU, g.dbias);
    if (split) column_sums(dGh, rows, GU, g.dbias + GU);
  }
  mm(rows, d.I, GU, dG, GU, false, a.kernel, GU, g.dx, d.I, 0.0f, nullptr, true);
}

}  // namespace pykern
