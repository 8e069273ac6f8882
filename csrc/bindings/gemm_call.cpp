#include "bindings/gemm_call.h"

#include <algorithm>
#include <string>
#include <vector>

#include "bindings/array_view.h"

namespace pykern::bind {

Act activation_arg(const std::string& name, const char* op, bool epilogue) {
  Act act;
  if (!parse_act(name.c_str(), &act) || (epilogue && !is_epilogue_act(act)))
    throw py::value_error(std::string(op) + ": unknown activation '" + name + "' (expected " +
                          (epilogue ? "none, linear, relu, sigmoid or tanh" : act_names()) + ")");
  return act;
}

namespace {

py::array sgemm_py(const char* op, void (*run)(const GemmArgs&), py::handle a, py::handle b,
                   py::object c, bool trans_a, bool trans_b, float alpha, float beta,
                   py::object bias, const std::string& activation) {
  const InputView A = input_view(a, op, "a"), B = input_view(b, op, "b");
  if (A.shape.size() != 2 || B.shape.size() != 2)
    fail(op, "a and b must be 2-D, got shapes " + shape_str(A.shape) + " and " +
                 shape_str(B.shape));
  GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.M = trans_a ? A.shape[1] : A.shape[0];
  g.K = trans_a ? A.shape[0] : A.shape[1];
  const int64_t kb = trans_b ? B.shape[1] : B.shape[0];
  g.N = trans_b ? B.shape[0] : B.shape[1];
  if (kb != g.K)
    fail(op, "inner dimensions differ: op(a) is (" + std::to_string(g.M) + ", " +
                 std::to_string(g.K) + ") and op(b) is (" + std::to_string(kb) + ", " +
                 std::to_string(g.N) + ") [a " + shape_str(A.shape) + ", b " +
                 shape_str(B.shape) + ", trans_a=" + (trans_a ? "True" : "False") +
                 ", trans_b=" + (trans_b ? "True" : "False") + "]");
  g.A = A.data;
  g.lda = std::max<int64_t>(A.ld, 1);
  g.B = B.data;
  g.ldb = std::max<int64_t>(B.ld, 1);
  g.alpha = alpha;
  g.beta = beta;
  g.act = activation_arg(activation, op);

  InputView bias_v;
  if (!bias.is_none()) {
    bias_v = input_view(bias, op, "bias");
    if (bias_v.shape.size() != 1 || bias_v.shape[0] != g.N)
      fail(op, "bias must have shape (" + std::to_string(g.N) + ",), got " +
                   shape_str(bias_v.shape));
    g.bias = bias_v.data;
  }

  py::array out;
  if (c.is_none()) {
    if (beta != 0.0f) fail(op, "beta != 0 needs an output array c to accumulate into");
    out = new_matrix({g.M, g.N});
    g.C = static_cast<float*>(out.mutable_data());
    g.ldc = std::max<int64_t>(g.N, 1);
  } else {
    const OutputView C = output_view(c, op, "c");
    if (C.rows != g.M || C.cols != g.N)
      fail(op, "c must have shape (" + std::to_string(g.M) + ", " + std::to_string(g.N) +
                   "), got (" + std::to_string(C.rows) + ", " + std::to_string(C.cols) + ")");
    out = py::reinterpret_borrow<py::array>(c);
    g.C = C.data;
    g.ldc = std::max<int64_t>(C.ld, 1);
  }
  {
    py::gil_scoped_release nogil;
    run(g);
  }
  return out;
}

}  // namespace

void def_sgemm(py::module_& m, const char* name, const char* op, void (*run)(const GemmArgs&),
               const char* doc) {
  m.def(
      name,
      [op, run](py::handle a, py::handle b, py::object c, bool trans_a, bool trans_b, float alpha,
                float beta, py::object bias, const std::string& activation) {
        return sgemm_py(op, run, a, b, c, trans_a, trans_b, alpha, beta, bias, activation);
      },
      py::arg("a"), py::arg("b"), py::arg("c") = py::none(),
      py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
      py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("activation") = "none", doc);
}

}  // namespace pykern::bind
