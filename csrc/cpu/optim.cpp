// Multi-tensor optimizer step (contract in pykern/optim.h).
//
// Pure bandwidth (Adam reads p, g, m, v and writes p, m, v: 28 B/param), so the
// design goal is one pass over memory and one call per step: elements of all
// tensors form one index space that a static OpenMP partition splits into
// 16-float-aligned ranges; each range is walked tensor by tensor with a plain
// loop the compiler vectorises.
#include "pykern/optim.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "pykern/threads.h"

namespace pykern {
namespace {

// Per-tensor view of one contiguous range [0, n) of the update.
struct Range {
  float* w;
  const float* g;
  float* s0;
  float* s1;
  float* s2;
  int64_t n;
  float scale;  // gradient clip factor (1 when not clipping by norm)
  float decay;  // weight_decay * lr (the kernel scales by lr), or 0
};

template <bool kClipValue>
inline float grad_at(const Range& r, int64_t j, float cv) {
  float g = r.g[j] * r.scale;
  if (kClipValue) g = std::min(std::max(g, -cv), cv);
  return g;
}

// RMSprop's variants as separate loops: a branch inside the loop would stop the
// compiler from vectorising it (measured: 3x slower on a 5.5k-parameter model).
template <bool kCV, bool kMom, bool kCentered>
void rmsprop_range(const Range& r, const OptimArgs& a) {
  const float rho = a.rho, one_rho = 1.f - a.rho, eps = a.epsilon, mu = a.momentum;
  const float cv = a.clipvalue, lr = a.lr;
  float* w = r.w;
  float* v = r.s0;
  float* mom = kMom ? r.s1 : nullptr;
  float* avg = kCentered ? (kMom ? r.s2 : r.s1) : nullptr;
  for (int64_t j = 0; j < r.n; ++j) {
    const float g = grad_at<kCV>(r, j, cv);
    v[j] = rho * v[j] + one_rho * (g * g);
    float denom = v[j] + eps;
    if (kCentered) {
      avg[j] = rho * avg[j] + one_rho * g;
      denom = v[j] - avg[j] * avg[j] + eps;
    }
    const float inc = lr * g / std::sqrt(denom);
    if (kMom) {
      mom[j] = mu * mom[j] + inc;
      w[j] -= mom[j];
    } else {
      w[j] -= inc;
    }
  }
}

template <bool kCV>
void update_range(const Range& r, const OptimArgs& a) {
  const float cv = a.clipvalue, lr = a.lr, d = r.decay;
  float* w = r.w;
  const int64_t n = r.n;
  if (d != 0.f)
    for (int64_t j = 0; j < n; ++j) w[j] = w[j] - w[j] * d;
  switch (a.kind) {
    case Optim::sgd: {
      if (a.momentum == 0.f) {
        for (int64_t j = 0; j < n; ++j) w[j] -= grad_at<kCV>(r, j, cv) * lr;
      } else {
        float* m = r.s0;
        const float mu = a.momentum;
        if (a.nesterov) {
          for (int64_t j = 0; j < n; ++j) {
            const float g = grad_at<kCV>(r, j, cv);
            m[j] = m[j] * mu - g * lr;
            w[j] += m[j] * mu - g * lr;
          }
        } else {
          for (int64_t j = 0; j < n; ++j) {
            m[j] = m[j] * mu - grad_at<kCV>(r, j, cv) * lr;
            w[j] += m[j];
          }
        }
      }
      break;
    }
    case Optim::rmsprop: {
      const bool mom = a.momentum > 0.f;
      if (mom && a.centered)
        rmsprop_range<kCV, true, true>(r, a);
      else if (mom)
        rmsprop_range<kCV, true, false>(r, a);
      else if (a.centered)
        rmsprop_range<kCV, false, true>(r, a);
      else
        rmsprop_range<kCV, false, false>(r, a);
      break;
    }
    case Optim::adam: {
      const float b1 = 1.f - a.beta1, b2 = 1.f - a.beta2, eps = a.epsilon, alpha = a.c1;
      float* m = r.s0;
      float* v = r.s1;
      float* vhat = a.amsgrad ? r.s2 : nullptr;
      if (vhat) {
        for (int64_t j = 0; j < n; ++j) {
          const float g = grad_at<kCV>(r, j, cv);
          m[j] += (g - m[j]) * b1;
          v[j] += (g * g - v[j]) * b2;
          vhat[j] = std::max(vhat[j], v[j]);
          w[j] -= (m[j] * alpha) / (std::sqrt(vhat[j]) + eps);
        }
      } else {
        for (int64_t j = 0; j < n; ++j) {
          const float g = grad_at<kCV>(r, j, cv);
          m[j] += (g - m[j]) * b1;
          v[j] += (g * g - v[j]) * b2;
          w[j] -= (m[j] * alpha) / (std::sqrt(v[j]) + eps);
        }
      }
      break;
    }
    case Optim::adagrad: {
      const float eps = a.epsilon;
      float* acc = r.s0;
      for (int64_t j = 0; j < n; ++j) {
        const float g = grad_at<kCV>(r, j, cv);
        acc[j] += g * g;
        w[j] -= lr * g / std::sqrt(acc[j] + eps);
      }
      break;
    }
    case Optim::adadelta: {
      const float rho = a.rho, one_rho = 1.f - a.rho, eps = a.epsilon;
      float* acc_g = r.s0;
      float* acc_d = r.s1;
      for (int64_t j = 0; j < n; ++j) {
        const float g = grad_at<kCV>(r, j, cv);
        acc_g[j] = rho * acc_g[j] + one_rho * (g * g);
        const float delta = -(std::sqrt(acc_d[j] + eps) * g) / std::sqrt(acc_g[j] + eps);
        acc_d[j] = rho * acc_d[j] + one_rho * (delta * delta);
        w[j] += lr * delta;
      }
      break;
    }
    case Optim::adamax: {
      const float b1 = 1.f - a.beta1, beta2 = a.beta2, eps = a.epsilon, c = a.c1;
      float* m = r.s0;
      float* u = r.s1;
      for (int64_t j = 0; j < n; ++j) {
        const float g = grad_at<kCV>(r, j, cv);
        m[j] += (g - m[j]) * b1;
        u[j] = std::max(beta2 * u[j], std::fabs(g));
        w[j] -= c * m[j] / (u[j] + eps);
      }
      break;
    }
    case Optim::nadam: {
      const float b1 = 1.f - a.beta1, b2 = 1.f - a.beta2, eps = a.epsilon;
      const float c1 = a.c1, c2 = a.c2, c3 = a.c3;
      float* m = r.s0;
      float* v = r.s1;
      for (int64_t j = 0; j < n; ++j) {
        const float g = grad_at<kCV>(r, j, cv);
        m[j] += (g - m[j]) * b1;
        v[j] += (g * g - v[j]) * b2;
        const float m_hat = c1 * m[j] + c2 * g;
        w[j] -= m_hat * lr / (std::sqrt(v[j] * c3) + eps);
      }
      break;
    }
  }
}

double sum_squares(const float* g, int64_t n) {
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) s += static_cast<double>(g[j]) * g[j];
  return s;
}

// Per-tensor gradient factors for clipnorm / global_clipnorm (Keras: g * c / max(norm, c)).
std::vector<float> clip_scales(const OptimTensors& t, const OptimArgs& a) {
  std::vector<float> scale(t.count, 1.f);
  if (!(a.clipnorm > 0.f) && !(a.global_clipnorm > 0.f)) return scale;
  std::vector<double> sq(t.count);
  const int nt = threads_for(2.0 * [&] {
    int64_t n = 0;
    for (int64_t i = 0; i < t.count; ++i) n += t.size[i];
    return static_cast<double>(n);
  }());
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int64_t i = 0; i < t.count; ++i) sq[i] = sum_squares(t.grad[i], t.size[i]);
  if (a.clipnorm > 0.f) {
    const double c = a.clipnorm;
    for (int64_t i = 0; i < t.count; ++i)
      scale[i] = static_cast<float>(c / std::max(std::sqrt(sq[i]), c));
  } else {
    double total = 0.0;
    for (int64_t i = 0; i < t.count; ++i) total += sq[i];
    const double c = a.global_clipnorm;
    std::fill(scale.begin(), scale.end(), static_cast<float>(c / std::max(std::sqrt(total), c)));
  }
  return scale;
}

}  // namespace

int optim_slot_count(const OptimArgs& a) {
  switch (a.kind) {
    case Optim::sgd: return a.momentum != 0.f ? 1 : 0;
    case Optim::rmsprop: return 1 + (a.momentum > 0.f) + a.centered;
    case Optim::adam: return a.amsgrad ? 3 : 2;
    case Optim::adagrad: return 1;
    case Optim::adadelta:
    case Optim::adamax:
    case Optim::nadam: return 2;
  }
  throw std::invalid_argument("optim_step: unknown optimizer kind");
}

void optim_step(const OptimTensors& t, const OptimArgs& a) {
  const int slots = optim_slot_count(a);
  for (int k = 0; k < slots; ++k)
    if (t.count > 0 && t.slot[k] == nullptr)
      throw std::invalid_argument("optim_step: missing state slot " + std::to_string(k));
  if (t.count == 0) return;
  const std::vector<float> scale = clip_scales(t, a);
  std::vector<int64_t> off(t.count + 1, 0);
  for (int64_t i = 0; i < t.count; ++i) off[i + 1] = off[i] + t.size[i];
  const int64_t total = off[t.count];
  // ~10 flops and 28 bytes per element; a second thread pays off from ~100k elements
  const int nt = threads_for(20.0 * static_cast<double>(total));
  const bool cv = a.clipvalue > 0.f;
#pragma omp parallel num_threads(nt)
  {
    const int T = omp_get_num_threads(), id = omp_get_thread_num();
    // 16-float aligned split of the global index space
    const int64_t lo = (total * id / T) & ~int64_t{15};
    const int64_t hi = id == T - 1 ? total : (total * (id + 1) / T) & ~int64_t{15};
    int64_t i = std::upper_bound(off.begin(), off.end(), lo) - off.begin() - 1;
    for (int64_t pos = lo; pos < hi && i < t.count; ++i) {
      const int64_t start = pos - off[i], end = std::min(hi, off[i + 1]) - off[i];
      if (end > start) {
        Range r{t.param[i] + start, t.grad[i] + start,
                t.slot[0] ? t.slot[0][i] + start : nullptr,
                t.slot[1] ? t.slot[1][i] + start : nullptr,
                t.slot[2] ? t.slot[2][i] + start : nullptr,
                end - start, scale[i], t.decay ? t.decay[i] * a.lr : 0.f};
        if (cv)
          update_range<true>(r, a);
        else
          update_range<false>(r, a);
      }
      pos = off[i + 1];
    }
  }
}

}  // namespace pykern
