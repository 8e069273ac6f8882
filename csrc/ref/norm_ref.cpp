// The oracle every fast normalization kernel is tested against: loops over one
// statistic's values at a time, two-pass moments in double, one thread.
#include <cmath>
#include <vector>

#include "pykern/norm.h"

namespace pykern {
namespace {

// Calls f(i) for the flat index of every element of statistic (p, c) of x (P, A, C, B).
template <class F>
void for_each_value(const BatchNormShape& s, int64_t p, int64_t c, F f) {
  for (int64_t a = 0; a < s.A; ++a)
    for (int64_t b = 0; b < s.B; ++b) f(((p * s.A + a) * s.C + c) * s.B + b);
}

}  // namespace

void batch_norm_train_ref(const BatchNormShape& s, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* mean, float* var,
                          float* inv_std) {
  validate_batch_norm(s, "batch_norm_train");
  const double n = double(s.A) * double(s.B);
  for (int64_t p = 0; p < s.P; ++p)
    for (int64_t c = 0; c < s.C; ++c) {
      double sum = 0.0, sq = 0.0;
      for_each_value(s, p, c, [&](int64_t i) { sum += x[i]; });
      const double m = sum / n;
      for_each_value(s, p, c, [&](int64_t i) { sq += (x[i] - m) * (x[i] - m); });
      const int64_t pc = p * s.C + c;
      mean[pc] = static_cast<float>(m);
      var[pc] = static_cast<float>(sq / n);
      inv_std[pc] = static_cast<float>(1.0 / std::sqrt(sq / n + epsilon));
      const float scale = (gamma ? gamma[c] : 1.f) * inv_std[pc], offset = beta ? beta[c] : 0.f;
      for_each_value(s, p, c, [&](int64_t i) { y[i] = (x[i] - mean[pc]) * scale + offset; });
    }
}

void batch_norm_inference_ref(const BatchNormShape& s, const float* x, const float* mean,
                              const float* var, const float* gamma, const float* beta,
                              float epsilon, float* y) {
  validate_batch_norm(s, "batch_norm_inference");
  for (int64_t p = 0; p < s.P; ++p)
    for (int64_t c = 0; c < s.C; ++c) {
      const int64_t pc = p * s.C + c;
      const float inv_std = static_cast<float>(1.0 / std::sqrt(double(var[pc]) + epsilon));
      const float scale = (gamma ? gamma[c] : 1.f) * inv_std, offset = beta ? beta[c] : 0.f;
      for_each_value(s, p, c, [&](int64_t i) { y[i] = (x[i] - mean[pc]) * scale + offset; });
    }
}

void batch_norm_backward_ref(const BatchNormShape& s, const float* dy, const float* x,
                             const float* mean, const float* inv_std, const float* gamma,
                             float* dx, float* dgamma, float* dbeta) {
  validate_batch_norm(s, "batch_norm_backward");
  const double n = double(s.A) * double(s.B);
  std::vector<double> dg(s.C, 0.0), db(s.C, 0.0);
  for (int64_t p = 0; p < s.P; ++p)
    for (int64_t c = 0; c < s.C; ++c) {
      const int64_t pc = p * s.C + c;
      const double g = gamma ? gamma[c] : 1.0, is = inv_std[pc];
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for_each_value(s, p, c, [&](int64_t i) {
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * (x[i] - double(mean[pc])) * is;
      });
      db[c] += sum_dy;
      dg[c] += sum_dy_xhat;
      for_each_value(s, p, c, [&](int64_t i) {
        const double xhat = (x[i] - double(mean[pc])) * is;
        dx[i] = static_cast<float>(g * is * (dy[i] - sum_dy / n - xhat * sum_dy_xhat / n));
      });
    }
  for (int64_t c = 0; c < s.C; ++c) {
    dgamma[c] = static_cast<float>(dg[c]);
    dbeta[c] = static_cast<float>(db[c]);
  }
}

void layer_norm_forward_ref(int64_t M, int64_t F, const float* x, const float* gamma,
                            const float* beta, float epsilon, float* y, float* mean,
                            float* inv_std) {
  for (int64_t r = 0; r < M; ++r) {
    const float* xr = x + r * F;
    double sum = 0.0, sq = 0.0;
    for (int64_t f = 0; f < F; ++f) sum += xr[f];
    const double m = sum / F;
    for (int64_t f = 0; f < F; ++f) sq += (xr[f] - m) * (xr[f] - m);
    mean[r] = static_cast<float>(m);
    inv_std[r] = static_cast<float>(1.0 / std::sqrt(sq / F + epsilon));
    for (int64_t f = 0; f < F; ++f)
      y[r * F + f] = (xr[f] - mean[r]) * ((gamma ? gamma[f] : 1.f) * inv_std[r]) +
                     (beta ? beta[f] : 0.f);
  }
}

void layer_norm_backward_ref(int64_t M, int64_t F, const float* dy, const float* x,
                             const float* mean, const float* inv_std, const float* gamma,
                             float* dx, float* dgamma, float* dbeta) {
  std::vector<double> dg(F, 0.0), db(F, 0.0);
  for (int64_t r = 0; r < M; ++r) {
    const double m = mean[r], is = inv_std[r];
    double mean_g = 0.0, mean_gx = 0.0;
    for (int64_t f = 0; f < F; ++f) {
      const int64_t i = r * F + f;
      const double g = dy[i] * (gamma ? double(gamma[f]) : 1.0), xhat = (x[i] - m) * is;
      mean_g += g / F;
      mean_gx += g * xhat / F;
      dg[f] += dy[i] * xhat;
      db[f] += dy[i];
    }
    for (int64_t f = 0; f < F; ++f) {
      const int64_t i = r * F + f;
      const double g = dy[i] * (gamma ? double(gamma[f]) : 1.0), xhat = (x[i] - m) * is;
      dx[i] = static_cast<float>(is * (g - mean_g - xhat * mean_gx));
    }
  }
  for (int64_t f = 0; f < F; ++f) {
    dgamma[f] = static_cast<float>(dg[f]);
    dbeta[f] = static_cast<float>(db[f]);
  }
}

}  // namespace pykern
