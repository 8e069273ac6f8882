// The pykern._cuda binding helpers: Arrays, shapes, dtypes and scalars from
// Python handles, checked before the device is touched, with errors that
// name the op and the argument (TypeError for a wrong type, ValueError for a
// wrong shape or dtype). Plain C++ (no CUDA headers).
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cuda/array.h"
#include "cuda/core.h"

namespace pykern::cuda {

namespace py = pybind11;

// TypeError "<op>: <name> must be a pykern._cuda.Array[ or a number], got <type>" (with a
// hint for a NumPy array).
[[noreturn]] void not_an_array(py::handle h, const char* op, const char* name, bool or_number);

// `h` as an Array: TypeError naming op and argument unless h is a
// pykern._cuda.Array (a NumPy array is not: move it with to_device first).
const Array& arg_array(py::handle h, const char* op, const char* name);
// ... of exactly `dtype`: ValueError naming the dtypes otherwise.
const Array& arg_array(py::handle h, const char* op, const char* name, DType dtype);
// ... or nullptr for None.
const Array* opt_array(py::handle h, const char* op, const char* name);
const Array* opt_array(py::handle h, const char* op, const char* name, DType dtype);

// ValueError "<op>: <a_name> is on cuda:i but <b_name> on cuda:j".
void same_device(const Array& a, const Array& b, const char* op, const char* a_name,
                 const char* b_name);
// ValueError "<op>: <name> must have shape (...), got (...)".
void require_shape(const Array& a, const std::vector<int64_t>& shape, const char* op,
                   const char* name);

// A shape from an int or a sequence of ints (NumPy ints too); ValueError for a
// negative dimension, TypeError for anything else.
std::vector<int64_t> arg_shape(py::handle h, const char* op, const char* name);
// An axis in [-ndim, ndim) made non-negative; ValueError (AxisError-like) otherwise.
int normalize_axis(int64_t axis, int ndim, const char* op);
// A dtype from a NumPy dtype, a type (np.float32, float, bool, int) or a name.
DType arg_dtype(py::handle h, const char* op);
// The numpy.dtype object of d (cached; NumPy's builtin dtypes are singletons,
// so `array.dtype is np.dtype(np.float32)` holds).
py::object numpy_dtype(DType d);

// A Python scalar operand (bool, int, float or a NumPy scalar / 0-d array of
// one): its value and the kind NumPy's promotion gives it.
enum class ScalarKind { boolean, integer, floating };
struct Scalar {
  double value = 0.0;
  int64_t ivalue = 0;  // exact for integer scalars
  ScalarKind kind = ScalarKind::floating;
  bool weak = true;      // a Python scalar (NEP 50: takes the array's dtype)
  DType dtype = DType::f64;  // a NumPy scalar's own dtype when !weak
};
// True and fills `out` when h is such a scalar.
bool as_scalar(py::handle h, Scalar* out);

// NumPy's result dtype for two array dtypes / an array and a scalar, over the
// dtypes the device holds.
DType promote(DType a, DType b);
DType promote(DType a, const Scalar& s);

[[noreturn]] void type_error(const char* op, const std::string& msg);
[[noreturn]] void value_error(const char* op, const std::string& msg);

}  // namespace pykern::cuda
