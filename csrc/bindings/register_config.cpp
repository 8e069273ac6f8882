#include <pybind11/pybind11.h>

#include "pykern/isa.h"
#include "pykern/peak.h"
#include "pykern/threads.h"

namespace pykern::bind {

namespace py = pybind11;

void register_config(py::module_& m) {
  m.def("cpu_isa", [] { return std::string(isa_name(cpu_isa())); },
        "The instruction set the kernels use: 'avx512', 'avx2' or 'scalar'.");
  m.def("hardware_isa", [] { return std::string(isa_name(hardware_isa())); },
        "The best instruction set the CPU and OS support, ignoring PYKERN_MAX_ISA.");
  m.def("num_threads", &num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def(
      "fma_peak_gflops",
      [](double seconds, int threads) {
        py::gil_scoped_release nogil;
        return fma_peak_gflops(seconds, threads);
      },
      py::arg("seconds") = 0.5, py::arg("threads") = 0,
      "Measured fp32 FMA peak in GFLOP/s over `threads` threads (0: all).");
}

}  // namespace pykern::bind
