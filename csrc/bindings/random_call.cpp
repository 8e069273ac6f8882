#include "bindings/random_call.h"

#include <string>

#include "bindings/array_view.h"

namespace pykern::bind {

uint64_t uint_arg(py::handle v, int bits, const char* op, const char* what) {
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!i) {
    PyErr_Clear();
    throw py::type_error(std::string(op) + ": " + what + " must be an int, got " +
                         std::string(py::str(py::type::of(v).attr("__name__"))));
  }
  const unsigned long long x = PyLong_AsUnsignedLongLong(i.ptr());
  const bool overflow = x == static_cast<unsigned long long>(-1) && PyErr_Occurred();
  if (overflow) PyErr_Clear();
  if (overflow || (bits < 64 && (x >> bits) != 0))
    fail(op, std::string(what) + " must be in [0, 2**" + std::to_string(bits) + "), got " +
                 std::string(py::str(i)));
  return x;
}

namespace {

py::array fill_py(const std::string& op, void (*fill)(float*, int64_t, const RandomArgs&),
                  RandomDist dist, int64_t n, double rate, py::handle seed,
                  py::handle offset) {
  RandomArgs a;
  a.dist = dist;
  a.rate = static_cast<float>(rate);  // checked after rounding: 1 - 1e-9 becomes 1.0f
  a.seed = uint_arg(seed, 64, op.c_str(), "seed");
  a.offset = uint_arg(offset, 64, op.c_str(), "offset");
  validate_random(op.c_str(), n, a);
  py::array out = new_matrix({n});
  float* p = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release nogil;
    fill(p, n, a);
  }
  return out;
}

}  // namespace

void def_random_fills(py::module_& m, const char* suffix, const char* op_tag,
                      void (*fill)(float*, int64_t, const RandomArgs&), const char* where) {
  const std::string s = suffix, tag = op_tag;
  const std::string stream =
      " from the Philox4x32-10 stream (seed, offset), element i from block offset + i//4, "
      "lane i%4 (pykern/philox.h); uses ceil(n/4) blocks. " + std::string(where);
  m.def(("random_uniform" + s).c_str(),
        [fill, op = "random_uniform" + s + tag](int64_t n, py::handle seed, py::handle offset) {
          return fill_py(op, fill, RandomDist::uniform, n, 0.0, seed, offset);
        },
        py::arg("n"), py::arg("seed"), py::arg("offset"),
        ("float32 (n,) uniform in [0, 1) on a 2**-24 grid" + stream).c_str());
  m.def(("random_normal" + s).c_str(),
        [fill, op = "random_normal" + s + tag](int64_t n, py::handle seed, py::handle offset) {
          return fill_py(op, fill, RandomDist::normal, n, 0.0, seed, offset);
        },
        py::arg("n"), py::arg("seed"), py::arg("offset"),
        ("float32 (n,) standard normal by Box-Muller on lane pairs (0,1), (2,3)" + stream)
            .c_str());
  m.def(("dropout_mask" + s).c_str(),
        [fill, op = "dropout_mask" + s + tag](int64_t n, double rate, py::handle seed,
                                              py::handle offset) {
          return fill_py(op, fill, RandomDist::dropout_mask, n, rate, seed, offset);
        },
        py::arg("n"), py::arg("rate"), py::arg("seed"), py::arg("offset"),
        ("float32 (n,) inverted-dropout mask: 1/(1-rate) where uniform_i >= rate, else 0 "
         "(rate as float32, 0 <= rate < 1)" + stream).c_str());
}

}  // namespace pykern::bind
