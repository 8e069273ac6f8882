// The direct depthwise kernel (slots of cpu/depthwise_kernels.h), written once
// as plain loops over the channel axis and compiled once per ISA: each
// kernels/<isa>/depthwise_<isa>.cpp includes this inside its own namespace, so
// the compiler vectorises the channel loops as zmm, ymm or xmm code.
//
// With multiplier M == 1 (the common case) every inner loop runs over C
// contiguous channels; with M > 1 over the M outputs of one input channel.
// Channels-last keeps one pixel's channels adjacent in x, y and w alike.
// The including file provides <algorithm>, <cstring>, cpu/conv_geometry.h and
// cpu/depthwise_kernels.h; this header includes nothing itself.

// y[j] += a[j] * b[j]
static inline void dw_mul_add(float* __restrict y, const float* __restrict a,
                              const float* __restrict b, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a[j] * b[j];
}

// y[j] += a * b[j]
static inline void dw_axpy(float* __restrict y, float a, const float* __restrict b, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] += a * b[j];
}

static void dw_forward_line(const pykern::ConvShape& s, const float* x, const float* w,
                            const float* bias, int64_t l, float* y) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2];
  float* yl = y + l * OW * K;
  for (int64_t ow = 0; ow < OW; ++ow) {
    if (bias)
      std::memcpy(yl + ow * K, bias, K * sizeof(float));
    else
      std::memset(yl + ow * K, 0, K * sizeof(float));
  }
  for (int64_t kd = 0; kd < s.k[0]; ++kd)
    for (int64_t kh = 0; kh < s.k[1]; ++kh) {
      const int64_t il = pykern::cpu::conv_input_line(s, l, kd, kh);
      if (il < 0) continue;
      const float* xl = x + il * W * C;
      for (int64_t kw = 0; kw < s.k[2]; ++kw) {
        const float* wt = w + ((kd * s.k[1] + kh) * s.k[2] + kw) * K;
        const int64_t off = pykern::cpu::conv_w_offset(s, kw);
        int64_t lo, hi;
        pykern::cpu::conv_valid_ow(s, kw, &lo, &hi);
        for (int64_t ow = lo; ow < hi; ++ow) {
          const float* xp = xl + (ow * s.stride[2] + off) * C;
          float* yp = yl + ow * K;
          if (M == 1)
            dw_mul_add(yp, xp, wt, C);
          else
            for (int64_t c = 0; c < C; ++c) dw_axpy(yp + c * M, xp[c], wt + c * M, M);
        }
      }
    }
}

static void dw_backward_data_line(const pykern::ConvShape& s, const float* dy, const float* w,
                                  int64_t il, float* dx) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2];
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
        for (int64_t ow = lo; ow < hi; ++ow) {
          float* dxp = dxl + (ow * s.stride[2] + off) * C;
          const float* dyp = dyl + ow * K;
          if (M == 1) {
            dw_mul_add(dxp, dyp, wt, C);
          } else {
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
}

static void dw_backward_filter_lines(const pykern::ConvShape& s, const float* x, const float* dy,
                                     int64_t l0, int64_t l1, float* dw) {
  const int64_t C = s.C, K = s.K, M = K / C, OW = s.out[2], W = s.in[2];
  std::memset(dw, 0, s.k[0] * s.k[1] * s.k[2] * K * sizeof(float));
  for (int64_t l = l0; l < l1; ++l) {
    const float* dyl = dy + l * OW * K;
    for (int64_t kd = 0; kd < s.k[0]; ++kd)
      for (int64_t kh = 0; kh < s.k[1]; ++kh) {
        const int64_t il = pykern::cpu::conv_input_line(s, l, kd, kh);
        if (il < 0) continue;
        const float* xl = x + il * W * C;
        for (int64_t kw = 0; kw < s.k[2]; ++kw) {
          float* wt = dw + ((kd * s.k[1] + kh) * s.k[2] + kw) * K;
          const int64_t off = pykern::cpu::conv_w_offset(s, kw);
          int64_t lo, hi;
          pykern::cpu::conv_valid_ow(s, kw, &lo, &hi);
          for (int64_t ow = lo; ow < hi; ++ow) {
            const float* xp = xl + (ow * s.stride[2] + off) * C;
            const float* dyp = dyl + ow * K;
            if (M == 1)
              dw_mul_add(wt, xp, dyp, C);
            else
              for (int64_t c = 0; c < C; ++c) dw_axpy(wt + c * M, xp[c], dyp + c * M, M);
          }
        }
      }
  }
}

static const pykern::cpu::DepthwiseKernels kDepthwiseKernels{
    dw_forward_line, dw_backward_data_line, dw_backward_filter_lines};
