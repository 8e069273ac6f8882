// pykern._cuda: the CUDA kernels. Importing it needs neither a GPU nor a
// driver (the CUDA runtime is linked statically): device_count() is then 0
// and kernels raise RuntimeError.
#include <pybind11/pybind11.h>

#include "cuda/allocator.h"
#include "cuda/device.h"

namespace py = pybind11;

namespace pykern::cuda {
void register_array(py::module_& m);
void register_core(py::module_& m);
void register_gemm(py::module_& m);
void register_nn(py::module_& m);
void register_random(py::module_& m);
void register_seq(py::module_& m);
}  // namespace pykern::cuda

PYBIND11_MODULE(_cuda, m) {
  using namespace pykern::cuda;
  m.doc() = "pykern CUDA kernels (sm_80, sm_90)";
  m.def("device_count", &device_count,
        "Visible CUDA devices; 0 when there is no driver or no GPU (never raises).");
  m.def(
      "device_info",
      [](int index) {
        const DeviceInfo d = device_info(index);
        py::dict out;
        out["name"] = d.name;
        out["compute_capability"] = py::make_tuple(d.major, d.minor);
        out["total_memory_bytes"] = d.total_memory_bytes;
        out["multiprocessors"] = d.multiprocessors;
        return out;
      },
      py::arg("index"),
      "name, compute_capability (major, minor), total_memory_bytes and multiprocessors of\n"
      "device `index`; ValueError when there is no such device.");
  m.def("empty_cache", [] {
    py::gil_scoped_release nogil;
    empty_cache();
  }, "Frees the device blocks the caching allocator holds (not those in use).");
  m.def("cached_bytes", &cached_bytes, "Bytes of device memory the allocator holds in its cache.");
  register_array(m);
  register_core(m);
  register_gemm(m);
  register_nn(m);
  register_random(m);
  register_seq(m);
}
