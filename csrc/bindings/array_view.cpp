#include "bindings/array_view.h"

#include <sstream>

namespace pykern::bind {
std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

namespace {

bool numeric_kind(char kind) { return kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b'; }

}  // namespace

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << (shape.size() == 1 ? ",)" : ")");
  return s.str();
}

void fail(const char* op, const std::string& msg) {
  throw py::value_error(std::string(op) + ": " + msg);
}

py::array_t<float> new_matrix(const std::vector<int64_t>& shape) {
  return py::array_t<float>(std::vector<py::ssize_t>(shape.begin(), shape.end()));
}

InputView input_view(py::handle obj, const char* op, const char* arg) {
  InputView v;
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else {
    arr = py::array::ensure(obj);
    if (!arr) {
      PyErr_Clear();
      throw py::type_error(std::string(op) + ": " + arg + " is not an array-like of numbers");
    }
  }
  if (!numeric_kind(arr.dtype().kind()))
    throw py::type_error(std::string(op) + ": " + arg + " has non-numeric dtype " +
                         std::string(py::str(arr.dtype())));
  const bool f32 = arr.dtype().is(py::dtype::of<float>());
  // 2-D float32 with unit column stride and a whole-float row stride: use as is.
  if (f32 && arr.ndim() == 2 && arr.strides(1) == 4 && arr.strides(0) % 4 == 0 &&
      arr.strides(0) / 4 >= arr.shape(1) && reinterpret_cast<uintptr_t>(arr.data()) % 4 == 0) {
    v.owner = arr;
    v.data = static_cast<const float*>(arr.data());
    v.shape = shape_of(arr);
    v.ld = arr.shape(0) > 1 ? arr.strides(0) / 4 : arr.shape(1);
    return v;
  }
  FloatArray c = FloatArray::ensure(arr);
  if (!c) {
    PyErr_Clear();
    throw py::type_error(std::string(op) + ": cannot convert " + arg + " to float32");
  }
  v.owner = c;
  v.data = c.data();
  v.shape = shape_of(c);
  v.ld = c.ndim() ? c.shape(c.ndim() - 1) : 1;
  return v;
}

OutputView output_view(py::handle obj, const char* op, const char* arg) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(op) + ": " + arg + " must be a numpy.ndarray");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(op) + ": " + arg + " must be float32, got " +
                         std::string(py::str(arr.dtype())));
  if (arr.ndim() != 2)
    throw py::value_error(std::string(op) + ": " + arg + " must be 2-D, got shape " +
                          shape_str(shape_of(arr)));
  if (!arr.writeable())
    throw py::value_error(std::string(op) + ": " + arg + " is read-only");
  const bool rows_ok = arr.shape(0) <= 1 || (arr.strides(0) % 4 == 0 && arr.strides(0) / 4 >= arr.shape(1));
  if ((arr.shape(1) > 1 && arr.strides(1) != 4) || !rows_ok)
    throw py::value_error(std::string(op) + ": " + arg +
                          " must have contiguous rows (it is written in place, never copied)");
  OutputView v;
  v.data = static_cast<float*>(arr.mutable_data());
  v.rows = arr.shape(0);
  v.cols = arr.shape(1);
  v.ld = arr.shape(0) > 1 ? arr.strides(0) / 4 : arr.shape(1);
  return v;
}

py::array exact_array(py::handle obj, const char* op, const char* arg, const py::dtype& dtype) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(op) + ": " + arg + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  const std::string what = std::string(arg) + " of shape " + shape_str(shape_of(a));
  if (!a.dtype().is(dtype))
    fail(op, what + " must be " + std::string(py::str(dtype)) + ", got " +
                 std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) fail(op, what + " must be C-contiguous");
  return a;
}

py::array float_array(py::handle obj, const char* op, const char* arg,
                      const std::vector<int64_t>& shape, bool optional) {
  if (optional && obj.is_none()) return py::reinterpret_steal<py::array>(py::handle());
  py::array a = exact_array(obj, op, arg, py::dtype::of<float>());
  if (shape_of(a) != shape)
    fail(op, std::string(arg) + " has shape " + shape_str(shape_of(a)) + ", expected " +
                 shape_str(shape));
  return a;
}

}  // namespace pykern::bind
