// Binding of the CUDA random fills: pykern._cpu's random_uniform, random_normal
// and dropout_mask signatures and checks (bindings/random_call.cpp), filled on
// the GPU and copied back to a NumPy array (a device-resident tensor API comes
// later). Arguments are checked before the device is touched.
#include "bindings/random_call.h"
#include "cuda/random.h"

namespace pykern::cuda {

void register_random(pybind11::module_& m) {
  bind::def_random_fills(m, "", " (cuda)", &random_fill_host,
                         "Filled on the GPU and copied back; RuntimeError when there is no "
                         "CUDA device.");
}

}  // namespace pykern::cuda
