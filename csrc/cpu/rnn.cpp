// Fused recurrent layers (contract: pykern/rnn.h). One call runs the whole
// sequence; the heavy products are sgemm calls made from this serial driver,
// the per-step element-wise work is one pass over the batch rows (activations
// through the ISA kernels of activation_row).
//
// Forward, per call:   Z (B*T, G*U) = x W + b           one GEMM for all steps
// per step s (time t): Gh (B, G*U) = h R [+ b']         one GEMM
//                      rows: pre-activations Z[:, t] += Gh, gates, state, y[:, s]
// Backward, per step (s = T-1..0): rows: dG[:, t] = d(pre-activations), dh_prev's
// element-wise part;  dh_prev += dG[:, t] R^T (one GEMM, R^T transposed once).
// Then over all B*T rows at once: dW = x^T dG, dR = Hprev^T dG, db = 1^T dG,
// dx = dG W^T. GRU without reset_after adds one GEMM per step (through r*h).
//
// Workspace (float offsets, rows (b,t) like x): Z (B,T,G*U) | Hprev (B,T,U) |
// Cprev (LSTM) or Aux (GRU) (B,T,U). Scratch: the forward's step buffers live in
// thread_scratch slot 3 and the backward's in slot 1 (the backward may run the
// forward to rebuild a workspace), both on the calling thread only; sgemm uses
// slots 0 and 2.
#include <algorithm>
#include <cstring>

#include "pykern/arena.h"
#include "pykern/gemm.h"
#include "pykern/rnn.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

constexpr int kFwdSlot = 3, kBwdSlot = 1;

struct Dims {
  int64_t B, T, I, U, GU;
};

Dims dims_of(const RnnArgs& a) { return {a.B, a.T, a.I, a.U, cell_gates(a.cell) * a.U}; }

bool gru_two_gemms(const RnnArgs& a) { return a.cell == Cell::gru && !a.reset_after; }

// Views of a workspace (or of scratch with the same layout).
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

// C (M,N) = beta*C + op(A) op(B) [+ bias], row-major with leading dimensions.
void mm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a,
        const float* B, int64_t ldb, float* C, int64_t ldc, float beta = 0.0f,
        const float* bias = nullptr, bool trans_b = false) {
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
  sgemm(g);
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

// exp-based activations cost about 20 flops an element, the glue about 10.
constexpr double kFlopsPerGate = 30.0;

// ---- forward rows -------------------------------------------------------
// z: the row's pre-activations (in: x W + b; out: the full sums), gh: h R [+ b'],
// h, c: the row's states (updated), a: (G*U) scratch for the gate values.

void simple_row(int64_t U, Act act, float* z, const float* gh, float* h) {
  for (int64_t j = 0; j < U; ++j) {
    z[j] += gh[j];
    h[j] = z[j];
  }
  activation_row(h, U, act);
}

void lstm_row(int64_t U, Act act, Act ra, float* z, const float* gh, float* h, float* c,
              float* a) {
  for (int64_t j = 0; j < 4 * U; ++j) {
    z[j] += gh[j];
    a[j] = z[j];
  }
  activation_row(a, 2 * U, ra);  // i, f
  activation_row(a + 2 * U, U, act);
  activation_row(a + 3 * U, U, ra);
  float* ac = a + 2 * U;  // g is dead once c is updated: reuse it for act(c)
  for (int64_t j = 0; j < U; ++j) {
    c[j] = a[U + j] * c[j] + a[j] * a[2 * U + j];
    ac[j] = c[j];
  }
  activation_row(ac, U, act);
  for (int64_t j = 0; j < U; ++j) h[j] = a[3 * U + j] * ac[j];
}

// GRU update and reset gates; rh = r*h (the second GEMM's rows without reset_after).
void gru_gates_row(int64_t U, Act ra, float* z, const float* gh, const float* h, float* a,
                   float* rh) {
  for (int64_t j = 0; j < 2 * U; ++j) {
    z[j] += gh[j];
    a[j] = z[j];
  }
  activation_row(a, 2 * U, ra);
  if (rh)
    for (int64_t j = 0; j < U; ++j) rh[j] = a[U + j] * h[j];
}

// GRU candidate and state: gh_h = h R_h + b'_h, scaled by r (reset_after), or
// (r*h) R_h. aux, when saved, receives h R_h + b'_h.
void gru_state_row(int64_t U, Act act, bool reset_after, float* z, const float* gh_h, float* h,
                   float* a, float* aux) {
  float* zh = z + 2 * U;
  float* hh = a + 2 * U;
  for (int64_t j = 0; j < U; ++j) {
    zh[j] += reset_after ? a[U + j] * gh_h[j] : gh_h[j];
    hh[j] = zh[j];
  }
  if (aux && reset_after) std::memcpy(aux, gh_h, U * sizeof(float));
  activation_row(hh, U, act);
  for (int64_t j = 0; j < U; ++j) h[j] = a[j] * h[j] + (1.0f - a[j]) * hh[j];
}

// ---- backward rows ------------------------------------------------------
// dh: gradient w.r.t. the step's new h; dg: out, w.r.t. the pre-activations.

void simple_grad_row(int64_t U, Act act, const float* z, const float* dh, float* dg, float* a) {
  std::memcpy(a, z, U * sizeof(float));
  activation_row(a, U, act);
  std::memcpy(dg, dh, U * sizeof(float));
  activation_grad_row(z, a, dg, U, act);
}

// dc: in, w.r.t. the new c; out, w.r.t. the previous c. a: (4U + 2U) scratch.
void lstm_grad_row(int64_t U, Act act, Act ra, const float* z, const float* cp, const float* dh,
                   float* dc, float* dg, float* a) {
  std::memcpy(a, z, 4 * U * sizeof(float));
  activation_row(a, 2 * U, ra);
  activation_row(a + 2 * U, U, act);
  activation_row(a + 3 * U, U, ra);
  float* cn = a + 4 * U;  // the new c, recomputed
  float* ac = cn + U;     // act(c)
  for (int64_t j = 0; j < U; ++j) {
    cn[j] = a[U + j] * cp[j] + a[j] * a[2 * U + j];
    ac[j] = cn[j];
  }
  activation_row(ac, U, act);
  float* dcs = dg + 2 * U;  // dh * o * act'(c), before dg's candidate slot is written
  for (int64_t j = 0; j < U; ++j) dcs[j] = dh[j] * a[3 * U + j];
  activation_grad_row(cn, ac, dcs, U, act);
  for (int64_t j = 0; j < U; ++j) {
    const float d = dc[j] + dcs[j];
    dg[j] = d * a[2 * U + j];
    dg[U + j] = d * cp[j];
    dg[2 * U + j] = d * a[j];
    dg[3 * U + j] = dh[j] * ac[j];
    dc[j] = d * a[U + j];
  }
  activation_grad_row(z, a, dg, 2 * U, ra);
  activation_grad_row(z + 2 * U, a + 2 * U, dg + 2 * U, U, act);
  activation_grad_row(z + 3 * U, a + 3 * U, dg + 3 * U, U, ra);
}

// GRU, first part: gate values into a (3U), dg's z and hh slots, and the direct
// part of dh_prev (dh * z). With reset_after also dr and dgh (the gradient of
// h R + b'); without it, dr needs d(r*h) from a GEMM first (gru_reset_grad_row).
void gru_grad_row(int64_t U, Act act, Act ra, bool reset_after, const float* z, const float* hp,
                  const float* aux, const float* dh, float* dg, float* dgh, float* dhp,
                  float* a) {
  std::memcpy(a, z, 3 * U * sizeof(float));
  activation_row(a, 2 * U, ra);
  activation_row(a + 2 * U, U, act);
  for (int64_t j = 0; j < U; ++j) {
    dg[j] = dh[j] * (hp[j] - a[2 * U + j]);
    dg[2 * U + j] = dh[j] * (1.0f - a[j]);
    dhp[j] = dh[j] * a[j];
  }
  activation_grad_row(z + 2 * U, a + 2 * U, dg + 2 * U, U, act);
  if (!reset_after) return activation_grad_row(z, a, dg, U, ra);
  for (int64_t j = 0; j < U; ++j) {
    dg[U + j] = dg[2 * U + j] * aux[j];
    dgh[2 * U + j] = dg[2 * U + j] * a[U + j];
  }
  activation_grad_row(z, a, dg, 2 * U, ra);
  std::memcpy(dgh, dg, 2 * U * sizeof(float));
}

// GRU without reset_after, second part: drh = d(r*h) from the GEMM.
void gru_reset_grad_row(int64_t U, Act ra, const float* z, const float* hp, const float* drh,
                        const float* a, float* dg, float* dhp) {
  for (int64_t j = 0; j < U; ++j) {
    dg[U + j] = drh[j] * hp[j];
    dhp[j] += drh[j] * a[U + j];
  }
  activation_grad_row(z + U, a + U, dg + U, U, ra);
}

// ---- drivers ------------------------------------------------------------

void copy_rows(float* dst, const float* src, int64_t n) {
  if (src)
    std::memcpy(dst, src, n * sizeof(float));
  else
    std::memset(dst, 0, n * sizeof(float));
}

// The recurrence itself; w.z holds x W + b on entry.
void forward_steps(const RnnArgs& a, const Dims& d, const Ws& w, const RnnForward& out,
                   float* buf) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  float* h = buf;           // (B,U)
  float* c = h + B * U;     // (B,U)
  float* gh = c + B * U;    // (B,GU)
  float* gate = gh + B * GU;  // (B,GU)
  float* rh = gate + B * GU;  // (B,U)
  copy_rows(h, a.h0, B * U);
  copy_rows(c, a.c0, B * U);
  const float* rec_bias = a.cell == Cell::gru && a.reset_after && a.bias ? a.bias + GU : nullptr;
  const bool two = gru_two_gemms(a);
  const int64_t first_cols = two ? 2 * U : GU;
  const double flops = kFlopsPerGate * GU;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    mm(B, first_cols, U, h, U, false, a.recurrent, GU, gh, GU, 0.0f, rec_bias);
    auto used = [&](int64_t b) { return !a.mask || a.mask[b * T + t]; };
    for_rows(B, flops, [&](int64_t b) {
      const int64_t row = b * T + t;
      float* hb = h + b * U;
      if (w.hprev) std::memcpy(w.hprev + row * U, hb, U * sizeof(float));
      if (w.aux && a.cell == Cell::lstm) std::memcpy(w.aux + row * U, c + b * U, U * sizeof(float));
      float* y = out.y + (b * T + s) * U;
      if (!used(b)) {
        if (a.zero_output_for_mask || s == 0)
          std::memset(y, 0, U * sizeof(float));
        else
          std::memcpy(y, y - U, U * sizeof(float));
        if (two) std::memset(rh + b * U, 0, U * sizeof(float));
        if (w.aux && a.cell == Cell::gru) std::memset(w.aux + row * U, 0, U * sizeof(float));
        return;
      }
      float* z = w.z + row * GU;
      const float* g = gh + b * GU;
      float* ab = gate + b * GU;
      switch (a.cell) {
        case Cell::simple: simple_row(U, a.act, z, g, hb); break;
        case Cell::lstm: lstm_row(U, a.act, a.rec_act, z, g, hb, c + b * U, ab); break;
        case Cell::gru:
          gru_gates_row(U, a.rec_act, z, g, hb, ab, two ? rh + b * U : nullptr);
          if (two) {
            if (w.aux) std::memcpy(w.aux + row * U, rh + b * U, U * sizeof(float));
            return;  // the candidate waits for (r*h) R_h
          }
          gru_state_row(U, a.act, true, z, g + 2 * U, hb, ab, w.aux ? w.aux + row * U : nullptr);
          break;
      }
      std::memcpy(y, hb, U * sizeof(float));
    });
    if (!two) continue;
    mm(B, U, U, rh, U, false, a.recurrent + 2 * U, GU, gh + 2 * U, GU);
    for_rows(B, flops / 2, [&](int64_t b) {
      if (!used(b)) return;
      float* hb = h + b * U;
      gru_state_row(U, a.act, false, w.z + (b * T + t) * GU, gh + b * GU + 2 * U, hb,
                    gate + b * GU, nullptr);
      std::memcpy(out.y + (b * T + s) * U, hb, U * sizeof(float));
    });
  }
  std::memcpy(out.hT, h, B * U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(out.cT, c, B * U * sizeof(float));
}

int64_t forward_buffer_floats(const Dims& d) { return 3 * d.B * d.U + 2 * d.B * d.GU; }

// Runs the forward pass, saving the workspace into ws (or, when ws is null,
// keeping only what the steps need, in scratch).
void forward(const RnnArgs& a, const RnnForward& out) {
  const Dims d = dims_of(a);
  const int64_t z_floats = d.B * d.T * d.GU;
  float* buf = thread_scratch(
      kFwdSlot, (forward_buffer_floats(d) + (out.ws ? 0 : z_floats)) * sizeof(float));
  const Ws w = ws_views(a, d, out.ws ? out.ws : buf + forward_buffer_floats(d), out.ws != nullptr);
  // GRU: the input bias is row 0 of (2, 3U) or the whole (3U,).
  mm(d.B * d.T, d.GU, d.I, a.x, d.I, false, a.kernel, d.GU, w.z, d.GU, 0.0f, a.bias);
  forward_steps(a, d, w, out, buf);
}

// The recurrence backwards: fills dG (and dGh for GRU with reset_after), dh0, dc0.
void backward_steps(const RnnArgs& a, const Dims& d, const Ws& w, const RnnBackward& g,
                    const float* rt, float* dG, float* dGh, float* buf) {
  const int64_t B = d.B, T = d.T, U = d.U, GU = d.GU;
  float* dh = buf;            // (B,U) w.r.t. the state after the step
  float* dhn = dh + B * U;    // (B,U) w.r.t. the state before it
  float* dc = dhn + B * U;    // (B,U)
  float* dpo = dc + B * U;    // (B,U) w.r.t. the previous output (masked steps repeat it)
  float* dht = dpo + B * U;   // (B,U) the step's total dh
  float* drh = dht + B * U;   // (B,U) GRU without reset_after: d(r*h)
  float* tmp = drh + B * U;   // (B, GU + 2U) gate values and temporaries
  const int64_t tmp_ld = GU + 2 * U;
  copy_rows(dh, g.dhT, B * U);
  copy_rows(dc, g.dcT, B * U);
  std::memset(dpo, 0, B * U * sizeof(float));
  const bool two = gru_two_gemms(a);
  const double flops = kFlopsPerGate * 1.5 * GU;
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    auto used = [&](int64_t b) { return !a.mask || a.mask[b * T + t]; };
    for_rows(B, flops, [&](int64_t b) {
      const int64_t row = b * T + t;
      float* dgr = dG + row * GU;
      float* dghr = dGh ? dGh + row * GU : nullptr;
      const float* dy = g.dy ? g.dy + (b * T + s) * U : nullptr;
      float *dhb = dh + b * U, *dhnb = dhn + b * U, *dpob = dpo + b * U;
      if (!used(b)) {
        std::memset(dgr, 0, GU * sizeof(float));
        if (dghr) std::memset(dghr, 0, GU * sizeof(float));
        std::memcpy(dhnb, dhb, U * sizeof(float));
        if (dy && !a.zero_output_for_mask)
          for (int64_t j = 0; j < U; ++j) dpob[j] += dy[j];
        return;
      }
      float* dt = dht + b * U;
      for (int64_t j = 0; j < U; ++j) dt[j] = dhb[j] + (dy ? dy[j] : 0.0f) + dpob[j];
      if (a.mask) std::memset(dpob, 0, U * sizeof(float));
      const float* z = w.z + row * GU;
      float* tb = tmp + b * tmp_ld;
      switch (a.cell) {
        case Cell::simple:
          simple_grad_row(U, a.act, z, dt, dgr, tb);
          std::memset(dhnb, 0, U * sizeof(float));
          break;
        case Cell::lstm:
          lstm_grad_row(U, a.act, a.rec_act, z, w.aux + row * U, dt, dc + b * U, dgr, tb);
          std::memset(dhnb, 0, U * sizeof(float));
          break;
        case Cell::gru:
          gru_grad_row(U, a.act, a.rec_act, a.reset_after, z, w.hprev + row * U,
                       w.aux + row * U, dt, dgr, dghr, dhnb, tb);
          break;
      }
    });
    const float* dsrc = dGh ? dGh : dG;
    if (two) {
      mm(B, U, U, dG + t * GU + 2 * U, T * GU, false, rt + 2 * U * U, U, drh, U);
      for_rows(B, flops / 3, [&](int64_t b) {
        const int64_t row = b * T + t;
        if (used(b))
          gru_reset_grad_row(U, a.rec_act, w.z + row * GU, w.hprev + row * U, drh + b * U,
                             tmp + b * tmp_ld, dG + row * GU, dhn + b * U);
      });
    }
    mm(B, U, two ? 2 * U : GU, dsrc + t * GU, T * GU, false, rt, U, dhn, U, 1.0f);
    std::swap(dh, dhn);
  }
  std::memcpy(g.dh0, dh, B * U * sizeof(float));
  if (a.cell == Cell::lstm) std::memcpy(g.dc0, dc, B * U * sizeof(float));
}

int64_t backward_buffer_floats(const Dims& d) { return 6 * d.B * d.U + d.B * (d.GU + 2 * d.U); }

}  // namespace

void rnn_forward(const RnnArgs& a, const RnnForward& out) {
  validate_rnn(a, "rnn_forward");
  if (a.B == 0 || a.U == 0) return;
  forward(a, out);
}

void rnn_backward(const RnnArgs& a, const RnnBackward& g) {
  validate_rnn(a, "rnn_backward");
  const Dims d = dims_of(a);
  if (a.U == 0) return;
  const int64_t rows = d.B * d.T, GU = d.GU, U = d.U;
  const bool split = a.cell == Cell::gru && a.reset_after;
  // Scratch: [workspace if recomputed | dG | dGh | R^T | ones | step buffers].
  const int64_t ws_floats = g.ws ? 0 : rnn_workspace_floats(a);
  const int64_t total = ws_floats + rows * GU * (split ? 2 : 1) + GU * U + rows +
                        backward_buffer_floats(d);
  float* base = thread_scratch(kBwdSlot, total * sizeof(float));
  float* ws = g.ws ? const_cast<float*>(g.ws) : base;
  float* dG = base + ws_floats;
  float* dGh = split ? dG + rows * GU : nullptr;
  float* rt = dG + rows * GU * (split ? 2 : 1);
  float* ones = rt + GU * U;
  float* buf = ones + rows;
  if (!g.ws) {
    // Rebuild the workspace; the outputs land in the step buffers, unused.
    RnnForward f;
    f.ws = ws;
    f.y = dG;  // (B,T,U) fits in dG, which the backward overwrites
    f.hT = buf;
    f.cT = buf + d.B * U;
    forward(a, f);
  }
  const Ws w = ws_views(a, d, ws, true);
  for (int64_t j = 0; j < GU; ++j)
    for (int64_t k = 0; k < U; ++k) rt[j * U + k] = a.recurrent[k * GU + j];
  backward_steps(a, d, w, g, rt, dG, dGh, buf);
  // Whole-sequence products over the B*T rows (b,t).
  const float* dR_src = split ? dGh : dG;
  mm(d.I, GU, rows, a.x, d.I, true, dG, GU, g.dkernel, GU);
  if (gru_two_gemms(a)) {
    mm(U, 2 * U, rows, w.hprev, U, true, dG, GU, g.drecurrent, GU);
    mm(U, U, rows, w.aux, U, true, dG + 2 * U, GU, g.drecurrent + 2 * U, GU);
  } else {
    mm(U, GU, rows, w.hprev, U, true, dR_src, GU, g.drecurrent, GU);
  }
  if (g.dbias) {
    std::fill(ones, ones + rows, 1.0f);
    mm(1, GU, rows, ones, rows, false, dG, GU, g.dbias, GU);
    if (split) mm(1, GU, rows, ones, rows, false, dGh, GU, g.dbias + GU, GU);
  }
  mm(rows, d.I, GU, dG, GU, false, a.kernel, GU, g.dx, d.I, 0.0f, nullptr, true);
}

}  // namespace pykern
