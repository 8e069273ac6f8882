// Bindings of the embedding family (pykern/embedding.h): embedding_forward,
// embedding_backward and their _ref twins.
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "pykern/embedding.h"

namespace pykern::bind {
namespace {

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// ids: int32 or int64 of any shape (made C-contiguous if it is not).
py::array ids_arg(py::handle obj, const char* op, EmbeddingArgs& a) {
  if (!py::isinstance<py::array>(obj)) fail(op, "ids must be a numpy.ndarray of int32 or int64");
  py::array ids = py::reinterpret_borrow<py::array>(obj);
  if (ids.dtype().kind() != 'i' || (ids.itemsize() != 4 && ids.itemsize() != 8))
    fail(op, "ids must be int32 or int64, got " + std::string(py::str(ids.dtype())) +
                 " of shape " + shape_str(shape_of(ids)));
  a.ids64 = ids.itemsize() == 8;
  if (!(ids.flags() & py::array::c_style)) ids = ids.attr("copy")();
  a.N = ids.size();
  a.ids = ids.data();
  return ids;
}

// A float32 C-contiguous ndarray.
py::array f32_arg(py::handle obj, const char* op, const char* name) {
  if (!py::isinstance<py::array>(obj)) fail(op, std::string(name) + " must be a numpy.ndarray");
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (!a.dtype().is(py::dtype::of<float>()) || !(a.flags() & py::array::c_style))
    fail(op, std::string(name) + " must be a C-contiguous float32 array, got " +
                 std::string(py::str(a.dtype())) + " of shape " + shape_str(shape_of(a)));
  return a;
}

using Forward = void (*)(const EmbeddingArgs&, const float*, float*);
using Backward = void (*)(const EmbeddingArgs&, const float*, float*);

py::array forward_py(const char* op, Forward run, py::handle table, py::handle ids_obj) {
  const py::array t = f32_arg(table, op, "table");
  if (t.ndim() != 2) fail(op, "table must be 2-D (V, D), got shape " + shape_str(shape_of(t)));
  EmbeddingArgs a;
  a.V = t.shape(0);
  a.D = t.shape(1);
  const py::array ids = ids_arg(ids_obj, op, a);
  std::vector<int64_t> out_shape = shape_of(ids);
  out_shape.push_back(a.D);
  py::array out = new_matrix(out_shape);
  {
    py::gil_scoped_release nogil;
    run(a, static_cast<const float*>(t.data()), static_cast<float*>(out.mutable_data()));
  }
  return out;
}

py::array backward_py(const char* op, Backward run, py::handle d_out, py::handle ids_obj,
                      int64_t input_dim, py::object out_obj) {
  const py::array g = f32_arg(d_out, op, "d_out");
  EmbeddingArgs a;
  const py::array ids = ids_arg(ids_obj, op, a);
  std::vector<int64_t> want = shape_of(ids);
  if (g.ndim() != ids.ndim() + 1 ||
      !std::equal(want.begin(), want.end(), g.shape()))
    fail(op, "d_out must have shape ids.shape + (D,), got " + shape_str(shape_of(g)) +
                 " for ids of shape " + shape_str(want));
  if (input_dim < 0) fail(op, "input_dim must be >= 0, got " + std::to_string(input_dim));
  a.V = input_dim;
  a.D = g.shape(g.ndim() - 1);
  py::array out;
  if (out_obj.is_none()) {
    out = new_matrix({a.V, a.D});
  } else {
    out = f32_arg(out_obj, op, "out");
    if (shape_of(out) != std::vector<int64_t>{a.V, a.D} || !out.writeable())
      fail(op, "out must be a writable (input_dim, D) = " + shape_str({a.V, a.D}) +
                   " array, got shape " + shape_str(shape_of(out)));
  }
  {
    py::gil_scoped_release nogil;
    run(a, static_cast<const float*>(g.data()), static_cast<float*>(out.mutable_data()));
  }
  return out;
}

void def_pair(py::module_& m, const char* fname, const char* bname, Forward f, Backward b,
              const char* note) {
  m.def(
      fname,
      [fname, f](py::handle table, py::handle ids) { return forward_py(fname, f, table, ids); },
      py::arg("table"), py::arg("ids"),
      (std::string("table (V, D) float32 rows gathered at ids (any shape, int32/int64) -> "
                   "ids.shape + (D,). An id outside [0, V) is a ValueError. ") + note)
          .c_str());
  m.def(
      bname,
      [bname, b](py::handle d_out, py::handle ids, int64_t input_dim, py::object out) {
        return backward_py(bname, b, d_out, ids, input_dim, out);
      },
      py::arg("d_out"), py::arg("ids"), py::arg("input_dim"), py::arg("out") = py::none(),
      (std::string("d_table (input_dim, D): the rows of d_out (ids.shape + (D,)) summed per id, "
                   "in id order (deterministic). out: an optional (input_dim, D) float32 array "
                   "to overwrite instead of allocating. ") + note)
          .c_str());
}

}  // namespace

void register_embedding(py::module_& m) {
  def_pair(m, "embedding_forward", "embedding_backward", &embedding_forward, &embedding_backward,
           "");
  def_pair(m, "embedding_forward_ref", "embedding_backward_ref", &embedding_forward_ref,
           &embedding_backward_ref, "(The plain twin; double accumulation.)");
}

}  // namespace pykern::bind
