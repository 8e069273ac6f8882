// Bindings of the convolution family (pykern/conv.h): Conv1D/2D/3D forward,
// backward-data (also the transposed convolution's forward), backward-filter,
// and their depthwise forms, each fast and as the `_ref` oracle.
//
// Arrays keep Keras' shapes: x (N, *spatial, C) with 1 to 3 spatial axes, w
// (*kernel, C/groups, K) or, for depthwise, (*kernel, C, M). They must be
// float32 and C-contiguous (never converted here: the op layer converts once);
// the spatial axes are padded to three with size-1 axes, which moves no data.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "bindings/conv_shape.h"
#include "bindings/gemm_call.h"
#include "pykern/conv.h"

namespace pykern::bind {
namespace {

using ForwardFn = void (*)(const ConvShape&, const float*, const float*, const float*, Act, float*);
using BackwardFn = void (*)(const ConvShape&, const float*, const float*, float*);

// ConvArgs plus the NumPy arrays of one call.
class ConvCall : public ConvArgs {
 public:
  using ConvArgs::ConvArgs;

  // A float32, C-contiguous ndarray, named in the context.
  py::array array(py::handle obj, const char* name) {
    if (!py::isinstance<py::array>(obj))
      fail(op(), std::string(name) + " must be a numpy.ndarray, got " +
                     std::string(py::str(py::type::of(obj).attr("__name__"))));
    py::array a = py::reinterpret_borrow<py::array>(obj);
    note(name, shape_of(a));
    if (!a.dtype().is(py::dtype::of<float>()))
      error(std::string(name) + " must be float32, got " + std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style)) error(std::string(name) + " must be C-contiguous");
    return a;
  }
};

const float* data(const py::array& a) { return static_cast<const float*>(a.data()); }
float* data(py::array& a) { return static_cast<float*>(a.mutable_data()); }

py::array forward_py(const char* op, bool depthwise, ForwardFn run, py::handle x_obj,
                     py::handle w_obj, py::object bias_obj, const Ints& strides,
                     const Ints& dilations, const Ints& pad_begin, const Ints& pad_end,
                     int64_t groups, const std::string& activation) {
  ConvCall call(op, depthwise);
  const py::array x = call.array(x_obj, "x"), w = call.array(w_obj, "w");
  const bool has_bias = !bias_obj.is_none();
  py::array bias;
  if (has_bias) bias = call.array(bias_obj, "bias");
  call.geometry(shape_of(x), shape_of(w), strides, dilations, pad_begin, pad_end, groups);
  if (has_bias && (bias.ndim() != 1 || bias.shape(0) != call.shape().K))
    call.error("bias must have shape (" + std::to_string(call.shape().K) + ",)");
  const Act act = activation_arg(activation, op);
  py::array y = new_matrix(call.y_shape());
  const float* b = has_bias ? data(bias) : nullptr;
  float* out = data(y);
  {
    py::gil_scoped_release nogil;
    run(call.shape(), data(x), data(w), b, act, out);
  }
  return y;
}

// Both backward passes: (dy, w, x_shape) -> dx for data, (x, dy, w_shape) -> dw
// for filter; `run` takes the two arrays in that order.
py::array backward_py(const char* op, bool depthwise, BackwardFn run, bool data_pass,
                      py::handle first, py::handle second, const Shape& out_shape,
                      const Ints& strides, const Ints& dilations, const Ints& pad_begin,
                      const Ints& pad_end, int64_t groups) {
  ConvCall call(op, depthwise);
  const py::array a = call.array(first, data_pass ? "dy" : "x");
  const py::array b = call.array(second, data_pass ? "w" : "dy");
  call.note(data_pass ? "x_shape" : "w_shape", out_shape);
  call.geometry(data_pass ? out_shape : shape_of(a), data_pass ? shape_of(b) : out_shape,
                strides, dilations, pad_begin, pad_end, groups);
  call.check_dy(shape_of(data_pass ? a : b));
  py::array out = new_matrix(out_shape);
  float* o = data(out);
  {
    py::gil_scoped_release nogil;
    run(call.shape(), data(a), data(b), o);
  }
  return out;
}

}  // namespace

void register_conv(py::module_& m) {
  struct Family {
    const char* forward;
    const char* backward_data;
    const char* backward_filter;
    bool depthwise;
    ForwardFn fwd;
    BackwardFn bwd_data, bwd_filter;
  };
  static const Family families[] = {
      {"conv_forward", "conv_backward_data", "conv_backward_filter", false, &conv_forward,
       &conv_backward_data, &conv_backward_filter},
      {"conv_forward_ref", "conv_backward_data_ref", "conv_backward_filter_ref", false,
       &conv_forward_ref, &conv_backward_data_ref, &conv_backward_filter_ref},
      {"depthwise_forward", "depthwise_backward_data", "depthwise_backward_filter", true,
       &depthwise_forward, &depthwise_backward_data, &depthwise_backward_filter},
      {"depthwise_forward_ref", "depthwise_backward_data_ref", "depthwise_backward_filter_ref",
       true, &conv_forward_ref, &conv_backward_data_ref, &conv_backward_filter_ref},
  };
  for (const Family& f : families) {
    if (f.depthwise) {
      m.def(
          f.forward,
          [f](py::handle x, py::handle w, py::object bias, const Ints& strides,
              const Ints& dilations, const Ints& pad_begin, const Ints& pad_end,
              const std::string& activation) {
            return forward_py(f.forward, true, f.fwd, x, w, bias, strides, dilations, pad_begin,
                              pad_end, 0, activation);
          },
          py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("strides"), py::arg("dilations"),
          py::arg("pad_begin"), py::arg("pad_end"), py::arg("activation") = "none",
          "y (N, *out, C*M) = act(depthwise(x, w) + bias); w (*kernel, C, M), output channel "
          "c*M + m");
      m.def(
          f.backward_data,
          [f](py::handle dy, py::handle w, const Shape& x_shape, const Ints& strides,
              const Ints& dilations, const Ints& pad_begin, const Ints& pad_end) {
            return backward_py(f.backward_data, true, f.bwd_data, true, dy, w, x_shape, strides,
                               dilations, pad_begin, pad_end, 0);
          },
          py::arg("dy"), py::arg("w"), py::arg("x_shape"), py::arg("strides"),
          py::arg("dilations"), py::arg("pad_begin"), py::arg("pad_end"),
          "dx (x_shape) of the depthwise convolution");
      m.def(
          f.backward_filter,
          [f](py::handle x, py::handle dy, const Shape& w_shape, const Ints& strides,
              const Ints& dilations, const Ints& pad_begin, const Ints& pad_end) {
            return backward_py(f.backward_filter, true, f.bwd_filter, false, x, dy, w_shape,
                               strides, dilations, pad_begin, pad_end, 0);
          },
          py::arg("x"), py::arg("dy"), py::arg("w_shape"), py::arg("strides"),
          py::arg("dilations"), py::arg("pad_begin"), py::arg("pad_end"),
          "dw (w_shape = (*kernel, C, M)) of the depthwise convolution");
      continue;
    }
    m.def(
        f.forward,
        [f](py::handle x, py::handle w, py::object bias, const Ints& strides,
            const Ints& dilations, const Ints& pad_begin, const Ints& pad_end, int64_t groups,
            const std::string& activation) {
          return forward_py(f.forward, false, f.fwd, x, w, bias, strides, dilations, pad_begin,
                            pad_end, groups, activation);
        },
        py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("strides"), py::arg("dilations"),
        py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
        py::arg("activation") = "none",
        "y (N, *out, K) = act(conv(x, w) + bias); x (N, *spatial, C), w (*kernel, C/groups, K)");
    m.def(
        f.backward_data,
        [f](py::handle dy, py::handle w, const Shape& x_shape, const Ints& strides,
            const Ints& dilations, const Ints& pad_begin, const Ints& pad_end, int64_t groups) {
          return backward_py(f.backward_data, false, f.bwd_data, true, dy, w, x_shape, strides,
                             dilations, pad_begin, pad_end, groups);
        },
        py::arg("dy"), py::arg("w"), py::arg("x_shape"), py::arg("strides"),
        py::arg("dilations"), py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
        "dx (x_shape) = the gradient of sum(conv(x, w) * dy) in x; also a transposed "
        "convolution's forward");
    m.def(
        f.backward_filter,
        [f](py::handle x, py::handle dy, const Shape& w_shape, const Ints& strides,
            const Ints& dilations, const Ints& pad_begin, const Ints& pad_end, int64_t groups) {
          return backward_py(f.backward_filter, false, f.bwd_filter, false, x, dy, w_shape,
                             strides, dilations, pad_begin, pad_end, groups);
        },
        py::arg("x"), py::arg("dy"), py::arg("w_shape"), py::arg("strides"),
        py::arg("dilations"), py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
        "dw (w_shape) = the gradient of sum(conv(x, w) * dy) in w");
  }
}

}  // namespace pykern::bind
