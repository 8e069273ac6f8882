// Batch and layer normalization kernels (contract and determinism notes in
// cuda/norm.h). Batch norm: two column-sum passes (cuda/colsum.cuh) for the
// statistics, then one element-wise pass; its backward is one two-value
// column-sum pass, a per-channel coefficient kernel and one element-wise pass.
// Layer norm: one warp per row for the row statistics and dx; its dgamma and
// dbeta are column sums over the rows.
#include <algorithm>
#include <cstdint>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/colsum.cuh"
#include "cuda/norm.h"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256, kRowsPerBlock = kThreads / 32;

unsigned grid_for(int64_t n, int64_t per_block = kThreads) {
  return unsigned(std::clamp<int64_t>((n + per_block - 1) / per_block, 1, int64_t(1) << 20));
}

// x (P, A, C, B) seen as P problems of A rows by W = C*B columns; column w is
// channel w / B.
struct BnView {
  int64_t A, C, B, W;
  __device__ int64_t index(int64_t p, int64_t a, int64_t w) const { return (p * A + a) * W + w; }
  // element i -> statistic p*C + c and channel c
  __device__ int64_t stat(int64_t i, int64_t* c) const {
    *c = i / B % C;
    return i / (A * W) * C + *c;
  }
};

BnView view_of(const BatchNormShape& s) { return {s.A, s.C, s.B, s.C * s.B}; }

struct SumTerm {
  BnView v;
  const float* x;
  __device__ void operator()(int64_t p, int64_t a, int64_t w, double* s) const {
    s[0] += x[v.index(p, a, w)];
  }
};

struct MeanFinish {
  double* mean;
  double n;
  int64_t C;
  __device__ void operator()(int64_t p, int64_t c, const double* t) const {
    mean[p * C + c] = t[0] / n;
  }
};

struct SquareTerm {
  BnView v;
  const float* x;
  const double* mean;
  __device__ void operator()(int64_t p, int64_t a, int64_t w, double* s) const {
    const double d = double(x[v.index(p, a, w)]) - mean[p * v.C + w / v.B];
    s[0] += d * d;
  }
};

struct StatFinish {
  const double* mean_d;
  double n;
  float epsilon;
  float *mean, *var, *inv_std;
  int64_t C;
  __device__ void operator()(int64_t p, int64_t c, const double* t) const {
    const int64_t pc = p * C + c;
    const double vr = t[0] / n;
    mean[pc] = float(mean_d[pc]);
    var[pc] = float(vr);
    inv_std[pc] = float(1.0 / sqrt(vr + double(epsilon)));
  }
};

// y = (x - mean) * (gamma * inv_std) + beta, unfused as on the CPU.
__global__ void __launch_bounds__(kThreads)
    normalize_kernel(BnView v, int64_t total, const float* __restrict__ x,
                     const float* __restrict__ mean, const float* __restrict__ inv_std,
                     const float* __restrict__ gamma, const float* __restrict__ beta,
                     float* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    int64_t c;
    const int64_t pc = v.stat(i, &c);
    const float scale = __fmul_rn(gamma ? gamma[c] : 1.0f, inv_std[pc]);
    y[i] = __fadd_rn(__fmul_rn(__fsub_rn(x[i], mean[pc]), scale), beta ? beta[c] : 0.0f);
  }
}

__global__ void inv_std_kernel(const float* __restrict__ var, float epsilon, int64_t n,
                               float* __restrict__ inv_std) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kThreads)
    inv_std[i] = float(1.0 / sqrt(double(var[i]) + double(epsilon)));
}

// sum(dy) and sum(dy * (x - mean)) per statistic.
struct BackwardTerm {
  BnView v;
  const float *dy, *x, *mean;
  __device__ void operator()(int64_t p, int64_t a, int64_t w, double* s) const {
    const int64_t i = v.index(p, a, w);
    const double g = dy[i];
    s[0] += g;
    s[1] += g * (double(x[i]) - double(mean[p * v.C + w / v.B]));
  }
};

struct PairFinish {
  double* stat;  // (P*C, 2)
  int64_t C;
  __device__ void operator()(int64_t p, int64_t c, const double* t) const {
    stat[(p * C + c) * 2] = t[0];
    stat[(p * C + c) * 2 + 1] = t[1];
  }
};

// Per channel c (one thread): dgamma, dbeta summed over p in order, and the
// (p, c) coefficients of dx = a*dy + (q*(x - mean) + r):
// a = g*is, q = -g*is^3*sum(dy*(x-mean))/n, r = -g*is*sum(dy)/n.
__global__ void bn_coefficients_kernel(int64_t P, int64_t C, double n,
                                       const double* __restrict__ stat,
                                       const float* __restrict__ inv_std,
                                       const float* __restrict__ gamma, float* __restrict__ dgamma,
                                       float* __restrict__ dbeta, float* __restrict__ coef) {
  const int64_t PC = P * C;
  for (int64_t c = blockIdx.x * int64_t(kThreads) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * kThreads) {
    double sg = 0.0, sb = 0.0;
    for (int64_t p = 0; p < P; ++p) {
      const int64_t pc = p * C + c;
      const double is = inv_std[pc], gi = (gamma ? double(gamma[c]) : 1.0) * is;
      sb += stat[2 * pc];
      sg += stat[2 * pc + 1] * is;
      coef[pc] = float(gi);
      coef[PC + pc] = float(-gi * is * is * stat[2 * pc + 1] / n);
      coef[2 * PC + pc] = float(-gi * stat[2 * pc] / n);
    }
    dgamma[c] = float(sg);
    dbeta[c] = float(sb);
  }
}

__global__ void __launch_bounds__(kThreads)
    bn_dx_kernel(BnView v, int64_t total, int64_t PC, const float* __restrict__ dy,
                 const float* __restrict__ x, const float* __restrict__ mean,
                 const float* __restrict__ coef, float* __restrict__ dx) {
  for (int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kThreads) {
    int64_t c;
    const int64_t pc = v.stat(i, &c);
    const float a = coef[pc], q = coef[PC + pc], r = coef[2 * PC + pc];
    dx[i] = __fadd_rn(__fmul_rn(a, dy[i]), __fadd_rn(__fmul_rn(q, __fsub_rn(x[i], mean[pc])), r));
  }
}

// ---- layer norm -----------------------------------------------------------------------------

// The sum over a warp, the same on every lane (a butterfly pairs the same
// values at each level on all lanes, and addition commutes).
__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o >= 1; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__global__ void __launch_bounds__(kThreads)
    ln_forward_kernel(int64_t M, int64_t F, const float* __restrict__ x,
                      const float* __restrict__ gamma, const float* __restrict__ beta,
                      float epsilon, float* __restrict__ y, float* __restrict__ mean,
                      float* __restrict__ inv_std) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32; row < M;
       row += int64_t(gridDim.x) * kRowsPerBlock) {
    const float* xr = x + row * F;
    double s = 0.0;
    for (int64_t f = lane; f < F; f += 32) s += xr[f];
    const double md = warp_sum(s) / double(F);
    double q = 0.0;
    for (int64_t f = lane; f < F; f += 32) {
      const double d = xr[f] - md;
      q += d * d;
    }
    const double vr = warp_sum(q) / double(F);
    const float mf = float(md), is = float(1.0 / sqrt(vr + double(epsilon)));
    if (lane == 0) {
      mean[row] = mf;
      inv_std[row] = is;
    }
    float* yr = y + row * F;
    for (int64_t f = lane; f < F; f += 32)
      yr[f] = __fadd_rn(__fmul_rn(__fsub_rn(xr[f], mf), __fmul_rn(gamma ? gamma[f] : 1.0f, is)),
                        beta ? beta[f] : 0.0f);
  }
}

// dx = (gamma*is)*dy + (q*(x - mean) + c), q = -is^3 sum(g*(x-mean))/F,
// c = -is sum(g)/F, g = dy*gamma.
__global__ void __launch_bounds__(kThreads)
    ln_dx_kernel(int64_t M, int64_t F, const float* __restrict__ dy, const float* __restrict__ x,
                 const float* __restrict__ mean, const float* __restrict__ inv_std,
                 const float* __restrict__ gamma, float* __restrict__ dx) {
  const int lane = threadIdx.x % 32;
  for (int64_t row = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.x / 32; row < M;
       row += int64_t(gridDim.x) * kRowsPerBlock) {
    const float *xr = x + row * F, *dyr = dy + row * F;
    const float mf = mean[row], is = inv_std[row];
    double s0 = 0.0, s1 = 0.0;
    for (int64_t f = lane; f < F; f += 32) {
      const double g = gamma ? double(dyr[f]) * double(gamma[f]) : double(dyr[f]);
      s0 += g;
      s1 += g * (double(xr[f]) - double(mf));
    }
    s0 = warp_sum(s0);
    s1 = warp_sum(s1);
    const float q = float(-double(is) * is * is * s1 / double(F));
    const float c = float(-double(is) * s0 / double(F));
    float* dxr = dx + row * F;
    for (int64_t f = lane; f < F; f += 32)
      dxr[f] = __fadd_rn(__fmul_rn(__fmul_rn(gamma ? gamma[f] : 1.0f, is), dyr[f]),
                         __fadd_rn(__fmul_rn(q, __fsub_rn(xr[f], mf)), c));
  }
}

// dgamma = sum(dy * xhat), dbeta = sum(dy) over the rows.
struct LnParamTerm {
  int64_t F;
  const float *dy, *x, *mean, *inv_std;
  __device__ void operator()(int64_t, int64_t a, int64_t f, double* s) const {
    const int64_t i = a * F + f;
    const double g = dy[i];
    s[0] += g * (double(x[i]) - double(mean[a])) * double(inv_std[a]);
    s[1] += g;
  }
};

struct StoreParams {
  float *dgamma, *dbeta;
  __device__ void operator()(int64_t, int64_t c, const double* t) const {
    dgamma[c] = float(t[0]);
    dbeta[c] = float(t[1]);
  }
};

}  // namespace

void batch_norm_train_device(const BatchNormShape& s, const float* x, const float* gamma,
                             const float* beta, float epsilon, float* y, float* mean, float* var,
                             float* inv_std) {
  validate_batch_norm(s, "batch_norm_train");
  const int64_t PC = s.P * s.C;
  if (PC == 0) return;
  const BnView v = view_of(s);
  const double n = double(s.A) * double(s.B);
  DeviceBuffer mean_buf(size_t(PC) * sizeof(double));
  double* mean_d = static_cast<double*>(mean_buf.ptr());
  column_sums<1>(s.P, s.A, s.C, s.B, SumTerm{v, x}, MeanFinish{mean_d, n, s.C},
                 "batch_norm_train");
  column_sums<1>(s.P, s.A, s.C, s.B, SquareTerm{v, x, mean_d},
                 StatFinish{mean_d, n, epsilon, mean, var, inv_std, s.C}, "batch_norm_train");
  const int64_t total = s.P * s.A * v.W;
  if (total == 0) return;
  normalize_kernel<<<grid_for(total), kThreads>>>(v, total, x, mean, inv_std, gamma, beta, y);
  PK_LAUNCH_CHECK("batch_norm_train");
}

void batch_norm_inference_device(const BatchNormShape& s, const float* x, const float* mean,
                                 const float* var, const float* gamma, const float* beta,
                                 float epsilon, float* y) {
  validate_batch_norm(s, "batch_norm_inference");
  const int64_t PC = s.P * s.C, total = s.P * s.A * s.C * s.B;
  if (total == 0) return;
  DeviceBuffer inv_buf(size_t(PC) * sizeof(float));
  inv_std_kernel<<<grid_for(PC), kThreads>>>(var, epsilon, PC, inv_buf.f32());
  PK_LAUNCH_CHECK("batch_norm_inference");
  normalize_kernel<<<grid_for(total), kThreads>>>(view_of(s), total, x, mean, inv_buf.f32(), gamma,
                                                  beta, y);
  PK_LAUNCH_CHECK("batch_norm_inference");
}

void batch_norm_backward_device(const BatchNormShape& s, const float* dy, const float* x,
                                const float* mean, const float* inv_std, const float* gamma,
                                float* dx, float* dgamma, float* dbeta) {
  validate_batch_norm(s, "batch_norm_backward");
  const int64_t PC = s.P * s.C;
  if (s.C == 0) return;
  if (s.P == 0) {  // nothing to sum: zero gradients for gamma and beta
    PK_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, size_t(s.C) * sizeof(float)));
    PK_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, size_t(s.C) * sizeof(float)));
    return;
  }
  const BnView v = view_of(s);
  DeviceBuffer stat_buf(size_t(PC) * 2 * sizeof(double)), coef_buf(size_t(PC) * 3 * sizeof(float));
  double* stat = static_cast<double*>(stat_buf.ptr());
  column_sums<2>(s.P, s.A, s.C, s.B, BackwardTerm{v, dy, x, mean}, PairFinish{stat, s.C},
                 "batch_norm_backward");
  bn_coefficients_kernel<<<grid_for(s.C), kThreads>>>(s.P, s.C, double(s.A) * double(s.B), stat,
                                                      inv_std, gamma, dgamma, dbeta,
                                                      coef_buf.f32());
  PK_LAUNCH_CHECK("batch_norm_backward");
  const int64_t total = s.P * s.A * v.W;
  if (total == 0) return;
  bn_dx_kernel<<<grid_for(total), kThreads>>>(v, total, PC, dy, x, mean, coef_buf.f32(), dx);
  PK_LAUNCH_CHECK("batch_norm_backward");
}

void layer_norm_forward_device(int64_t M, int64_t F, const float* x, const float* gamma,
                               const float* beta, float epsilon, float* y, float* mean,
                               float* inv_std) {
  if (M == 0) return;
  ln_forward_kernel<<<grid_for(M, kRowsPerBlock), kThreads>>>(M, F, x, gamma, beta, epsilon, y,
                                                              mean, inv_std);
  PK_LAUNCH_CHECK("layer_norm_forward");
}

void layer_norm_backward_device(int64_t M, int64_t F, const float* dy, const float* x,
                                const float* mean, const float* inv_std, const float* gamma,
                                float* dx, float* dgamma, float* dbeta) {
  if (M > 0) {
    ln_dx_kernel<<<grid_for(M, kRowsPerBlock), kThreads>>>(M, F, dy, x, mean, inv_std, gamma, dx);
    PK_LAUNCH_CHECK("layer_norm_backward");
  }
  column_sums<2>(1, M, F, 1, LnParamTerm{F, dy, x, mean, inv_std}, StoreParams{dgamma, dbeta},
                 "layer_norm_backward");
}

}  // namespace pykern::cuda
