// The Python boundary: turning arrays into (pointer, shape, row stride) views,
// converting inputs once and rejecting what cannot be used, with errors that
// name the op and the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pykern::bind {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A float32 view of an input whose last axis is contiguous. Other dtypes,
// orders or strides are converted once into `owner`; a 2-D float32 array whose
// rows are merely spaced out (a slice a[:, :k]) is used in place with ld > cols.
struct InputView {
  py::array owner;
  const float* data = nullptr;
  std::vector<int64_t> shape;
  int64_t ld = 0;  // row stride in floats for 2-D views; cols otherwise
};

InputView input_view(py::handle obj, const char* op, const char* arg);

// A writable float32 2-D array with contiguous rows, used in place.
struct OutputView {
  float* data = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
};

OutputView output_view(py::handle obj, const char* op, const char* arg);

std::string shape_str(const std::vector<int64_t>& shape);

// ValueError "<op>: <msg>".
[[noreturn]] void fail(const char* op, const std::string& msg);

// A new, uninitialised float32 array.
py::array_t<float> new_matrix(const std::vector<int64_t>& shape);

// A C-contiguous ndarray of exactly `dtype`, used in place and never converted (the
// op converts once, before): TypeError if obj is no ndarray, else ValueError
// "<op>: <arg> of shape (...) must be ..." for another dtype or layout.
py::array exact_array(py::handle obj, const char* op, const char* arg, const py::dtype& dtype);

// exact_array(float32) of exactly `shape`; None gives a null handle (false when tested)
// when `optional`.
py::array float_array(py::handle obj, const char* op, const char* arg,
                      const std::vector<int64_t>& shape, bool optional = false);

std::vector<int64_t> shape_of(const py::array& a);

}  // namespace pykern::bind
