// Binding of the CUDA sgemm: the signature and argument checks of
// pykern._cpu.sgemm, on NumPy arrays that are copied to the device and back
// (a device-resident tensor API comes later). Arguments are checked before the
// device is touched, so bad input raises the same ValueError/TypeError with
// or without a GPU.
#include <algorithm>
#include <string>

#include "bindings/array_view.h"
#include "cuda/gemm.h"

namespace pykern::cuda {
namespace {

namespace py = pybind11;
using bind::InputView;
using bind::OutputView;
using bind::shape_str;

constexpr const char* kOp = "sgemm (cuda)";

[[noreturn]] void fail(const std::string& msg) {
  throw py::value_error(std::string(kOp) + ": " + msg);
}

Act parse_activation(const std::string& name) {
  if (name == "none" || name == "linear") return Act::none;
  if (name == "relu") return Act::relu;
  if (name == "sigmoid") return Act::sigmoid;
  if (name == "tanh") return Act::tanh;
  fail("unknown activation '" + name + "' (expected none, linear, relu, sigmoid or tanh)");
}

py::array sgemm_py(py::handle a, py::handle b, py::object c, bool trans_a, bool trans_b,
                   float alpha, float beta, py::object bias, const std::string& activation) {
  const InputView A = bind::input_view(a, kOp, "a"), B = bind::input_view(b, kOp, "b");
  if (A.shape.size() != 2 || B.shape.size() != 2)
    fail("a and b must be 2-D, got shapes " + shape_str(A.shape) + " and " + shape_str(B.shape));
  GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.M = trans_a ? A.shape[1] : A.shape[0];
  g.K = trans_a ? A.shape[0] : A.shape[1];
  const int64_t kb = trans_b ? B.shape[1] : B.shape[0];
  g.N = trans_b ? B.shape[0] : B.shape[1];
  if (kb != g.K)
    fail("inner dimensions differ: op(a) is (" + std::to_string(g.M) + ", " +
         std::to_string(g.K) + ") and op(b) is (" + std::to_string(kb) + ", " +
         std::to_string(g.N) + ") [a " + shape_str(A.shape) + ", b " + shape_str(B.shape) +
         ", trans_a=" + (trans_a ? "True" : "False") + ", trans_b=" +
         (trans_b ? "True" : "False") + "]");
  g.A = A.data;
  g.lda = std::max<int64_t>(A.ld, 1);
  g.B = B.data;
  g.ldb = std::max<int64_t>(B.ld, 1);
  g.alpha = alpha;
  g.beta = beta;
  g.act = parse_activation(activation);

  InputView bias_v;
  if (!bias.is_none()) {
    bias_v = bind::input_view(bias, kOp, "bias");
    if (bias_v.shape.size() != 1 || bias_v.shape[0] != g.N)
      fail("bias must have shape (" + std::to_string(g.N) + ",), got " + shape_str(bias_v.shape));
    g.bias = bias_v.data;
  }

  py::array out;
  if (c.is_none()) {
    if (beta != 0.0f) fail("beta != 0 needs an output array c to accumulate into");
    out = py::array_t<float>(std::vector<py::ssize_t>{g.M, g.N});
    g.C = static_cast<float*>(out.mutable_data());
    g.ldc = std::max<int64_t>(g.N, 1);
  } else {
    const OutputView C = bind::output_view(c, kOp, "c");
    if (C.rows != g.M || C.cols != g.N)
      fail("c must have shape (" + std::to_string(g.M) + ", " + std::to_string(g.N) +
           "), got (" + std::to_string(C.rows) + ", " + std::to_string(C.cols) + ")");
    out = py::reinterpret_borrow<py::array>(c);
    g.C = C.data;
    g.ldc = std::max<int64_t>(C.ld, 1);
  }
  {
    py::gil_scoped_release nogil;
    sgemm_host(g);
  }
  return out;
}

}  // namespace

void register_gemm(py::module_& m) {
  m.def("sgemm", &sgemm_py, py::arg("a"), py::arg("b"), py::arg("c") = py::none(),
        py::kw_only(), py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("bias") = py::none(),
        py::arg("activation") = "none",
        "C = act(alpha * op(a) @ op(b) + beta * c + bias), row-major float32, on the GPU.\n"
        "The semantics of pykern._cpu.sgemm: with c=None a new (M, N) array is returned;\n"
        "otherwise c is written in place. Inputs are copied to the device and the result\n"
        "back. RuntimeError when there is no CUDA device.");
}

}  // namespace pykern::cuda
