// The activations in double, for the scalar oracles (csrc/ref/).
#include <cmath>
#include <vector>

#include "pykern/activation.h"

namespace pykern {

double activation_ref(double v, Act act) {
  switch (act) {
    case Act::relu: return v > 0.0 ? v : 0.0;
    case Act::sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Act::tanh: return std::tanh(v);
    default: return v;
  }
}

void bias_act_grad_ref(const float* g, const float* y, float* dz, float* db, int64_t rows,
                       int64_t cols, Act act) {
  std::vector<double> sum(cols > 0 ? cols : 0, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = r * cols + c;
      const double yv = act == Act::none ? 0.0 : y[i];  // y is null for none
      double d = 1.0;
      switch (act) {
        case Act::relu: d = yv > 0.0 ? 1.0 : 0.0; break;
        case Act::sigmoid: d = yv * (1.0 - yv); break;
        case Act::tanh: d = 1.0 - yv * yv; break;
        default: break;
      }
      const double v = g[i] * d;
      if (dz) dz[i] = static_cast<float>(v);
      sum[c] += v;
    }
  if (db)
    for (int64_t c = 0; c < cols; ++c) db[c] = static_cast<float>(sum[c]);
}

}  // namespace pykern
