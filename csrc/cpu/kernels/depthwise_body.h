// The direct depthwise kernel (slots of cpu/depthwise_kernels.h), written once
// and compiled once per ISA: each kernels/<isa>/depthwise_<isa>.cpp defines
// PK_VEC_FLOATS (16, 8, 4) and includes this inside its own namespace, so the
// GCC vector type below becomes zmm, ymm or xmm code (as activation_body.h).
//
// Multiplier M == 1 (the common case): for each tap, the channels are taken in
// blocks of up to four vectors (a scalar loop for the last C % lanes), the
// tap's weights for the block stay in registers, and the inner loop runs over
// the line's pixels: y[ow] += x[iw] * w  (forward), dx[iw] += dy[ow] * w
// (backward data), and sum over ow of x[iw] * dy[ow] in registers (backward
// filter). Plain loops left to the auto-vectoriser came out as scalar FMAs:
// 64x15x15x32 3x3 'same' ran at 10 GFLOP/s forward and 12 backward-filter on
// one thread, against 20 and 22-25 now (the loops are load/store-bound).
// M > 1 runs plain loops over the M outputs of each input channel.
//
// The including file provides <algorithm>, <cstring>, <type_traits>,
// cpu/conv_geometry.h, cpu/depthwise_kernels.h and cpu/kernels/unroll.h;
// this header includes nothing itself.
#ifndef PK_VEC_FLOATS
#error "define PK_VEC_FLOATS before including depthwise_body.h"
#endif

typedef float dw_vec __attribute__((vector_size(PK_VEC_FLOATS * 4)));

// A block of U values of type V (dw_vec, or float for the scalar tail).
template <class V, int U>
struct DwBlock {
  using Vec = V;
  static constexpr int count = U;
  static constexpr int64_t floats = U * int64_t(sizeof(V) / sizeof(float));
};

template <class V>
static inline V dw_load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class V>
static inline void dw_store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

// Calls f(c, DwBlock<V, U>{}) over channels [0, C): blocks of four vectors,
// then the remaining one to three vectors, then single floats.
template <class F>
static inline void dw_channel_blocks(int64_t C, F&& f) {
  constexpr int64_t L = PK_VEC_FLOATS;
  int64_t c = 0;
  for (; c + 4 * L <= C; c += 4 * L) f(c, DwBlock<dw_vec, 4>{});
  switch ((C - c) / L) {
    case 3: f(c, DwBlock<dw_vec, 3>{}), c += 3 * L; break;
    case 2: f(c, DwBlock<dw_vec, 2>{}), c += 2 * L; break;
    case 1: f(c, DwBlock<dw_vec, 1>{}), c += L; break;
    default: break;
  }
  for (; c < C; ++c) f(c, DwBlock<float, 1>{});
}

// y[i*ys + j] += a[i*as + j] * w[j] for i < n and the block's channels j.
template <class B>
static inline void dw_scaled_rows(B, float* y, int64_t ys, const float* a, int64_t as,
                                  const float* w, int64_t n) {
  using V = typename B::Vec;
  constexpr int64_t L = sizeof(V) / sizeof(float);
  V wv[B::count];
  pykern::cpu::unroll<B::count>([&](auto u) { wv[u] = dw_load<V>(w + u * L); });
  for (int64_t i = 0; i < n; ++i) {
    float* yi = y + i * ys;
    const float* ai = a + i * as;
    pykern::cpu::unroll<B::count>([&](auto u) {
      dw_store<V>(yi + u * L, dw_load<V>(yi + u * L) + dw_load<V>(ai + u * L) * wv[u]);
    });
  }
}

// dw[j] += sum over i < n of a[i*as + j] * b[i*bs + j], for the block's channels j.
template <class B>
static inline void dw_dot_rows(B, float* dw, const float* a, int64_t as, const float* b,
                               int64_t bs, int64_t n) {
  using V = typename B::Vec;
  constexpr int64_t L = sizeof(V) / sizeof(float);
  V acc[B::count];
  pykern::cpu::unroll<B::count>([&](auto u) { acc[u] = V{}; });
  for (int64_t i = 0; i < n; ++i)
    pykern::cpu::unroll<B::count>([&](auto u) {
      acc[u] += dw_load<V>(a + i * as + u * L) * dw_load<V>(b + i * bs + u * L);
    });
  pykern::cpu::unroll<B::count>([&](auto u) {
    dw_store<V>(dw + u * L, dw_load<V>(dw + u * L) + acc[u]);
  });
}

// y[j] += a * b[j], j < n (the M > 1 loops).
static inline void dw_axpy(float* __restrict y, float a, const float* __restrict b, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * b[j];
}

// Calls f(first tap of the row, input line) for each tap row (kd, kh) of
// output line l whose input line is in range.
template <class F>
static inline void dw_tap_rows(const pykern::ConvShape& s, int64_t l, F&& f) {
  for (int64_t kd = 0; kd < s.k[0]; ++kd)
    for (int64_t kh = 0; kh < s.k[1]; ++kh) {
      const int64_t il = pykern::cpu::conv_input_line(s, l, kd, kh);
      if (il >= 0) f((kd * s.k[1] + kh) * s.k[2], il);
    }
}

static void dw_forward_line(const pykern::ConvShape& s, const float* x, const float* w,
                            const float* bias, int64_t l, float* y) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2], sw = s.stride[2];
  float* yl = y + l * OW * K;
  for (int64_t ow = 0; ow < OW; ++ow) {
    if (bias)
      std::memcpy(yl + ow * K, bias, K * sizeof(float));
    else
      std::memset(yl + ow * K, 0, K * sizeof(float));
  }
  dw_tap_rows(s, l, [&](int64_t row_tap, int64_t il) {
    const float* xl = x + il * W * C;
    for (int64_t kw = 0; kw < s.k[2]; ++kw) {
      const float* wt = w + (row_tap + kw) * K;
      const int64_t off = pykern::cpu::conv_w_offset(s, kw);
      int64_t lo, hi;
      pykern::cpu::conv_valid_ow(s, kw, &lo, &hi);
      if (M == 1) {
        dw_channel_blocks(C, [&](int64_t c, auto blk) {
          dw_scaled_rows(blk, yl + lo * K + c, K, xl + (lo * sw + off) * C + c, sw * C, wt + c,
                         hi - lo);
        });
        continue;
      }
      for (int64_t ow = lo; ow < hi; ++ow) {
        const float* xp = xl + (ow * sw + off) * C;
        for (int64_t c = 0; c < C; ++c) dw_axpy(yl + ow * K + c * M, xp[c], wt + c * M, M);
      }
    }
  });
}

static void dw_backward_data_line(const pykern::ConvShape& s, const float* dy, const float* w,
                                  int64_t il, float* dx) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2], sw = s.stride[2];
  const int64_t ih = il % s.in[1], id = (il / s.in[1]) % s.in[0], n = il / (s.in[1] * s.in[0]);
  float* dxl = dx + il * W * C;
  std::memset(dxl, 0, W * C * sizeof(float));
  for (int64_t kd = 0; kd < s.k[0]; ++kd) {
    const int64_t od = pykern::cpu::conv_output_index(id, kd, s.stride[0], s.dil[0],
                                                      s.pad_begin[0], s.out[0]);
    if (od < 0) continue;
    for (int64_t kh = 0; kh < s.k[1]; ++kh) {
      const int64_t oh = pykern::cpu::conv_output_index(ih, kh, s.stride[1], s.dil[1],
                                                        s.pad_begin[1], s.out[1]);
      if (oh < 0) continue;
      const float* dyl = dy + ((n * s.out[0] + od) * s.out[1] + oh) * OW * K;
      for (int64_t kw = 0; kw < s.k[2]; ++kw) {
        const float* wt = w + ((kd * s.k[1] + kh) * s.k[2] + kw) * K;
        const int64_t off = pykern::cpu::conv_w_offset(s, kw);
        int64_t lo, hi;
        pykern::cpu::conv_valid_ow(s, kw, &lo, &hi);
        if (M == 1) {
          dw_channel_blocks(C, [&](int64_t c, auto blk) {
            dw_scaled_rows(blk, dxl + (lo * sw + off) * C + c, sw * C, dyl + lo * K + c, K,
                           wt + c, hi - lo);
          });
          continue;
        }
        for (int64_t ow = lo; ow < hi; ++ow) {
          float* dxp = dxl + (ow * sw + off) * C;
          const float* dyp = dyl + ow * K;
          for (int64_t c = 0; c < C; ++c) {
            float acc = 0.0f;
            for (int64_t m = 0; m < M; ++m) acc += dyp[c * M + m] * wt[c * M + m];
            dxp[c] += acc;
          }
        }
      }
    }
  }
}

static void dw_backward_filter_lines(const pykern::ConvShape& s, const float* x, const float* dy,
                                     int64_t l0, int64_t l1, float* dw) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2], sw = s.stride[2];
  std::memset(dw, 0, s.k[0] * s.k[1] * s.k[2] * K * sizeof(float));
  for (int64_t l = l0; l < l1; ++l) {
    const float* dyl = dy + l * OW * K;
    dw_tap_rows(s, l, [&](int64_t row_tap, int64_t il) {
      const float* xl = x + il * W * C;
      for (int64_t kw = 0; kw < s.k[2]; ++kw) {
        float* wt = dw + (row_tap + kw) * K;
        const int64_t off = pykern::cpu::conv_w_offset(s, kw);
        int64_t lo, hi;
        pykern::cpu::conv_valid_ow(s, kw, &lo, &hi);
        if (M == 1) {
          dw_channel_blocks(C, [&](int64_t c, auto blk) {
            dw_dot_rows(blk, wt + c, xl + (lo * sw + off) * C + c, sw * C, dyl + lo * K + c, K,
                        hi - lo);
          });
          continue;
        }
        for (int64_t ow = lo; ow < hi; ++ow) {
          const float* xp = xl + (ow * sw + off) * C;
          for (int64_t c = 0; c < C; ++c) dw_axpy(wt + c * M, xp[c], dyl + ow * K + c * M, M);
        }
      }
    });
  }
}

static const pykern::cpu::DepthwiseKernels kDepthwiseKernels{
    dw_forward_line, dw_backward_data_line, dw_backward_filter_lines};
