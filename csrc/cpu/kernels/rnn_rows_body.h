// The fused row passes of the recurrent kernels (contract: cpu/rnn_kernels.h),
// written once with the vector type of activation_body.h and compiled per ISA:
// each kernels/<isa>/rnn_rows_<isa>.cpp includes activation_body.h, then this.
// Every pass walks the U units in vectors of PK_VEC_FLOATS, gates side by side
// (unit j of gate k at k*S + j, S = r.gs or U), so one pass reads and writes each value
// once.
#ifndef PK_VEC_FLOATS
#error "include activation_body.h (with PK_VEC_FLOATS) before rnn_rows_body.h"
#endif

static inline vf vact(vf x, pykern::Act a) {
  using pykern::Act;
  switch (a) {
    case Act::relu: return vrelu(x);
    case Act::sigmoid: return vsigmoid(x);
    case Act::tanh: return vtanh(x);
    case Act::hard_sigmoid: return vhard_sigmoid(x);
    case Act::elu: return velu(x);
    case Act::selu: return vselu(x);
    case Act::softsign: return vsoftsign(x);
    case Act::softplus: return vsoftplus(x);
    case Act::silu: return vsilu(x);
    case Act::exponential: return vexp(x);
    default: return x;
  }
}

// f'(x) given y = f(x).
static inline vf vdact(vf x, vf y, pykern::Act a) {
  using pykern::Act;
  switch (a) {
    case Act::relu: return drelu(x, y);
    case Act::sigmoid: return dsigmoid(x, y);
    case Act::tanh: return dtanh(x, y);
    case Act::hard_sigmoid: return dhard_sigmoid(x, y);
    case Act::elu: return delu(x, y);
    case Act::selu: return dselu(x, y);
    case Act::softsign: return dsoftsign(x, y);
    case Act::softplus: return dsoftplus(x, y);
    case Act::silu: return dsilu(x, y);
    case Act::exponential: return dexponential(x, y);
    default: return vsplat(1.0f);
  }
}

// n <= PK_VEC_FLOATS floats; a short tail loads zeros past n and stores only n.
static inline vf ld(const float* p, int64_t n) {
  vf v = vsplat(0.0f);
  if (n == PK_VEC_FLOATS)
    std::memcpy(&v, p, sizeof v);
  else
    std::memcpy(&v, p, n * sizeof(float));
  return v;
}
static inline void st(float* p, vf v, int64_t n) {
  if (n == PK_VEC_FLOATS)
    std::memcpy(p, &v, sizeof v);
  else
    std::memcpy(p, &v, n * sizeof(float));
}

// f(j, n) over the units in vectors: n == PK_VEC_FLOATS but for a last short one.
template <class F>
static inline void over_units(int64_t U, F&& f) {
  int64_t j = 0;
  for (; j + PK_VEC_FLOATS <= U; j += PK_VEC_FLOATS) f(j, int64_t(PK_VEC_FLOATS));
  if (j < U) f(j, U - j);
}

// The step's total dh: carried + output gradient + the repeated outputs' (masks).
static inline vf total_dh(const pykern::cpu::RnnRow& r, int64_t j, int64_t n) {
  vf d = ld(r.dh + j, n);
  if (r.dy) d = d + ld(r.dy + j, n);
  if (r.dpo) {
    d = d + ld(r.dpo + j, n);
    st(r.dpo + j, vsplat(0.0f), n);
  }
  return d;
}

// Saves the state before the step, then writes the new h to the state and output.
static inline void save_states(const pykern::cpu::RnnRow& r, int64_t j, int64_t n) {
  if (r.save_h) st(r.save_h + j, ld(r.h + j, n), n);
  if (r.save_c) st(r.save_c + j, ld(r.c + j, n), n);
}
static inline void put_h(const pykern::cpu::RnnRow& r, int64_t j, int64_t n, vf h) {
  st(r.h + j, h, n);
  st(r.y + j, h, n);
}

template <class RA, class AA>
static inline void simple_fwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const bool full = r.gh_full, keep_z = !full || r.save_h != nullptr;
  over_units(r.U, [&](int64_t j, int64_t n) {
    save_states(r, j, n);
    const vf z = full ? ld(r.gh + j, n) : ld(r.z + j, n) + ld(r.gh + j, n);
    if (keep_z) st(r.z + j, z, n);
    put_h(r, j, n, aa(z));
  });
}

template <class RA, class AA>
static inline void lstm_fwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  // The pointers in locals: stores through r's float pointers could otherwise alias r
  // itself, and the compiler reloaded every pointer after every store. Without a
  // saved state (inference) the pre-activations are not kept either (4-5% of an
  // LSTM(128) forward on one thread, both together).
  float* const z = r.z;
  const float* const gh = r.gh;
  float* const cs = r.c;
  const bool keep_z = r.save_h != nullptr, full = r.gh_full;
  over_units(U, [&](int64_t j, int64_t n) {
    save_states(r, j, n);
    vf zg[4];
    for (int k = 0; k < 4; ++k)
      zg[k] = full ? ld(gh + k * S + j, n) : ld(z + k * S + j, n) + ld(gh + k * S + j, n);
    const vf i = ra(zg[0]), f = ra(zg[1]);
    const vf g = aa(zg[2]), o = ra(zg[3]);
    if (keep_z) {
      const bool gates = RA::kFromOutput && AA::kFromOutput;  // see lstm_bwd_t
      st(z + j, gates ? i : zg[0], n);
      st(z + S + j, gates ? f : zg[1], n);
      st(z + 2 * S + j, gates ? g : zg[2], n);
      st(z + 3 * S + j, gates ? o : zg[3], n);
    }
    const vf c = f * ld(cs + j, n) + i * g;
    st(cs + j, c, n);
    put_h(r, j, n, o * aa(c));
  });
}

// GRU: z and r; then with reset_after the candidate and state at once, without it
// r*h for the second GEMM (and z kept for gru_fwd_state).
template <class RA, class AA>
static inline void gru_fwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  const bool after = r.rh == nullptr;
  over_units(U, [&](int64_t j, int64_t n) {
    save_states(r, j, n);
    const vf pz = ld(r.z + j, n) + ld(r.gh + j, n);
    const vf pr = ld(r.z + S + j, n) + ld(r.gh + S + j, n);
    st(r.z + j, pz, n);
    st(r.z + S + j, pr, n);
    const vf zg = ra(pz), rg = ra(pr);
    const vf h = ld(r.h + j, n);
    if (!after) {
      st(r.rh + j, rg * h, n);
      if (r.aux) st(r.aux + j, rg * h, n);
      st(r.keep + j, zg, n);
      return;
    }
    const vf hr = ld(r.gh + 2 * S + j, n);
    if (r.aux) st(r.aux + j, hr, n);
    const vf ph = ld(r.z + 2 * S + j, n) + rg * hr;
    st(r.z + 2 * S + j, ph, n);
    const vf hh = aa(ph);
    put_h(r, j, n, zg * h + (1.0f - zg) * hh);
  });
}

template <class RA, class AA>
static inline void gru_fwd_state_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  over_units(U, [&](int64_t j, int64_t n) {
    const vf ph = ld(r.z + 2 * S + j, n) + ld(r.gh + 2 * S + j, n);
    st(r.z + 2 * S + j, ph, n);
    const vf zg = ld(r.keep + j, n), hh = aa(ph);
    put_h(r, j, n, zg * ld(r.h + j, n) + (1.0f - zg) * hh);
  });
}

template <class RA, class AA>
static inline void simple_bwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  over_units(r.U, [&](int64_t j, int64_t n) {
    const vf z = ld(r.z + j, n);
    st(r.dg + j, total_dh(r, j, n) * aa.d(z, aa(z)), n);
    st(r.dhn + j, vsplat(0.0f), n);
  });
}

// With activations whose derivative follows from their output (kFromOutput), the
// forward kept the gate values i, f, g, o in Z rather than their pre-activations,
// and the backward recomputes only tanh(c): four of five activations per unit
// fewer (they were most of this pass, itself ~20% of an LSTM(128) backward).
template <class RA, class AA>
static inline void lstm_bwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  constexpr bool gates = RA::kFromOutput && AA::kFromOutput;
  over_units(U, [&](int64_t j, int64_t n) {
    vf zg[4];
    for (int k = 0; k < 4; ++k) zg[k] = ld(r.z + k * S + j, n);
    vf i, f, g, o, di, df, dg, dout;
    if constexpr (gates) {
      i = zg[0], f = zg[1], g = zg[2], o = zg[3];
      di = ra.dy(i), df = ra.dy(f), dg = aa.dy(g), dout = ra.dy(o);
    } else {
      i = ra(zg[0]), f = ra(zg[1]), g = aa(zg[2]), o = ra(zg[3]);
      di = ra.d(zg[0], i), df = ra.d(zg[1], f), dg = aa.d(zg[2], g), dout = ra.d(zg[3], o);
    }
    const vf cp = ld(r.cp + j, n);
    const vf c = f * cp + i * g, ac = aa(c);
    const vf dh = total_dh(r, j, n);
    const vf dc = ld(r.dc + j, n) + dh * o * aa.d(c, ac);
    st(r.dg + j, dc * g * di, n);
    st(r.dg + S + j, dc * cp * df, n);
    st(r.dg + 2 * S + j, dc * i * dg, n);
    st(r.dg + 3 * S + j, dh * ac * dout, n);
    st(r.dc + j, dc * f, n);
    st(r.dhn + j, vsplat(0.0f), n);
  });
}

// GRU: with reset_after (dgh != null) everything; without it all but the reset
// gate's gradient, which needs d(r*h) from a GEMM first (r is kept for that).
template <class RA, class AA>
static inline void gru_bwd_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  over_units(U, [&](int64_t j, int64_t n) {
    const vf pz = ld(r.z + j, n), pr = ld(r.z + S + j, n), ph = ld(r.z + 2 * S + j, n);
    const vf zg = ra(pz), rg = ra(pr), hh = aa(ph);
    const vf dh = total_dh(r, j, n);
    const vf dph = dh * (1.0f - zg) * aa.d(ph, hh);
    const vf dpz = dh * (ld(r.hp + j, n) - hh) * ra.d(pz, zg);
    st(r.dg + j, dpz, n);
    st(r.dg + 2 * S + j, dph, n);
    st(r.dhn + j, dh * zg, n);
    if (!r.dgh) {
      st(r.keep + j, rg, n);
      return;
    }
    const vf dpr = dph * ld(r.aux + j, n) * ra.d(pr, rg);
    st(r.dg + S + j, dpr, n);
    st(r.dgh + j, dpz, n);
    st(r.dgh + S + j, dpr, n);
    st(r.dgh + 2 * S + j, dph * rg, n);
  });
}

template <class RA, class AA>
static inline void gru_bwd_reset_t(const pykern::cpu::RnnRow& r, RA ra, AA aa) {
  const int64_t U = r.U, S = r.gs ? r.gs : U;  // units, gate stride
  over_units(U, [&](int64_t j, int64_t n) {
    const vf rg = ld(r.keep + j, n), drh = ld(r.drh + j, n);
    st(r.dg + S + j, drh * ld(r.hp + j, n) * ra.d(ld(r.z + S + j, n), rg), n);
    st(r.dhn + j, ld(r.dhn + j, n) + drh * rg, n);
  });
}

// Each pass compiled for the common activation pairs, where the activations inline
// (a call per vector through vact's switch was ~11% of an LSTM(128) backward), and
// once for any pair. The same functions either way: the bits do not change.
// kFromOutput: dy(y) gives the derivative from the output alone (relu: y > 0 is x > 0).
struct DynAct {
  static constexpr bool kFromOutput = false;
  pykern::Act a;
  vf operator()(vf x) const { return vact(x, a); }
  vf d(vf x, vf y) const { return vdact(x, y, a); }
};
struct SigmoidAct {
  static constexpr bool kFromOutput = true;
  vf dy(vf y) const { return dsigmoid(y, y); }
  vf operator()(vf x) const { return vsigmoid(x); }
  vf d(vf x, vf y) const { return dsigmoid(x, y); }
};
struct TanhAct {
  static constexpr bool kFromOutput = true;
  vf dy(vf y) const { return dtanh(y, y); }
  vf operator()(vf x) const { return vtanh(x); }
  vf d(vf x, vf y) const { return dtanh(x, y); }
};
struct ReluAct {
  static constexpr bool kFromOutput = true;
  vf dy(vf y) const { return drelu(y, y); }
  vf operator()(vf x) const { return vrelu(x); }
  vf d(vf x, vf y) const { return drelu(x, y); }
};

#define PK_RNN_DISPATCH(name)                                                        \
  static void name(const pykern::cpu::RnnRow& r) {                                   \
    using pykern::Act;                                                               \
    if (r.rec_act == Act::sigmoid && r.act == Act::tanh)                             \
      return name##_t(r, SigmoidAct{}, TanhAct{});                                   \
    if (r.rec_act == Act::sigmoid && r.act == Act::relu)                             \
      return name##_t(r, SigmoidAct{}, ReluAct{});                                   \
    name##_t(r, DynAct{r.rec_act}, DynAct{r.act});                                   \
  }
PK_RNN_DISPATCH(simple_fwd)
PK_RNN_DISPATCH(lstm_fwd)
PK_RNN_DISPATCH(gru_fwd)
PK_RNN_DISPATCH(gru_fwd_state)
PK_RNN_DISPATCH(simple_bwd)
PK_RNN_DISPATCH(lstm_bwd)
PK_RNN_DISPATCH(gru_bwd)
PK_RNN_DISPATCH(gru_bwd_reset)
#undef PK_RNN_DISPATCH

static const pykern::cpu::RnnRowKernels kRnnRowKernels{
    simple_fwd, lstm_fwd, gru_fwd, gru_fwd_state, simple_bwd, lstm_bwd, gru_bwd, gru_bwd_reset};
