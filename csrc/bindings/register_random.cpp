// Bindings of the Philox random family: the raw block function (for the
// Random123 known-answer tests), the three fills (fast and ref) and the fused
// dropout (fast and ref).
#include <string>

#include "bindings/array_view.h"
#include "bindings/random_call.h"
#include "pykern/philox.h"
#include "pykern/random.h"

namespace pykern::bind {
namespace {

py::tuple philox_block_py(py::sequence counter, py::sequence key) {
  const char* op = "philox_block";
  if (counter.size() != 4 || key.size() != 2)
    fail(op, "need 4 counter words and 2 key words, got " + std::to_string(counter.size()) +
                 " and " + std::to_string(key.size()));
  PhiloxBlock c;
  for (int k = 0; k < 4; ++k)
    c.x[k] = static_cast<uint32_t>(uint_arg(counter[k], 32, op, "counter word"));
  const auto k0 = static_cast<uint32_t>(uint_arg(key[0], 32, op, "key word"));
  const auto k1 = static_cast<uint32_t>(uint_arg(key[1], 32, op, "key word"));
  const PhiloxBlock r = philox4x32_10(c, k0, k1);
  return py::make_tuple(r.x[0], r.x[1], r.x[2], r.x[3]);
}

using DropoutFn = void (*)(const float*, float*, int64_t, float, uint64_t, uint64_t);

py::array dropout_apply_py(const char* op, DropoutFn run, py::handle x, double rate,
                           py::handle seed, py::handle offset) {
  FloatArray in = FloatArray::ensure(x);
  if (!in) {
    PyErr_Clear();
    throw py::type_error(std::string(op) + ": cannot convert x to a float32 array");
  }
  RandomArgs a;
  a.dist = RandomDist::dropout_mask;
  a.rate = static_cast<float>(rate);
  a.seed = uint_arg(seed, 64, op, "seed");
  a.offset = uint_arg(offset, 64, op, "offset");
  validate_random(op, in.size(), a);
  py::array_t<float> out(std::vector<py::ssize_t>(in.shape(), in.shape() + in.ndim()));
  const float* xp = in.data();
  float* yp = out.mutable_data();
  const int64_t n = in.size();
  {
    py::gil_scoped_release nogil;
    run(xp, yp, n, a.rate, a.seed, a.offset);
  }
  return out;
}

void def_dropout_apply(py::module_& m, const char* name, DropoutFn run, const char* doc) {
  m.def(name,
        [name, run](py::handle x, double rate, py::handle seed, py::handle offset) {
          return dropout_apply_py(name, run, x, rate, seed, offset);
        },
        py::arg("x"), py::arg("rate"), py::arg("seed"), py::arg("offset"), doc);
}

}  // namespace

void register_random(py::module_& m) {
  m.def("philox_block", &philox_block_py, py::arg("counter"), py::arg("key"),
        "Philox4x32-10 of counter (4 uint32) and key (2 uint32) -> 4 uint32 (Random123).");
  def_random_fills(m, "", "", &random_fill,
                   "OpenMP over blocks; any thread count gives the same bits.");
  def_random_fills(m, "_ref", "", &random_fill_ref, "The plain serial twin (csrc/ref/).");
  def_dropout_apply(m, "dropout_apply", &dropout_apply,
                    "y = x * dropout_mask(x.size, rate, seed, offset) in x's shape, float32 "
                    "(x converted once; NaN in a dropped x stays NaN). Backward: the same call "
                    "on the gradient with the same seed and offset.");
  def_dropout_apply(m, "dropout_apply_ref", &dropout_apply_ref,
                    "The plain serial twin of dropout_apply.");
}

}  // namespace pykern::bind
