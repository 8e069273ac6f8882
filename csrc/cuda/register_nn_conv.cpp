// Bindings of the convolution kernels on device Arrays (cuda/conv.h), with
// pykern._cpu's names, arguments and checks (the shared bindings/conv_shape.h):
// conv_forward, conv_backward_data, conv_backward_filter and their depthwise_*
// forms. x (N, *spatial, C) with 1 to 3 spatial axes, w (*kernel, C/groups, K)
// or (*kernel, C, M) for depthwise, all float32 on one device.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/conv_shape.h"
#include "bindings/gemm_call.h"
#include "cuda/bind_util.h"
#include "cuda/conv.h"

namespace pykern::cuda {
namespace {

using bind::Ints;
using bind::Shape;

using ForwardFn = void (*)(const ConvShape&, const float*, const float*, const float*, Act, float*);
using BackwardFn = void (*)(const ConvShape&, const float*, const float*, float*);

// ConvArgs plus the device Arrays of one call (float32, one device).
class ConvArrays : public bind::ConvArgs {
 public:
  using ConvArgs::ConvArgs;

  const Array& array(py::handle h, const char* name) {
    const Array& a = arg_array(h, op(), name, DType::f32);
    note(name, a.shape());
    if (first_ && a.device() != first_->device())
      error(std::string(name) + " is on cuda:" + std::to_string(a.device()) + " but " +
            first_name_ + " on cuda:" + std::to_string(first_->device()));
    if (!first_) {
      first_ = &a;
      first_name_ = name;
    }
    return a;
  }
  int device() const { return first_->device(); }

 private:
  const Array* first_ = nullptr;
  const char* first_name_ = "";
};

Array forward_py(const char* op, bool depthwise, ForwardFn run, py::handle x, py::handle w,
                 py::handle bias, const Ints& strides, const Ints& dilations,
                 const Ints& pad_begin, const Ints& pad_end, int64_t groups,
                 const std::string& activation) {
  ConvArrays call(op, depthwise);
  const Array& X = call.array(x, "x");
  const Array& W = call.array(w, "w");
  const Array* B = bias.is_none() ? nullptr : &call.array(bias, "bias");
  call.geometry(X.shape(), W.shape(), strides, dilations, pad_begin, pad_end, groups);
  if (B && B->shape() != Shape{call.shape().K})
    call.error("bias must have shape (" + std::to_string(call.shape().K) + ",)");
  const Act act = bind::activation_arg(activation, op);
  py::gil_scoped_release nogil;
  DeviceGuard guard(call.device());
  Array y(call.y_shape(), DType::f32, call.device());
  run(call.shape(), X.data<float>(), W.data<float>(), B ? B->data<float>() : nullptr, act,
      y.data<float>());
  return y;
}

// Both backward passes: (dy, w, x_shape) -> dx for data, (x, dy, w_shape) -> dw
// for filter; `run` takes the two arrays in that order.
Array backward_py(const char* op, bool depthwise, BackwardFn run, bool data_pass,
                  py::handle first, py::handle second, const Shape& out_shape,
                  const Ints& strides, const Ints& dilations, const Ints& pad_begin,
                  const Ints& pad_end, int64_t groups) {
  ConvArrays call(op, depthwise);
  const Array& a = call.array(first, data_pass ? "dy" : "x");
  const Array& b = call.array(second, data_pass ? "w" : "dy");
  call.note(data_pass ? "x_shape" : "w_shape", out_shape);
  call.geometry(data_pass ? out_shape : a.shape(), data_pass ? b.shape() : out_shape, strides,
                dilations, pad_begin, pad_end, groups);
  call.check_dy((data_pass ? a : b).shape());
  py::gil_scoped_release nogil;
  DeviceGuard guard(call.device());
  Array out(out_shape, DType::f32, call.device());
  run(call.shape(), a.data<float>(), b.data<float>(), out.data<float>());
  return out;
}

}  // namespace

void register_nn_conv(py::module_& m) {
  m.def(
      "conv_forward",
      [](py::handle x, py::handle w, py::handle bias, const Ints& strides, const Ints& dilations,
         const Ints& pad_begin, const Ints& pad_end, int64_t groups,
         const std::string& activation) {
        return forward_py("conv_forward", false, &conv_forward_device, x, w, bias, strides,
                          dilations, pad_begin, pad_end, groups, activation);
      },
      py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
      py::arg("activation") = "none",
      "y (N, *out, K) = act(conv(x, w) + bias); x (N, *spatial, C), w (*kernel, C/groups, K)");
  m.def(
      "conv_backward_data",
      [](py::handle dy, py::handle w, const Shape& x_shape, const Ints& strides,
         const Ints& dilations, const Ints& pad_begin, const Ints& pad_end, int64_t groups) {
        return backward_py("conv_backward_data", false, &conv_backward_data_device, true, dy, w,
                           x_shape, strides, dilations, pad_begin, pad_end, groups);
      },
      py::arg("dy"), py::arg("w"), py::arg("x_shape"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
      "dx (x_shape) = the gradient of sum(conv(x, w) * dy) in x; also a transposed "
      "convolution's forward");
  m.def(
      "conv_backward_filter",
      [](py::handle x, py::handle dy, const Shape& w_shape, const Ints& strides,
         const Ints& dilations, const Ints& pad_begin, const Ints& pad_end, int64_t groups) {
        return backward_py("conv_backward_filter", false, &conv_backward_filter_device, false, x,
                           dy, w_shape, strides, dilations, pad_begin, pad_end, groups);
      },
      py::arg("x"), py::arg("dy"), py::arg("w_shape"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"), py::arg("groups") = 1,
      "dw (w_shape) = the gradient of sum(conv(x, w) * dy) in w (deterministic split-K)");
  m.def(
      "depthwise_forward",
      [](py::handle x, py::handle w, py::handle bias, const Ints& strides, const Ints& dilations,
         const Ints& pad_begin, const Ints& pad_end, const std::string& activation) {
        return forward_py("depthwise_forward", true, &depthwise_forward_device, x, w, bias,
                          strides, dilations, pad_begin, pad_end, 0, activation);
      },
      py::arg("x"), py::arg("w"), py::arg("bias"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"), py::arg("activation") = "none",
      "y (N, *out, C*M) = act(depthwise(x, w) + bias); w (*kernel, C, M), output channel c*M + m");
  m.def(
      "depthwise_backward_data",
      [](py::handle dy, py::handle w, const Shape& x_shape, const Ints& strides,
         const Ints& dilations, const Ints& pad_begin, const Ints& pad_end) {
        return backward_py("depthwise_backward_data", true, &depthwise_backward_data_device,
                           true, dy, w, x_shape, strides, dilations, pad_begin, pad_end, 0);
      },
      py::arg("dy"), py::arg("w"), py::arg("x_shape"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"), "dx (x_shape) of the depthwise convolution");
  m.def(
      "depthwise_backward_filter",
      [](py::handle x, py::handle dy, const Shape& w_shape, const Ints& strides,
         const Ints& dilations, const Ints& pad_begin, const Ints& pad_end) {
        return backward_py("depthwise_backward_filter", true, &depthwise_backward_filter_device,
                           false, x, dy, w_shape, strides, dilations, pad_begin, pad_end, 0);
      },
      py::arg("x"), py::arg("dy"), py::arg("w_shape"), py::arg("strides"), py::arg("dilations"),
      py::arg("pad_begin"), py::arg("pad_end"),
      "dw (w_shape = (*kernel, C, M)) of the depthwise convolution");
}

}  // namespace pykern::cuda
