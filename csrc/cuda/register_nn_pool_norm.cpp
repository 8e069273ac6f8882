// Bindings of the pooling (cuda/pool.h) and normalization (cuda/norm.h)
// kernels on device Arrays, with pykern._cpu's names, arguments and checks
// (pooling geometry from the shared bindings/pool_shape.h).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/pool_shape.h"
#include "cuda/bind_util.h"
#include "cuda/norm.h"
#include "cuda/pool.h"

namespace pykern::cuda {
namespace {

using Shape = std::vector<int64_t>;

// ---- pooling --------------------------------------------------------------------------------

py::tuple max_forward_py(py::handle x, py::handle pool, py::handle strides, py::handle pad_begin,
                         py::handle pad_end, py::handle argmax_dtype) {
  const char* op = "max_pool_forward";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const PoolGeometry g = bind::pool_geometry(X.shape(), pool, strides, pad_begin, pad_end, op, "x");
  bool wide = pool_argmax_is_int64(g);
  if (!argmax_dtype.is_none()) {
    const DType d = arg_dtype(argmax_dtype, op);
    if (d != DType::i32 && d != DType::i64)
      value_error(op, std::string("argmax_dtype must be int32, int64 or None, got ") +
                          dtype_name(d));
    wide = d == DType::i64;
    if (!wide && pool_argmax_is_int64(g))
      value_error(op, "int32 argmax cannot index the cells of one sample of x " +
                          shape_str(X.shape()) + "; use int64");
  }
  const Shape ys = bind::pool_y_shape(g);
  Array y, argmax;
  {
    py::gil_scoped_release nogil;
    DeviceGuard guard(X.device());
    y = Array(ys, DType::f32, X.device());
    argmax = Array(ys, wide ? DType::i64 : DType::i32, X.device());
    ArgmaxOut am;
    if (wide)
      am.i64 = argmax.data<int64_t>();
    else
      am.i32 = argmax.data<int32_t>();
    max_pool_forward_device(g, X.data<float>(), y.data<float>(), am);
  }
  return py::make_tuple(y, argmax);
}

Array max_backward_py(py::handle dy, py::handle argmax, py::handle x_shape) {
  const char* op = "max_pool_backward";
  const Shape xs = bind::int_shape(x_shape, op, "x_shape");
  PoolGeometry g = bind::geometry_of(xs, op, "x_shape");
  const Array& DY = arg_array(dy, op, "dy", DType::f32);
  const Shape& ds = DY.shape();
  if (ds.size() != xs.size() || ds.front() != g.N || ds.back() != g.C)
    value_error(op, "dy of shape " + shape_str(ds) + " is not a pooled output of x_shape " +
                        shape_str(xs) + " (same rank, batch and channels)");
  for (int k = 0; k < g.rank; ++k) g.out[3 - g.rank + k] = ds[1 + k];
  const Array& AM = arg_array(argmax, op, "argmax");
  if (AM.dtype() != DType::i32 && AM.dtype() != DType::i64)
    value_error(op, std::string("argmax must be int32 or int64, got ") + dtype_name(AM.dtype()));
  if (AM.shape() != ds)
    value_error(op, "argmax of shape " + shape_str(AM.shape()) + " does not match dy of shape " +
                        shape_str(ds));
  same_device(DY, AM, op, "dy", "argmax");
  py::gil_scoped_release nogil;
  DeviceGuard guard(DY.device());
  Array dx(xs, DType::f32, DY.device());
  ArgmaxIn in;
  if (AM.dtype() == DType::i64)
    in.i64 = AM.data<int64_t>();
  else
    in.i32 = AM.data<int32_t>();
  max_pool_backward_device(g, DY.data<float>(), in, dx.data<float>());
  return dx;
}

Array avg_forward_py(py::handle x, py::handle pool, py::handle strides, py::handle pad_begin,
                     py::handle pad_end) {
  const char* op = "avg_pool_forward";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const PoolGeometry g = bind::pool_geometry(X.shape(), pool, strides, pad_begin, pad_end, op, "x");
  py::gil_scoped_release nogil;
  DeviceGuard guard(X.device());
  Array y(bind::pool_y_shape(g), DType::f32, X.device());
  avg_pool_forward_device(g, X.data<float>(), y.data<float>());
  return y;
}

Array avg_backward_py(py::handle dy, py::handle x_shape, py::handle pool, py::handle strides,
                      py::handle pad_begin, py::handle pad_end) {
  const char* op = "avg_pool_backward";
  const Shape xs = bind::int_shape(x_shape, op, "x_shape");
  const PoolGeometry g = bind::pool_geometry(xs, pool, strides, pad_begin, pad_end, op, "x_shape");
  const Array& DY = arg_array(dy, op, "dy", DType::f32);
  if (DY.shape() != bind::pool_y_shape(g))
    value_error(op, "dy of shape " + shape_str(DY.shape()) + " does not match the forward output " +
                        shape_str(bind::pool_y_shape(g)) + " of x_shape " + shape_str(xs));
  py::gil_scoped_release nogil;
  DeviceGuard guard(DY.device());
  Array dx(xs, DType::f32, DY.device());
  avg_pool_backward_device(g, DY.data<float>(), dx.data<float>());
  return dx;
}

// ---- normalization ----------------------------------------------------------------------------

// A float32 Array of `shape` on x's device, or nullptr for None when optional.
const Array* stat_arg(py::handle h, const Array& x, const Shape& shape, const char* op,
                      const char* name, bool optional = false) {
  const Array* a = optional ? opt_array(h, op, name, DType::f32)
                            : &arg_array(h, op, name, DType::f32);
  if (a) {
    require_shape(*a, shape, op, name);
    same_device(x, *a, op, "x", name);
  }
  return a;
}

const float* ptr(const Array* a) { return a ? a->data<float>() : nullptr; }

// x as the (P, A, C, B) view: 3-D (A, C, B) has (C,) statistics, 4-D (P, C) ones.
struct BnArgs {
  BatchNormShape s;
  Shape stat;
};

BnArgs bn_args(const Array& x, const char* op) {
  const Shape& sh = x.shape();
  BnArgs b;
  if (sh.size() == 3) {
    b.s = {1, sh[0], sh[1], sh[2]};
    b.stat = {b.s.C};
  } else if (sh.size() == 4) {
    b.s = {sh[0], sh[1], sh[2], sh[3]};
    b.stat = {b.s.P, b.s.C};
  } else {
    value_error(op, "x of shape " + shape_str(sh) + " must be 3-D (A, C, B) or 4-D (P, A, C, B)");
  }
  return b;
}

py::tuple bn_train_py(py::handle x, py::handle gamma, py::handle beta, float epsilon) {
  const char* op = "batch_norm_train";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const BnArgs b = bn_args(X, op);
  const Array* G = stat_arg(gamma, X, {b.s.C}, op, "gamma", true);
  const Array* Bt = stat_arg(beta, X, {b.s.C}, op, "beta", true);
  Array y, mean, var, inv_std;
  {
    py::gil_scoped_release nogil;
    DeviceGuard guard(X.device());
    y = Array(X.shape(), DType::f32, X.device());
    mean = Array(b.stat, DType::f32, X.device());
    var = Array(b.stat, DType::f32, X.device());
    inv_std = Array(b.stat, DType::f32, X.device());
    batch_norm_train_device(b.s, X.data<float>(), ptr(G), ptr(Bt), epsilon, y.data<float>(),
                            mean.data<float>(), var.data<float>(), inv_std.data<float>());
  }
  return py::make_tuple(y, mean, var, inv_std);
}

Array bn_inference_py(py::handle x, py::handle mean, py::handle var, py::handle gamma,
                      py::handle beta, float epsilon) {
  const char* op = "batch_norm_inference";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const BnArgs b = bn_args(X, op);
  const Array* M = stat_arg(mean, X, b.stat, op, "mean");
  const Array* V = stat_arg(var, X, b.stat, op, "var");
  const Array* G = stat_arg(gamma, X, {b.s.C}, op, "gamma", true);
  const Array* Bt = stat_arg(beta, X, {b.s.C}, op, "beta", true);
  py::gil_scoped_release nogil;
  DeviceGuard guard(X.device());
  Array y(X.shape(), DType::f32, X.device());
  batch_norm_inference_device(b.s, X.data<float>(), ptr(M), ptr(V), ptr(G), ptr(Bt), epsilon,
                              y.data<float>());
  return y;
}

py::tuple bn_backward_py(py::handle dy, py::handle x, py::handle mean, py::handle inv_std,
                         py::handle gamma) {
  const char* op = "batch_norm_backward";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const BnArgs b = bn_args(X, op);
  const Array* D = stat_arg(dy, X, X.shape(), op, "dy");
  const Array* M = stat_arg(mean, X, b.stat, op, "mean");
  const Array* I = stat_arg(inv_std, X, b.stat, op, "inv_std");
  const Array* G = stat_arg(gamma, X, {b.s.C}, op, "gamma", true);
  Array dx, dgamma, dbeta;
  {
    py::gil_scoped_release nogil;
    DeviceGuard guard(X.device());
    dx = Array(X.shape(), DType::f32, X.device());
    dgamma = Array({b.s.C}, DType::f32, X.device());
    dbeta = Array({b.s.C}, DType::f32, X.device());
    batch_norm_backward_device(b.s, ptr(D), X.data<float>(), ptr(M), ptr(I), ptr(G),
                               dx.data<float>(), dgamma.data<float>(), dbeta.data<float>());
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

const Array& ln_x(py::handle x, const char* op) {
  const Array& X = arg_array(x, op, "x", DType::f32);
  if (X.ndim() != 2)
    value_error(op, "x of shape " + shape_str(X.shape()) + " must be 2-D (M, F)");
  return X;
}

py::tuple ln_forward_py(py::handle x, py::handle gamma, py::handle beta, float epsilon) {
  const char* op = "layer_norm_forward";
  const Array& X = ln_x(x, op);
  const int64_t M = X.dim(0), F = X.dim(1);
  const Array* G = stat_arg(gamma, X, {F}, op, "gamma", true);
  const Array* Bt = stat_arg(beta, X, {F}, op, "beta", true);
  Array y, mean, inv_std;
  {
    py::gil_scoped_release nogil;
    DeviceGuard guard(X.device());
    y = Array({M, F}, DType::f32, X.device());
    mean = Array({M}, DType::f32, X.device());
    inv_std = Array({M}, DType::f32, X.device());
    layer_norm_forward_device(M, F, X.data<float>(), ptr(G), ptr(Bt), epsilon, y.data<float>(),
                              mean.data<float>(), inv_std.data<float>());
  }
  return py::make_tuple(y, mean, inv_std);
}

py::tuple ln_backward_py(py::handle dy, py::handle x, py::handle mean, py::handle inv_std,
                         py::handle gamma) {
  const char* op = "layer_norm_backward";
  const Array& X = ln_x(x, op);
  const int64_t M = X.dim(0), F = X.dim(1);
  const Array* D = stat_arg(dy, X, {M, F}, op, "dy");
  const Array* Mn = stat_arg(mean, X, {M}, op, "mean");
  const Array* I = stat_arg(inv_std, X, {M}, op, "inv_std");
  const Array* G = stat_arg(gamma, X, {F}, op, "gamma", true);
  Array dx, dgamma, dbeta;
  {
    py::gil_scoped_release nogil;
    DeviceGuard guard(X.device());
    dx = Array({M, F}, DType::f32, X.device());
    dgamma = Array({F}, DType::f32, X.device());
    dbeta = Array({F}, DType::f32, X.device());
    layer_norm_backward_device(M, F, ptr(D), X.data<float>(), ptr(Mn), ptr(I), ptr(G),
                               dx.data<float>(), dgamma.data<float>(), dbeta.data<float>());
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

}  // namespace

void register_nn_pool_norm(py::module_& m) {
  m.def("max_pool_forward", &max_forward_py, py::arg("x"), py::arg("pool"), py::arg("strides"),
        py::arg("pad_begin"), py::arg("pad_end"), py::arg("argmax_dtype") = py::none(),
        "(y, argmax) = max pooling of x (N, spatial..., C), 1-3 spatial dims; argmax is the\n"
        "winner's flat index in its sample's spatial*C, int32 (int64 for samples of 2**31\n"
        "cells or more, or when argmax_dtype says so).");
  m.def("max_pool_backward", &max_backward_py, py::arg("dy"), py::arg("argmax"),
        py::arg("x_shape"),
        "dx of shape x_shape: dy added along argmax (each channel in output order). Waits\n"
        "for the GPU to check argmax: ValueError naming an index outside the sample or in\n"
        "another channel.");
  m.def("avg_pool_forward", &avg_forward_py, py::arg("x"), py::arg("pool"), py::arg("strides"),
        py::arg("pad_begin"), py::arg("pad_end"),
        "Average pooling of x (N, spatial..., C); padded cells are not counted.");
  m.def("avg_pool_backward", &avg_backward_py, py::arg("dy"), py::arg("x_shape"), py::arg("pool"),
        py::arg("strides"), py::arg("pad_begin"), py::arg("pad_end"),
        "dx of shape x_shape: the gradient of avg_pool_forward (a gather, no atomics).");
  m.def("batch_norm_train", &bn_train_py, py::arg("x"), py::arg("gamma"), py::arg("beta"),
        py::arg("epsilon"),
        "(y, mean, var, inv_std): batch norm of x (A, C, B) with (C,) statistics over A and B,\n"
        "or of x (P, A, C, B) with (P, C) ones; var is biased; gamma, beta (C,) or None.");
  m.def("batch_norm_inference", &bn_inference_py, py::arg("x"), py::arg("mean"), py::arg("var"),
        py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
        "y = (x - mean) * gamma / sqrt(var + epsilon) + beta with given statistics.");
  m.def("batch_norm_backward", &bn_backward_py, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma"),
        "(dx, dgamma, dbeta) of batch_norm_train (through mean and var); dgamma, dbeta (C,).");
  m.def("layer_norm_forward", &ln_forward_py, py::arg("x"), py::arg("gamma"), py::arg("beta"),
        py::arg("epsilon"),
        "(y, mean, inv_std): each row of x (M, F) normalised over F (biased variance);\n"
        "gamma, beta (F,) or None; mean, inv_std (M,).");
  m.def("layer_norm_backward", &ln_backward_py, py::arg("dy"), py::arg("x"), py::arg("mean"),
        py::arg("inv_std"), py::arg("gamma"),
        "(dx, dgamma, dbeta) of layer_norm_forward; dgamma, dbeta (F,).");
}

}  // namespace pykern::cuda
