// Convolution on the GPU with the contract of pykern/conv.h (NHWC with three
// spatial axes, weights (KD,KH,KW,C/G,K), explicit pad_begin/pad_end, groups,
// dilations, bias + activation fused into the forward). Plain C++ (no CUDA
// headers) so the bindings can include it.
//
// s must have passed validate_conv (s.out filled in). Pointers are device
// pointers; every launcher runs on the current device's legacy default stream
// and returns without waiting. Throws std::invalid_argument (before any
// launch) when a size exceeds the kernels' 32-bit tile indices.
//
// conv_*: implicit GEMM on the tiled SGEMM main loop (cuda/gemm_tile.cuh), the
// im2col tile gathered straight into shared memory:
//   forward          M = N*OD*OH*OW, N = K/G,  K = KD*KH*KW*C/G
//   backward_data    M = N*D*H*W,    N = C/G,  K = KD*KH*KW*K/G
//   backward_filter  M = KD*KH*KW*C/G, N = K/G, K = N*OD*OH*OW (split-K over
//                    slices of the batch, reduced in a fixed order)
// Shapes with groups == C > 1 (depthwise) go to the direct depthwise kernels.
// depthwise_*: direct kernels; the filter gradient sums each tap's products
// in double over fixed row blocks, added in order. Everything is bitwise
// repeatable (no atomics; partitions depend on the shape alone).
#pragma once
#include "pykern/activation.h"
#include "pykern/conv.h"

namespace pykern::cuda {

void conv_forward_device(const ConvShape& s, const float* x, const float* w, const float* bias,
                         Act act, float* y);
void conv_backward_data_device(const ConvShape& s, const float* dy, const float* w, float* dx);
void conv_backward_filter_device(const ConvShape& s, const float* x, const float* dy, float* dw);

// groups == C, K = C*M: w is (KD,KH,KW,C,M) and output channel c*M + m reads
// input channel c.
void depthwise_forward_device(const ConvShape& s, const float* x, const float* w,
                              const float* bias, Act act, float* y);
void depthwise_backward_data_device(const ConvShape& s, const float* dy, const float* w,
                                    float* dx);
void depthwise_backward_filter_device(const ConvShape& s, const float* x, const float* dy,
                                      float* dw);

}  // namespace pykern::cuda
