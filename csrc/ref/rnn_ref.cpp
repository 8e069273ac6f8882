// The oracle the fast recurrent kernels are tested against: one batch row at a
// time, one step at a time, every sum and activation in double, one thread.
// The backward pass recomputes the forward (it ignores the workspace).
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "pykern/rnn.h"

namespace pykern {
namespace {

using Vec = std::vector<double>;

double act_d(double x, Act a) {
  switch (a) {
    case Act::relu: return x > 0.0 ? x : 0.0;
    case Act::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case Act::tanh: return std::tanh(x);
    case Act::hard_sigmoid: return std::fmin(std::fmax(x + 3.0, 0.0), 6.0) / 6.0;
    case Act::elu: return x > 0.0 ? x : std::expm1(x);
    case Act::selu:
      return 1.0507009873554804934 * (x > 0.0 ? x : 1.6732632423543772848 * std::expm1(x));
    case Act::softsign: return x / (1.0 + std::fabs(x));
    case Act::softplus: return std::fmax(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    case Act::silu: return x / (1.0 + std::exp(-x));
    case Act::exponential: return std::exp(x);
    default: return x;
  }
}

// f'(x), given y = f(x).
double dact_d(double x, double y, Act a) {
  switch (a) {
    case Act::relu: return x > 0.0 ? 1.0 : 0.0;
    case Act::sigmoid: return y * (1.0 - y);
    case Act::tanh: return 1.0 - y * y;
    case Act::hard_sigmoid: return (x > -3.0 && x < 3.0) ? 1.0 / 6.0 : 0.0;
    case Act::elu: return x > 0.0 ? 1.0 : y + 1.0;
    case Act::selu:
      return x > 0.0 ? 1.0507009873554804934 : y + 1.0507009873554804934 * 1.6732632423543772848;
    case Act::softsign: return 1.0 / ((1.0 + std::fabs(x)) * (1.0 + std::fabs(x)));
    case Act::softplus: return 1.0 / (1.0 + std::exp(-x));
    case Act::silu: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s * (1.0 + x * (1.0 - s));
    }
    case Act::exponential: return y;
    default: return 1.0;
  }
}

// One processed step of one row, as the backward pass needs it.
struct Step {
  int64_t t = 0;
  bool used = true;
  Vec hp, cp;  // states before the step
  Vec pre;     // (G*U) pre-activations (GRU: z, r, hh)
  Vec aux;     // GRU: h R_h + b'_h (reset_after) or r*h
};

struct Dims {
  int64_t G, GU, U, I, T;
};

Dims dims_of(const RnnArgs& a) {
  const int64_t G = cell_gates(a.cell);
  return {G, G * a.U, a.U, a.I, a.T};
}

bool gru_split_bias(const RnnArgs& a) { return a.cell == Cell::gru && a.reset_after; }

// out[j] = sum_k v[k] * M[k*ld + col0 + j] for j < n.
Vec vec_mat(const Vec& v, const float* M, int64_t ld, int64_t col0, int64_t n) {
  Vec out(n, 0.0);
  for (size_t k = 0; k < v.size(); ++k)
    for (int64_t j = 0; j < n; ++j) out[j] += v[k] * double(M[k * ld + col0 + j]);
  return out;
}

// Runs the step at time t of row b from states h, c (updated), filling s.
void step_forward(const RnnArgs& a, const Dims& d, int64_t b, int64_t t, Vec& h, Vec& c,
                  Step& s) {
  const int64_t U = d.U;
  s.t = t;
  s.hp = h;
  s.cp = c;
  Vec xrow(d.I);
  for (int64_t k = 0; k < d.I; ++k) xrow[k] = a.x[(b * d.T + t) * d.I + k];
  Vec xw = vec_mat(xrow, a.kernel, d.GU, 0, d.GU);
  if (a.bias)
    for (int64_t j = 0; j < d.GU; ++j) xw[j] += a.bias[j];
  const int64_t rec_cols = a.cell == Cell::gru && !a.reset_after ? 2 * U : d.GU;
  Vec hr = vec_mat(h, a.recurrent, d.GU, 0, rec_cols);
  if (a.bias && gru_split_bias(a))
    for (int64_t j = 0; j < d.GU; ++j) hr[j] += a.bias[d.GU + j];
  s.pre.assign(d.GU, 0.0);
  if (a.cell != Cell::gru) {
    for (int64_t j = 0; j < d.GU; ++j) s.pre[j] = xw[j] + hr[j];
    if (a.cell == Cell::simple) {
      for (int64_t j = 0; j < U; ++j) h[j] = act_d(s.pre[j], a.act);
      return;
    }
    for (int64_t j = 0; j < U; ++j) {
      const double i = act_d(s.pre[j], a.rec_act), f = act_d(s.pre[U + j], a.rec_act);
      const double g = act_d(s.pre[2 * U + j], a.act), o = act_d(s.pre[3 * U + j], a.rec_act);
      c[j] = f * c[j] + i * g;
      h[j] = o * act_d(c[j], a.act);
    }
    return;
  }
  Vec z(U), r(U);
  for (int64_t j = 0; j < 2 * U; ++j) s.pre[j] = xw[j] + hr[j];
  for (int64_t j = 0; j < U; ++j) {
    z[j] = act_d(s.pre[j], a.rec_act);
    r[j] = act_d(s.pre[U + j], a.rec_act);
  }
  s.aux.assign(U, 0.0);
  if (a.reset_after) {
    for (int64_t j = 0; j < U; ++j) {
      s.aux[j] = hr[2 * U + j];
      s.pre[2 * U + j] = xw[2 * U + j] + r[j] * s.aux[j];
    }
  } else {
    for (int64_t j = 0; j < U; ++j) s.aux[j] = r[j] * h[j];
    const Vec rh = vec_mat(s.aux, a.recurrent, d.GU, 2 * U, U);
    for (int64_t j = 0; j < U; ++j) s.pre[2 * U + j] = xw[2 * U + j] + rh[j];
  }
  for (int64_t j = 0; j < U; ++j) {
    const double hh = act_d(s.pre[2 * U + j], a.act);
    h[j] = z[j] * h[j] + (1.0 - z[j]) * hh;
  }
}

Vec row_of(const float* p, int64_t b, int64_t U) {
  Vec v(U, 0.0);
  if (p)
    for (int64_t j = 0; j < U; ++j) v[j] = p[b * U + j];
  return v;
}

// The forward of row b: fills steps (processing order) and, when given, y, hT, cT.
void row_forward(const RnnArgs& a, const Dims& d, int64_t b, std::vector<Step>& steps,
                 const RnnForward* out) {
  Vec h = row_of(a.h0, b, d.U), c = row_of(a.c0, b, d.U), prev(d.U, 0.0);
  steps.assign(d.T, Step());
  for (int64_t s = 0; s < d.T; ++s) {
    const int64_t t = a.reverse ? d.T - 1 - s : s;
    Step& st = steps[s];
    if (a.mask && !a.mask[b * d.T + t]) {
      st.t = t;
      st.used = false;
      if (a.zero_output_for_mask) prev.assign(d.U, 0.0);
    } else {
      step_forward(a, d, b, t, h, c, st);
      prev = h;
    }
    if (out)
      for (int64_t j = 0; j < d.U; ++j) out->y[(b * d.T + s) * d.U + j] = float(prev[j]);
  }
  if (!out) return;
  for (int64_t j = 0; j < d.U; ++j) {
    out->hT[b * d.U + j] = float(h[j]);
    if (a.cell == Cell::lstm) out->cT[b * d.U + j] = float(c[j]);
  }
}

// Gradient sums over the whole batch, in double.
struct Grads {
  Vec dW, dR, db;
};

// Backpropagates one used step: dh (w.r.t. the step's new h) and dc in,
// dh and dc w.r.t. the step's previous states out.
void step_backward(const RnnArgs& a, const Dims& d, int64_t b, const Step& s, Vec& dh, Vec& dc,
                   Grads& gr, float* dx) {
  const int64_t U = d.U, GU = d.GU;
  Vec dgx(GU, 0.0), dgh(GU, 0.0), dhp(U, 0.0);
  const Vec& p = s.pre;
  if (a.cell == Cell::simple) {
    for (int64_t j = 0; j < U; ++j) {
      const double y = act_d(p[j], a.act);
      dgx[j] = dgh[j] = dh[j] * dact_d(p[j], y, a.act);
    }
  } else if (a.cell == Cell::lstm) {
    for (int64_t j = 0; j < U; ++j) {
      const double i = act_d(p[j], a.rec_act), f = act_d(p[U + j], a.rec_act);
      const double g = act_d(p[2 * U + j], a.act), o = act_d(p[3 * U + j], a.rec_act);
      const double cn = f * s.cp[j] + i * g, ac = act_d(cn, a.act);
      const double dcs = dc[j] + dh[j] * o * dact_d(cn, ac, a.act);
      dgx[j] = dcs * g * dact_d(p[j], i, a.rec_act);
      dgx[U + j] = dcs * s.cp[j] * dact_d(p[U + j], f, a.rec_act);
      dgx[2 * U + j] = dcs * i * dact_d(p[2 * U + j], g, a.act);
      dgx[3 * U + j] = dh[j] * ac * dact_d(p[3 * U + j], o, a.rec_act);
      dc[j] = dcs * f;
    }
    dgh = dgx;
  } else {
    Vec z(U), r(U), dr(U);
    for (int64_t j = 0; j < U; ++j) {
      z[j] = act_d(p[j], a.rec_act);
      r[j] = act_d(p[U + j], a.rec_act);
      const double hh = act_d(p[2 * U + j], a.act);
      dgx[j] = dh[j] * (s.hp[j] - hh);  // dz, times ra' below
      dgx[2 * U + j] = dh[j] * (1.0 - z[j]) * dact_d(p[2 * U + j], hh, a.act);
      dhp[j] = dh[j] * z[j];
    }
    if (a.reset_after) {
      for (int64_t j = 0; j < U; ++j) {
        dr[j] = dgx[2 * U + j] * s.aux[j];
        dgh[2 * U + j] = dgx[2 * U + j] * r[j];
      }
    } else {
      // hh's pre-activation holds (r*h) R_h: its gradient reaches r and h directly.
      for (int64_t k = 0; k < U; ++k) {
        double drh = 0.0;
        for (int64_t j = 0; j < U; ++j) drh += dgx[2 * U + j] * a.recurrent[k * GU + 2 * U + j];
        dr[k] = drh * s.hp[k];
        dhp[k] += drh * r[k];
        for (int64_t j = 0; j < U; ++j) gr.dR[k * GU + 2 * U + j] += s.aux[k] * dgx[2 * U + j];
      }
    }
    for (int64_t j = 0; j < U; ++j) {
      dgx[j] *= dact_d(p[j], z[j], a.rec_act);
      dgx[U + j] = dr[j] * dact_d(p[U + j], r[j], a.rec_act);
      dgh[j] = dgx[j];
      dgh[U + j] = dgx[U + j];
    }
  }
  // Weight, bias and input gradients; the recurrent product gives dh_prev.
  const int64_t row = b * d.T + s.t;
  for (int64_t k = 0; k < d.I; ++k) {
    const double xv = a.x[row * d.I + k];
    double acc = 0.0;
    for (int64_t j = 0; j < GU; ++j) {
      gr.dW[k * GU + j] += xv * dgx[j];
      acc += dgx[j] * double(a.kernel[k * GU + j]);
    }
    dx[row * d.I + k] = float(acc);
  }
  const int64_t rec_cols = a.cell == Cell::gru && !a.reset_after ? 2 * U : GU;
  for (int64_t k = 0; k < U; ++k)
    for (int64_t j = 0; j < rec_cols; ++j) {
      gr.dR[k * GU + j] += s.hp[k] * dgh[j];
      dhp[k] += dgh[j] * double(a.recurrent[k * GU + j]);
    }
  for (int64_t j = 0; j < GU; ++j) {
    gr.db[j] += dgx[j];
    if (gru_split_bias(a)) gr.db[GU + j] += dgh[j];
  }
  dh = dhp;
}

}  // namespace

int cell_gates(Cell cell) {
  switch (cell) {
    case Cell::simple: return 1;
    case Cell::lstm: return 4;
    default: return 3;
  }
}

int64_t rnn_workspace_floats(const RnnArgs& a) {
  const int64_t rows = a.B * a.T * a.U;
  return rows * (cell_gates(a.cell) + (a.cell == Cell::simple ? 1 : 2));
}

RnnWorkspace rnn_workspace_views(const RnnArgs& a, float* base, bool saved) {
  RnnWorkspace w;
  w.z = base;
  if (!saved) return w;
  const int64_t rows = a.B * a.T;
  w.hprev = base + rows * cell_gates(a.cell) * a.U;
  if (a.cell != Cell::simple) w.aux = w.hprev + rows * a.U;
  return w;
}

void validate_rnn(const RnnArgs& a, const char* op) {
  auto bad = [op](const std::string& what) {
    throw std::invalid_argument(std::string(op) + ": " + what);
  };
  if (a.B < 0 || a.T < 0 || a.I < 0 || a.U < 0) bad("negative size");
  const bool any = a.B * a.T > 0;
  if (any && a.I > 0 && a.U > 0 && (!a.x || !a.kernel)) bad("x or kernel is null");
  if (a.B > 0 && a.U > 0 && !a.recurrent) bad("recurrent kernel is null");
  if (a.cell != Cell::simple && a.cell != Cell::lstm && a.cell != Cell::gru) bad("unknown cell");
}

void rnn_forward_ref(const RnnArgs& a, const RnnForward& out) {
  validate_rnn(a, "rnn_forward_ref");
  const Dims d = dims_of(a);
  std::vector<Step> steps;
  for (int64_t b = 0; b < a.B; ++b) row_forward(a, d, b, steps, &out);
}

void rnn_backward_ref(const RnnArgs& a, const RnnBackward& g) {
  validate_rnn(a, "rnn_backward_ref");
  const Dims d = dims_of(a);
  Grads gr{Vec(d.I * d.GU, 0.0), Vec(d.U * d.GU, 0.0), Vec(2 * d.GU, 0.0)};
  std::vector<Step> steps;
  for (int64_t i = 0; i < a.B * a.T * a.I; ++i) g.dx[i] = 0.0f;
  for (int64_t b = 0; b < a.B; ++b) {
    row_forward(a, d, b, steps, nullptr);
    Vec dh = row_of(g.dhT, b, d.U), dc = row_of(g.dcT, b, d.U), dprev(d.U, 0.0);
    for (int64_t s = d.T - 1; s >= 0; --s) {
      const Step& st = steps[s];
      const Vec dys = row_of(g.dy, b * d.T + s, d.U);  // y row (b, s)
      if (!st.used) {
        if (!a.zero_output_for_mask)
          for (int64_t j = 0; j < d.U; ++j) dprev[j] += dys[j];
        continue;
      }
      for (int64_t j = 0; j < d.U; ++j) dh[j] += dys[j] + dprev[j];
      dprev.assign(d.U, 0.0);
      step_backward(a, d, b, st, dh, dc, gr, g.dx);
    }
    for (int64_t j = 0; j < d.U; ++j) {
      g.dh0[b * d.U + j] = float(dh[j]);
      if (a.cell == Cell::lstm) g.dc0[b * d.U + j] = float(dc[j]);
    }
  }
  for (int64_t i = 0; i < d.I * d.GU; ++i) g.dkernel[i] = float(gr.dW[i]);
  for (int64_t i = 0; i < d.U * d.GU; ++i) g.drecurrent[i] = float(gr.dR[i]);
  if (g.dbias)
    for (int64_t i = 0; i < (gru_split_bias(a) ? 2 : 1) * d.GU; ++i) g.dbias[i] = float(gr.db[i]);
}

}  // namespace pykern
