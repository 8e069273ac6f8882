#include "cuda/bind_util.h"

#include <pybind11/numpy.h>

#include <cmath>

#include "bindings/array_view.h"

namespace pykern::cuda {

std::string shape_str(const std::vector<int64_t>& shape) { return bind::shape_str(shape); }

void type_error(const char* op, const std::string& msg) {
  throw py::type_error(std::string(op) + ": " + msg);
}

void value_error(const char* op, const std::string& msg) {
  throw py::value_error(std::string(op) + ": " + msg);
}

void not_an_array(py::handle h, const char* op, const char* name, bool or_number) {
  type_error(op, std::string(name) + " must be a pykern._cuda.Array" +
                     (or_number ? " or a number" : "") + ", got " +
                     std::string(py::str(py::type::handle_of(h).attr("__name__"))) +
                     (py::isinstance<py::array>(h) ? " (move host data with to_device first)"
                                                    : ""));
}

const Array& arg_array(py::handle h, const char* op, const char* name) {
  if (!py::isinstance<Array>(h)) not_an_array(h, op, name, false);
  return h.cast<const Array&>();
}

const Array& arg_array(py::handle h, const char* op, const char* name, DType dtype) {
  const Array& a = arg_array(h, op, name);
  if (a.dtype() != dtype)
    value_error(op, std::string(name) + " must be " + dtype_name(dtype) + ", got " +
                        dtype_name(a.dtype()));
  return a;
}

const Array* opt_array(py::handle h, const char* op, const char* name) {
  return h.is_none() ? nullptr : &arg_array(h, op, name);
}

const Array* opt_array(py::handle h, const char* op, const char* name, DType dtype) {
  return h.is_none() ? nullptr : &arg_array(h, op, name, dtype);
}

void same_device(const Array& a, const Array& b, const char* op, const char* a_name,
                 const char* b_name) {
  if (a.device() != b.device())
    value_error(op, std::string(a_name) + " is on cuda:" + std::to_string(a.device()) + " but " +
                        b_name + " on cuda:" + std::to_string(b.device()));
}

void require_shape(const Array& a, const std::vector<int64_t>& shape, const char* op,
                   const char* name) {
  if (a.shape() != shape)
    value_error(op, std::string(name) + " must have shape " + shape_str(shape) + ", got " +
                        shape_str(a.shape()));
}

namespace {

bool is_index(py::handle h) { return PyIndex_Check(h.ptr()) && !PyBool_Check(h.ptr()); }

int64_t index_value(py::handle h) {
  const Py_ssize_t v = PyNumber_AsSsize_t(h.ptr(), PyExc_OverflowError);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return int64_t(v);
}

}  // namespace

std::vector<int64_t> arg_shape(py::handle h, const char* op, const char* name) {
  std::vector<int64_t> shape;
  if (is_index(h)) {
    shape.push_back(index_value(h));
  } else if (py::isinstance<py::sequence>(h) && !py::isinstance<py::str>(h)) {
    for (py::handle d : py::reinterpret_borrow<py::sequence>(h)) {
      if (!is_index(d))
        type_error(op, std::string(name) + " must be a sequence of ints, got " +
                           std::string(py::repr(h)));
      shape.push_back(index_value(d));
    }
  } else {
    type_error(op, std::string(name) + " must be an int or a sequence of ints, got " +
                       std::string(py::repr(h)));
  }
  for (int64_t d : shape)
    if (d < 0) value_error(op, std::string(name) + " " + shape_str(shape) + " has a negative dimension");
  return shape;
}

int normalize_axis(int64_t axis, int ndim, const char* op) {
  if (axis < -ndim || axis >= ndim)
    value_error(op, "axis " + std::to_string(axis) + " is out of bounds for an array of " +
                        std::to_string(ndim) + " dimension(s)");
  return int(axis < 0 ? axis + ndim : axis);
}

DType arg_dtype(py::handle h, const char* op) {
  py::dtype dt;
  try {
    dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(h));
  } catch (py::error_already_set&) {
    type_error(op, "not a dtype: " + std::string(py::repr(h)));
  }
  return dtype_from_name(std::string(py::str(dt.attr("name"))), op);
}

py::object numpy_dtype(DType d) {
  // Never destroyed: the interpreter is gone by the time statics are.
  static py::object* cache = [] {
    auto* c = new py::object[6];
    for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::b8})
      c[int(t)] = py::dtype(dtype_name(t));
    return c;
  }();
  return cache[int(d)];
}

namespace {

// Other NumPy dtypes of a strong scalar, mapped onto the held ones by kind.
DType held_dtype(const py::dtype& dt) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'b') return DType::b8;
  if (kind == 'f') return size <= 4 ? DType::f32 : DType::f64;
  if (kind == 'u') return size == 1 ? DType::u8 : size == 2 ? DType::i32 : DType::i64;
  return size <= 4 ? DType::i32 : DType::i64;
}

}  // namespace

bool as_scalar(py::handle h, Scalar* out) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) {
    const bool v = o == Py_True;
    *out = {v ? 1.0 : 0.0, v ? 1 : 0, ScalarKind::boolean, true, DType::b8};
    return true;
  }
  if (PyLong_Check(o)) {
    const int64_t v = index_value(h);
    *out = {double(v), v, ScalarKind::integer, true, DType::i64};
    return true;
  }
  if (PyFloat_Check(o)) {
    const double v = PyFloat_AsDouble(o);
    *out = {v, std::fabs(v) < 9.2e18 ? int64_t(v) : 0, ScalarKind::floating, true, DType::f64};
    return true;
  }
  static PyObject* generic = py::object(py::module_::import("numpy").attr("generic")).release().ptr();
  const bool np_scalar = py::isinstance<py::array>(h)
                             ? py::reinterpret_borrow<py::array>(h).ndim() == 0
                             : PyObject_IsInstance(o, generic) == 1;
  if (!np_scalar) return false;
  py::dtype dt = py::reinterpret_borrow<py::object>(h).attr("dtype").cast<py::dtype>();
  const char kind = dt.kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') return false;
  Scalar s;
  s.weak = false;
  s.dtype = held_dtype(dt);
  s.kind = kind == 'b' ? ScalarKind::boolean : kind == 'f' ? ScalarKind::floating : ScalarKind::integer;
  py::object item = py::reinterpret_borrow<py::object>(h).attr("item")();
  s.value = item.cast<double>();
  s.ivalue = s.kind != ScalarKind::floating ? item.cast<int64_t>()
              : std::fabs(s.value) < 9.2e18 ? int64_t(s.value) : 0;
  *out = s;
  return true;
}

DType promote(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::b8) return b;
  if (b == DType::b8) return a;
  const bool fa = is_float(a), fb = is_float(b);
  if (fa && fb) return DType::f64;  // f32 with f64
  if (fa || fb) {
    const DType f = fa ? a : b, i = fa ? b : a;
    return i == DType::u8 ? f : DType::f64;  // int32/int64 with a float -> float64
  }
  // two integer types: u8 < i32 < i64
  auto rank = [](DType d) { return d == DType::u8 ? 0 : d == DType::i32 ? 1 : 2; };
  return rank(a) > rank(b) ? a : b;
}

DType promote(DType a, const Scalar& s) {
  if (!s.weak) return promote(a, s.dtype);
  switch (s.kind) {
    case ScalarKind::boolean: return a;
    case ScalarKind::integer: return a == DType::b8 ? DType::i64 : a;
    case ScalarKind::floating: return is_float(a) ? a : DType::f64;
  }
  return a;
}

}  // namespace pykern::cuda
