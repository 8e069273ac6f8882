// pykern._cpu: the CPU kernels. Each register_<family>.cpp binds one family;
// bindings check arguments and release the GIL, and hold no math.
#include <pybind11/pybind11.h>

namespace pykern::bind {
void register_config(pybind11::module_& m);
void register_conv(pybind11::module_& m);
void register_gemm(pybind11::module_& m);
void register_norm(pybind11::module_& m);
void register_optim(pybind11::module_& m);
void register_pool(pybind11::module_& m);
void register_random(pybind11::module_& m);
void register_rnn(pybind11::module_& m);
void register_embedding(pybind11::module_& m);
}  // namespace pykern::bind

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "pykern CPU kernels (OpenMP; AVX-512 / AVX2 / baseline chosen at run time)";
  pykern::bind::register_config(m);
  pykern::bind::register_conv(m);
  pykern::bind::register_gemm(m);
  pykern::bind::register_norm(m);
  pykern::bind::register_optim(m);
  pykern::bind::register_pool(m);
  pykern::bind::register_random(m);
  pykern::bind::register_rnn(m);
  pykern::bind::register_embedding(m);
}
