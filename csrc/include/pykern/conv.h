// Convolution: the kernel contract (Conv1D/2D/3D, their transposes, depthwise).
//
// One family for spatial rank 1, 2 and 3. Everything is channels-last and
// row-major, with three spatial axes; 1-D and 2-D callers insert size-1 axes
// (in = 1, k = 1, stride = dil = 1, pads 0), which is free:
//
//   x  (N, D, H, W, C)          input
//   w  (KD, KH, KW, C/G, K)     filters, as Keras stores them (G = groups)
//   y  (N, OD, OH, OW, K)       output;  bias (K,) or null
//
//   y[n,o,k] = act(bias[k] + sum_{t,c} x[n, o*stride - pad_begin + t*dil, g*Cg + c] * w[t, c, k])
//
// for o, t over the three spatial axes, Cg = C/G, Kg = K/G, g = k / Kg. Input
// positions outside [0, in) read as zero (padding). A cross-correlation: the
// kernel is not flipped. Output size per axis:
//
//   out = (in + pad_begin + pad_end - dil*(k-1) - 1) / stride + 1      (floor)
//
// Keras' 'same' (extra pad at the end) and 'causal' are the caller's choice of
// pad_begin/pad_end. The backward kernels (the caller reduces dy for the bias
// gradient and applies the activation gradient first):
//
//   conv_backward_data:   dx (N,D,H,W,C) = d(sum y*dy)/dx, zero where no output
//                         reads x. This is also the forward pass of a
//                         transposed convolution; x's size may exceed what the
//                         output reaches (output_padding) as long as `out`
//                         above gives dy's size.
//   conv_backward_filter: dw (KD,KH,KW,Cg,K) = d(sum y*dy)/dw.
//
// Depthwise: groups == C and K = C*M for a channel multiplier M. The weights
// (KD,KH,KW,1,C*M) then are exactly Keras' depthwise kernel (KD,KH,KW,C,M)
// in memory, and output channel c*M + m is input channel c times w[..., c, m],
// as Keras/TF order it. The depthwise_* functions take such shapes and run a
// direct kernel; conv_* route these shapes to them.
//
// All kernels overwrite their output (never read it) and are bitwise
// reproducible for any thread count: partitions and reduction orders depend on
// the shape alone. Scratch comes from thread_scratch (pykern/arena.h).
#pragma once
#include <cstdint>
#include <string>

#include "pykern/activation.h"

namespace pykern {

struct ConvShape {
  int64_t N = 0, C = 0, K = 0, groups = 1;
  int64_t in[3] = {1, 1, 1};     // D, H, W
  int64_t k[3] = {1, 1, 1};      // KD, KH, KW
  int64_t stride[3] = {1, 1, 1};
  int64_t dil[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
  int64_t out[3] = {1, 1, 1};    // OD, OH, OW: filled in by validate_conv
};

// Checks sizes (positive channels, kernel, strides, dilations; pads >= 0;
// groups dividing C and K; every output size >= 1; sizes small enough that
// no index overflows), fills in s.out, and throws std::invalid_argument with
// "<op>: <what> [<shape>]" otherwise. depthwise: also requires groups == C.
void validate_conv(ConvShape& s, const char* op, bool depthwise = false);

// "N=2, in=(1,5,5), C=3, k=(1,3,3), K=8, ..." for error messages.
std::string conv_shape_str(const ConvShape& s);

// The fast kernels (GEMM on pykern::sgemm, or the direct depthwise kernel).
void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, Act act,
                  float* y);
void conv_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx);
void conv_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw);

void depthwise_forward(const ConvShape& s, const float* x, const float* w, const float* bias,
                       Act act, float* y);
void depthwise_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx);
void depthwise_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw);

// The plain oracles: loops straight from the formula, double accumulation, one
// thread. Depthwise is the same formula with groups == C, so the conv oracles
// serve both.
void conv_forward_ref(const ConvShape& s, const float* x, const float* w, const float* bias,
                      Act act, float* y);
void conv_backward_data_ref(const ConvShape& s, const float* dy, const float* w, float* dx);
void conv_backward_filter_ref(const ConvShape& s, const float* x, const float* dy, float* dw);

}  // namespace pykern
