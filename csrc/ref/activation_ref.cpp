// The activations in double, for the scalar oracles (csrc/ref/).
#include <cmath>

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

}  // namespace pykern
