// Batch and layer normalization: the kernel contract.
//
// Batch norm works on a view x (P, A, C, B), row-major float32, with statistics per
// (p, c) over the A and B axes (n = A*B values each):
//   BatchNormalization on any axis: P = 1, A = product of the dims before the axis,
//     C = its size, B = product of the dims after it (channels-last: B = 1; axis 1
//     of NCHW data: A = N, B = H*W).
//   GroupNormalization, channels-last x (N, S..., G*Cg): P = N, A = S (spatial),
//     C = G, B = Cg, with gamma = beta = null; the caller applies the per-channel
//     affine of Keras' GroupNormalization after (see register_norm.cpp).
// mean, var, inv_std are (P, C); gamma, beta are (C,) or null (scale 1, offset 0).
//   mean = sum(x)/n, var = sum((x - mean)^2)/n (biased, as Keras and TF's fused batch
//   norm normalise with), both by the two-pass algorithm in double;
//   inv_std = 1/sqrt(var + epsilon);
//   y = (x - mean) * (gamma * inv_std) + beta, with mean and inv_std rounded to
//   float32 first (the same values the backward is given).
// Keras computes y as x*k + (beta - mean*k), k = gamma*inv_std; subtracting first
// is equal in exact arithmetic and keeps full precision when |mean| >> std.
//
// Layer norm works on x (M, F): each row is normalised over its F features with
// mean (M,), inv_std (M,) as above and gamma, beta (F,) or null:
//   y[m, f] = (x[m, f] - mean[m]) * (gamma[f] * inv_std[m]) + beta[f]
// (Keras 3 LayerNormalization with rms_scaling=False: moments, then rsqrt(var + eps)).
//
// Backward (training mode: the gradient flows through mean and var too), with
// xhat = (x - mean) * inv_std and g = dy * gamma over one statistic's n values:
//   dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)),
//   dgamma = sum(dy * xhat), dbeta = sum(dy) over everything but gamma's axis.
// dgamma and dbeta are always computed (also when gamma is null).
//
// Reductions are sums in double over a fixed partition of the data (row blocks
// and runs of 8 lanes whose sizes depend on the shape alone), combined in a
// fixed order, so every result is bitwise identical for any thread count.
#pragma once
#include <cstdint>

namespace pykern {

struct BatchNormShape {
  int64_t P = 1, A = 0, C = 0, B = 1;
};

// Throws std::invalid_argument "<op>: ..." on negative sizes.
void validate_batch_norm(const BatchNormShape& s, const char* op);

// x, y (P,A,C,B); mean, var, inv_std (P,C) are written. n = A*B == 0 gives NaN statistics.
void batch_norm_train(const BatchNormShape& s, const float* x, const float* gamma,
                      const float* beta, float epsilon, float* y, float* mean, float* var,
                      float* inv_std);
// y = (x - mean) * (gamma / sqrt(var + epsilon)) + beta with the given (P,C) mean and var.
void batch_norm_inference(const BatchNormShape& s, const float* x, const float* mean,
                          const float* var, const float* gamma, const float* beta, float epsilon,
                          float* y);
// dy, x, dx (P,A,C,B); mean, inv_std (P,C) from batch_norm_train; dgamma, dbeta (C,)
// summed over P too.
void batch_norm_backward(const BatchNormShape& s, const float* dy, const float* x,
                         const float* mean, const float* inv_std, const float* gamma, float* dx,
                         float* dgamma, float* dbeta);

// x, y (M,F); gamma, beta (F,) or null; mean, inv_std (M,) are written.
void layer_norm_forward(int64_t M, int64_t F, const float* x, const float* gamma,
                        const float* beta, float epsilon, float* y, float* mean, float* inv_std);
// dy, x, dx (M,F); mean, inv_std (M,) from layer_norm_forward; dgamma, dbeta (F,).
void layer_norm_backward(int64_t M, int64_t F, const float* dy, const float* x, const float* mean,
                         const float* inv_std, const float* gamma, float* dx, float* dgamma,
                         float* dbeta);

// The plain twins (csrc/ref/): one thread, loops, double accumulation.
void batch_norm_train_ref(const BatchNormShape& s, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* mean, float* var,
                          float* inv_std);
void batch_norm_inference_ref(const BatchNormShape& s, const float* x, const float* mean,
                              const float* var, const float* gamma, const float* beta,
                              float epsilon, float* y);
void batch_norm_backward_ref(const BatchNormShape& s, const float* dy, const float* x,
                             const float* mean, const float* inv_std, const float* gamma,
                             float* dx, float* dgamma, float* dbeta);
void layer_norm_forward_ref(int64_t M, int64_t F, const float* x, const float* gamma,
                            const float* beta, float epsilon, float* y, float* mean,
                            float* inv_std);
void layer_norm_backward_ref(int64_t M, int64_t F, const float* dy, const float* x,
                             const float* mean, const float* inv_std, const float* gamma,
                             float* dx, float* dgamma, float* dbeta);

}  // namespace pykern
