// Bindings of the pooling family (contract in pykern/pool.h): max/avg pooling
// forward and backward for 1-3 spatial dims, each also as a `_ref` twin. Arrays
// are used in place (float32, int32/int64 argmax, C-contiguous), never converted.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "bindings/pool_shape.h"
#include "pykern/pool.h"

namespace pykern::bind {
namespace {

struct PoolKernels {
  void (*max_forward)(const PoolGeometry&, const float*, float*, ArgmaxOut);
  void (*max_backward)(const PoolGeometry&, const float*, ArgmaxIn, float*);
  void (*avg_forward)(const PoolGeometry&, const float*, float*);
  void (*avg_backward)(const PoolGeometry&, const float*, float*);
};

constexpr PoolKernels kFast{&max_pool_forward, &max_pool_backward, &avg_pool_forward,
                            &avg_pool_backward};
constexpr PoolKernels kRef{&max_pool_forward_ref, &max_pool_backward_ref, &avg_pool_forward_ref,
                           &avg_pool_backward_ref};

// Whether argmax is int64: argmax_dtype None picks the smallest type that fits
// (the kernel refuses an int32 one that cannot).
bool wide_argmax(const PoolGeometry& g, py::handle argmax_dtype, const char* op) {
  if (argmax_dtype.is_none()) return pool_argmax_is_int64(g);
  const py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(argmax_dtype));
  if (!dt.is(py::dtype::of<int64_t>()) && !dt.is(py::dtype::of<int32_t>()))
    fail(op, "argmax_dtype must be int32, int64 or None, got " + std::string(py::str(dt)));
  return dt.is(py::dtype::of<int64_t>());
}

py::tuple max_forward_py(const PoolKernels& k, py::handle x, py::handle pool, py::handle strides,
                         py::handle pad_begin, py::handle pad_end, py::handle argmax_dtype) {
  const char* op = "max_pool_forward";
  py::array xa = exact_array(x, op, "x", py::dtype::of<float>());
  const PoolGeometry g = pool_geometry(shape_of(xa), pool, strides, pad_begin, pad_end, op, "x");
  const std::vector<int64_t> ys = pool_y_shape(g);
  py::array y = new_matrix(ys);
  const std::vector<py::ssize_t> ps(ys.begin(), ys.end());
  ArgmaxOut am;
  py::array argmax;
  if (wide_argmax(g, argmax_dtype, op)) {
    argmax = py::array_t<int64_t>(ps);
    am.i64 = static_cast<int64_t*>(argmax.mutable_data());
  } else {
    argmax = py::array_t<int32_t>(ps);
    am.i32 = static_cast<int32_t*>(argmax.mutable_data());
  }
  const float* xp = static_cast<const float*>(xa.data());
  float* yp = static_cast<float*>(y.mutable_data());
  {
    py::gil_scoped_release nogil;
    k.max_forward(g, xp, yp, am);
  }
  return py::make_tuple(y, argmax);
}

py::array max_backward_py(const PoolKernels& k, py::handle dy, py::handle argmax,
                          py::handle x_shape) {
  const char* op = "max_pool_backward";
  const std::vector<int64_t> xs = int_shape(x_shape, op, "x_shape");
  PoolGeometry g = geometry_of(xs, op, "x_shape");
  py::array dya = exact_array(dy, op, "dy", py::dtype::of<float>());
  const std::vector<int64_t> ds = shape_of(dya);
  if (ds.size() != xs.size() || ds.front() != g.N || ds.back() != g.C)
    fail(op, "dy of shape " + shape_str(ds) + " is not a pooled output of x_shape " +
                 shape_str(xs) + " (same rank, batch and channels)");
  for (int k = 0; k < g.rank; ++k) g.out[3 - g.rank + k] = ds[1 + k];
  if (!py::isinstance<py::array>(argmax))
    throw py::type_error(std::string(op) + ": argmax must be a numpy.ndarray");
  const bool wide = py::reinterpret_borrow<py::array>(argmax).dtype().is(py::dtype::of<int64_t>());
  py::array am = exact_array(argmax, op, "argmax",
                             wide ? py::dtype::of<int64_t>() : py::dtype::of<int32_t>());
  if (shape_of(am) != ds)
    fail(op, "argmax of shape " + shape_str(shape_of(am)) + " does not match dy of shape " +
                 shape_str(ds));
  ArgmaxIn in;
  if (wide)
    in.i64 = static_cast<const int64_t*>(am.data());
  else
    in.i32 = static_cast<const int32_t*>(am.data());
  py::array dx = new_matrix(xs);
  const float* dyp = static_cast<const float*>(dya.data());
  float* dxp = static_cast<float*>(dx.mutable_data());
  {
    py::gil_scoped_release nogil;
    k.max_backward(g, dyp, in, dxp);
  }
  return dx;
}

py::array avg_forward_py(const PoolKernels& k, py::handle x, py::handle pool, py::handle strides,
                         py::handle pad_begin, py::handle pad_end) {
  const char* op = "avg_pool_forward";
  py::array xa = exact_array(x, op, "x", py::dtype::of<float>());
  const PoolGeometry g = pool_geometry(shape_of(xa), pool, strides, pad_begin, pad_end, op, "x");
  py::array y = new_matrix(pool_y_shape(g));
  const float* xp = static_cast<const float*>(xa.data());
  float* yp = static_cast<float*>(y.mutable_data());
  {
    py::gil_scoped_release nogil;
    k.avg_forward(g, xp, yp);
  }
  return y;
}

py::array avg_backward_py(const PoolKernels& k, py::handle dy, py::handle x_shape,
                          py::handle pool, py::handle strides, py::handle pad_begin,
                          py::handle pad_end) {
  const char* op = "avg_pool_backward";
  const std::vector<int64_t> xs = int_shape(x_shape, op, "x_shape");
  const PoolGeometry g = pool_geometry(xs, pool, strides, pad_begin, pad_end, op, "x_shape");
  py::array dya = exact_array(dy, op, "dy", py::dtype::of<float>());
  if (shape_of(dya) != pool_y_shape(g))
    fail(op, "dy of shape " + shape_str(shape_of(dya)) + " does not match the forward output " +
                 shape_str(pool_y_shape(g)) + " of x_shape " + shape_str(xs));
  py::array dx = new_matrix(xs);
  const float* dyp = static_cast<const float*>(dya.data());
  float* dxp = static_cast<float*>(dx.mutable_data());
  {
    py::gil_scoped_release nogil;
    k.avg_backward(g, dyp, dxp);
  }
  return dx;
}

void def_pool(py::module_& m, const PoolKernels& k, const std::string& suffix,
              const std::string& note) {
  m.def(("max_pool_forward" + suffix).c_str(),
        [k](py::handle x, py::handle pool, py::handle strides, py::handle pad_begin,
            py::handle pad_end, py::handle argmax_dtype) {
          return max_forward_py(k, x, pool, strides, pad_begin, pad_end, argmax_dtype);
        },
        py::arg("x"), py::arg("pool"), py::arg("strides"), py::arg("pad_begin"), py::arg("pad_end"),
        py::arg("argmax_dtype") = py::none(),
        ("(y, argmax) = max pooling of x (N, spatial..., C), 1-3 spatial dims; argmax is the "
         "winner's flat index in its sample's spatial*C, int32 (int64 for samples of 2**31 "
         "cells or more, or when argmax_dtype says so)." + note).c_str());
  m.def(("max_pool_backward" + suffix).c_str(),
        [k](py::handle dy, py::handle argmax, py::handle x_shape) {
          return max_backward_py(k, dy, argmax, x_shape);
        },
        py::arg("dy"), py::arg("argmax"), py::arg("x_shape"),
        ("dx of shape x_shape: dy scatter-added along argmax (indices checked)." + note).c_str());
  m.def(("avg_pool_forward" + suffix).c_str(),
        [k](py::handle x, py::handle pool, py::handle strides, py::handle pad_begin,
            py::handle pad_end) {
          return avg_forward_py(k, x, pool, strides, pad_begin, pad_end);
        },
        py::arg("x"), py::arg("pool"), py::arg("strides"), py::arg("pad_begin"), py::arg("pad_end"),
        ("Average pooling of x (N, spatial..., C); padded cells are not counted." + note).c_str());
  m.def(("avg_pool_backward" + suffix).c_str(),
        [k](py::handle dy, py::handle x_shape, py::handle pool, py::handle strides,
             py::handle pad_begin, py::handle pad_end) {
          return avg_backward_py(k, dy, x_shape, pool, strides, pad_begin, pad_end);
        },
        py::arg("dy"), py::arg("x_shape"), py::arg("pool"), py::arg("strides"),
        py::arg("pad_begin"), py::arg("pad_end"),
        ("dx of shape x_shape: the gradient of avg_pool_forward." + note).c_str());
}

}  // namespace

void register_pool(py::module_& m) {
  def_pool(m, kFast, "", "");
  def_pool(m, kRef, "_ref", " The plain oracle (csrc/ref/).");
}

}  // namespace pykern::bind
