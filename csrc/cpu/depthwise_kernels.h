// The slots one ISA fills for the depthwise driver (cpu/depthwise.cpp): the
// direct kernel on one line at a time (lines as in cpu/conv_geometry.h), with
// shapes as in pykern/conv.h and groups == C, M = K / C.
#pragma once
#include <cstdint>

#include "pykern/conv.h"

namespace pykern::cpu {

struct DepthwiseKernels {
  // y's output line l (OW pixels, K channels) = bias + the taps' products; no activation.
  void (*forward_line)(const ConvShape& s, const float* x, const float* w, const float* bias,
                       int64_t l, float* y);
  // dx's input line il (W pixels, C channels), overwritten.
  void (*backward_data_line)(const ConvShape& s, const float* dy, const float* w, int64_t il,
                             float* dx);
  // dw (taps, K) = the sum over output lines [l0, l1), overwritten.
  void (*backward_filter_lines)(const ConvShape& s, const float* x, const float* dy, int64_t l0,
                                int64_t l1, float* dw);
};

namespace avx512 { const DepthwiseKernels& depthwise_kernels(); }
namespace avx2 { const DepthwiseKernels& depthwise_kernels(); }
namespace generic { const DepthwiseKernels& depthwise_kernels(); }

}  // namespace pykern::cpu
