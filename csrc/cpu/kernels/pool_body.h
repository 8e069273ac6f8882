// Pooling cell kernels (contract in cpu/pool_kernels.h), written once with GCC
// vector extensions and compiled once per ISA: each kernels/<isa>/ file defines
// PK_VEC_FLOATS (16, 8, 4) and includes this header inside its own namespace.
// Channels go in blocks of kBlock vectors whose running max / sum stay in
// registers for the whole window; a shorter block, then scalars, finish a row.
// Every lane does the same operations in the same order as the scalar tail, so
// a channel's result does not depend on where the blocks fall.
#ifndef PK_VEC_FLOATS
#error "define PK_VEC_FLOATS before including pool_body.h"
#endif

// The including file provides <cstring>, <cstdint> and cpu/pool_kernels.h.

typedef float pvf __attribute__((vector_size(PK_VEC_FLOATS * 4)));
typedef int32_t pvi __attribute__((vector_size(PK_VEC_FLOATS * 4)));

constexpr int kV = PK_VEC_FLOATS;
constexpr int kBlock = 4;

static inline pvf pload(const float* p) {
  pvf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

static inline pvi iota_plus(int32_t base) {
  static constexpr int32_t kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  pvi v;
  std::memcpy(&v, kIota, sizeof v);
  return v + base;
}

// Channels [0, R*kV) of one output cell.
template <int R>
static inline void max_block(const float* x, const int64_t* off, const int32_t* tag,
                             int64_t cells, int64_t c0, float* y, int32_t* at) {
  pvf best[R];
  pvi idx[R];
  for (int r = 0; r < R; ++r) {
    best[r] = pload(x + off[0] + r * kV);
    idx[r] = pvi{} + tag[0];
  }
  for (int64_t k = 1; k < cells; ++k) {
    const float* p = x + off[k];
    const pvi t = pvi{} + tag[k];
    for (int r = 0; r < R; ++r) {
      // v > best, or v is NaN while best is not: the first of equal maxima wins,
      // the first NaN sticks
      const pvf v = pload(p + r * kV);
      const pvi take = (best[r] == best[r]) & ~(v <= best[r]);
      best[r] = take ? v : best[r];
      idx[r] = take ? t : idx[r];
    }
  }
  for (int r = 0; r < R; ++r) {
    const pvi a = idx[r] + iota_plus(static_cast<int32_t>(c0 + r * kV));
    std::memcpy(y + r * kV, &best[r], sizeof(pvf));
    std::memcpy(at + r * kV, &a, sizeof(pvi));
  }
}

static void max_cell(const float* x, const int64_t* off, const int32_t* tag, int64_t cells,
                     int64_t C, float* y, int32_t* at) {
  int64_t c = 0;
  for (; c + kBlock * kV <= C; c += kBlock * kV)
    max_block<kBlock>(x + c, off, tag, cells, c, y + c, at + c);
  for (; c + kV <= C; c += kV) max_block<1>(x + c, off, tag, cells, c, y + c, at + c);
  for (; c < C; ++c) {
    float best = x[off[0] + c];
    int32_t t = tag[0];
    for (int64_t k = 1; k < cells; ++k) {
      const float v = x[off[k] + c];
      if ((best == best) & !(v <= best)) {
        best = v;
        t = tag[k];
      }
    }
    y[c] = best;
    at[c] = t + static_cast<int32_t>(c);
  }
}

template <int R, bool kWeighted>
static inline void sum_block(const float* x, const int64_t* off, const float* w, int64_t cells,
                             float divisor, float* y) {
  pvf s[R] = {};
  for (int64_t k = 0; k < cells; ++k) {
    const float* p = x + off[k];
    for (int r = 0; r < R; ++r) s[r] += kWeighted ? pload(p + r * kV) * w[k] : pload(p + r * kV);
  }
  for (int r = 0; r < R; ++r) {
    const pvf v = divisor == 1.f ? s[r] : s[r] / divisor;
    std::memcpy(y + r * kV, &v, sizeof v);
  }
}

template <bool kWeighted>
static void sum_row(const float* x, const int64_t* off, const float* w, int64_t cells, int64_t C,
                    float divisor, float* y) {
  int64_t c = 0;
  for (; c + kBlock * kV <= C; c += kBlock * kV)
    sum_block<kBlock, kWeighted>(x + c, off, w, cells, divisor, y + c);
  for (; c + kV <= C; c += kV) sum_block<1, kWeighted>(x + c, off, w, cells, divisor, y + c);
  for (; c < C; ++c) {
    float s = 0.f;
    for (int64_t k = 0; k < cells; ++k) s += kWeighted ? x[off[k] + c] * w[k] : x[off[k] + c];
    y[c] = divisor == 1.f ? s : s / divisor;
  }
}

static void sum_cell(const float* x, const int64_t* off, const float* w, int64_t cells, int64_t C,
                     float divisor, float* y) {
  if (w)
    sum_row<true>(x, off, w, cells, C, divisor, y);
  else
    sum_row<false>(x, off, w, cells, C, divisor, y);
}
