// Index arithmetic shared by the convolution drivers and the per-ISA depthwise
// kernels (see pykern/conv.h for the shapes). A "line" is the run of pixels
// along W at one (n, d, h): output line l = (n*OD + od)*OH + oh holds OW
// pixels, input line il = (n*D + id)*H + ih holds W.
//
// The functions are static: this header is compiled into files with different
// ISA flags, and one shared inline copy could be the AVX-512 one.
#pragma once
#include <algorithm>
#include <cstdint>

#include "pykern/conv.h"

namespace pykern::cpu {

// The input line that tap row (kd, kh) of output line l reads, or -1 where it
// falls in the padding.
static inline int64_t conv_input_line(const ConvShape& s, int64_t l, int64_t kd, int64_t kh) {
  const int64_t oh = l % s.out[1], od = (l / s.out[1]) % s.out[0], n = l / (s.out[1] * s.out[0]);
  const int64_t id = od * s.stride[0] - s.pad_begin[0] + kd * s.dil[0];
  const int64_t ih = oh * s.stride[1] - s.pad_begin[1] + kh * s.dil[1];
  if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1]) return -1;
  return (n * s.in[0] + id) * s.in[1] + ih;
}

// The output index o with o*stride - pad + k*dil == i, or -1 if there is none.
static inline int64_t conv_output_index(int64_t i, int64_t k, int64_t stride, int64_t dil,
                                        int64_t pad, int64_t out) {
  const int64_t t = i + pad - k * dil;
  if (t < 0 || t % stride) return -1;
  return t / stride < out ? t / stride : -1;
}

// Input column offset of kernel column kw: iw = ow*stride + conv_w_offset.
static inline int64_t conv_w_offset(const ConvShape& s, int64_t kw) {
  return kw * s.dil[2] - s.pad_begin[2];
}

// The output pixels ow in [*lo, *hi) whose kernel column kw reads an in-range input column.
static inline void conv_valid_ow(const ConvShape& s, int64_t kw, int64_t* lo, int64_t* hi) {
  const int64_t sw = s.stride[2], off = conv_w_offset(s, kw);
  *lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  *hi = s.in[2] - off <= 0 ? 0 : std::min(s.out[2], (s.in[2] - off - 1) / sw + 1);
  if (*lo > *hi) *lo = *hi;
}

}  // namespace pykern::cpu
