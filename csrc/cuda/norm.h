// Batch and layer normalization on the GPU with the contract of pykern/norm.h
// (x (P, A, C, B) with (P, C) statistics over A and B; layer norm on rows of
// x (M, F)). Plain C++ (no CUDA headers). Pointers are device pointers;
// launchers run on the current device's legacy default stream.
//
// Statistics are two-pass (mean, then squared deviations about it) with sums
// in double: column sums over fixed blocks of rows, each CTA's 8 row lanes
// added in a fixed tree, then the blocks (and a channel's B columns) added by
// one CTA per statistic in a fixed tree (cuda/colsum.cuh). Layer norm rows are
// one warp each, the lanes combined by a shuffle butterfly. No atomics: runs
// are bitwise repeatable. The element-wise passes use the CPU's formulas with
// unfused multiply-adds, so they round as the CPU kernels do.
#pragma once
#include <cstdint>

#include "pykern/norm.h"

namespace pykern::cuda {

void batch_norm_train_device(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, float epsilon, float* y, float* mean, float* var,
                             float* inv_std);
void batch_norm_inference_device(const BatchNormShape& s, const float* x, const float* mean,
                                 const float* var, const float* gamma, const float* beta,
                                 float epsilon, float* y);
void batch_norm_backward_device(const BatchNormShape& s, const float* dy, const float* x,
                                const float* mean, const float* inv_std, const float* gamma,
                                float* dx, float* dgamma, float* dbeta);

void layer_norm_forward_device(int64_t M, int64_t F, const float* x, const float* gamma,
                               const float* beta, float epsilon, float* y, float* mean,
                               float* inv_std);
void layer_norm_backward_device(int64_t M, int64_t F, const float* dy, const float* x,
                                const float* mean, const float* inv_std, const float* gamma,
                                float* dx, float* dgamma, float* dbeta);

}  // namespace pykern::cuda
