// Binding of the CUDA sgemm: pykern._cpu.sgemm's signature and argument
// checks (bindings/gemm_call.cpp), on NumPy arrays that are copied to the
// device and back (a device-resident tensor API comes later). Arguments are
// checked before the device is touched, so bad input raises the same
// ValueError/TypeError with or without a GPU.
#include "bindings/gemm_call.h"
#include "cuda/gemm.h"

namespace pykern::cuda {

void register_gemm(pybind11::module_& m) {
  bind::def_sgemm(
      m, "sgemm", "sgemm (cuda)", &sgemm_host,
      "C = act(alpha * op(a) @ op(b) + beta * c + bias), row-major float32, on the GPU.\n"
      "The semantics of pykern._cpu.sgemm: with c=None a new (M, N) array is returned;\n"
      "otherwise c is written in place. Inputs are copied to the device and the result\n"
      "back. RuntimeError when there is no CUDA device.");
}

}  // namespace pykern::cuda
