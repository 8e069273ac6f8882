// Bindings of the GEMM family: sgemm (BLAS-style, in place or allocating),
// matmul (NumPy semantics for 1-D to 3-D) and the activations the GEMM
// epilogue shares.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "bindings/array_view.h"
#include "bindings/gemm_call.h"
#include "pykern/activation.h"
#include "pykern/gemm.h"

namespace pykern::bind {
namespace {

// NumPy matmul for 1-D to 3-D operands: 1-D operands are promoted (and the
// promoted axis dropped from the result), batch axes broadcast.
py::array matmul_py(py::handle a, py::handle b) {
  const char* op = "matmul";
  const InputView A = input_view(a, op, "a"), B = input_view(b, op, "b");
  const size_t ra = A.shape.size(), rb = B.shape.size();
  if (ra < 1 || ra > 3 || rb < 1 || rb > 3)
    fail(op, "operands must be 1-D to 3-D, got shapes " + shape_str(A.shape) + " and " +
                 shape_str(B.shape));
  const int64_t batch_a = ra == 3 ? A.shape[0] : 1, batch_b = rb == 3 ? B.shape[0] : 1;
  const int64_t M = ra == 1 ? 1 : A.shape[ra - 2], K = A.shape[ra - 1];
  const int64_t kb = rb == 1 ? B.shape[0] : B.shape[rb - 2], N = rb == 1 ? 1 : B.shape[rb - 1];
  if (K != kb)
    fail(op, "shapes " + shape_str(A.shape) + " and " + shape_str(B.shape) +
                 " are not aligned: " + std::to_string(K) + " (last axis of a) != " +
                 std::to_string(kb) + (rb == 1 ? " (b)" : " (second-to-last axis of b)"));
  if (batch_a != batch_b && batch_a != 1 && batch_b != 1)
    fail(op, "batch axes of " + shape_str(A.shape) + " and " + shape_str(B.shape) +
                 " do not broadcast");
  const int64_t batch = std::max(batch_a, batch_b);

  std::vector<int64_t> out_shape;
  if (ra == 3 || rb == 3) out_shape.push_back(batch);
  if (ra != 1) out_shape.push_back(M);
  if (rb != 1) out_shape.push_back(N);
  py::array out = new_matrix(out_shape);
  float* C = static_cast<float*>(out.mutable_data());

  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  // A 1-D b is a column: (K,1) with row stride 1. Rows of a 2-D a keep their stride.
  g.lda = std::max<int64_t>(ra == 2 ? A.ld : K, 1);
  g.ldb = std::max<int64_t>(rb == 2 ? B.ld : N, 1);
  g.ldc = std::max<int64_t>(N, 1);
  const int64_t a_step = ra == 3 && batch_a > 1 ? M * K : 0;
  const int64_t b_step = rb == 3 && batch_b > 1 ? K * N : 0;
  {
    py::gil_scoped_release nogil;
    if (ra == 3 && b_step == 0 && batch_a == batch) {
      // (batch, M, K) @ (K, N): one GEMM over batch*M rows.
      g.M = batch * M;
      g.A = A.data;
      g.B = B.data;
      g.C = C;
      sgemm(g);
    } else {
      for (int64_t i = 0; i < batch; ++i) {
        g.A = A.data + i * a_step;
        g.B = B.data + i * b_step;
        g.C = C + i * M * N;
        sgemm(g);
      }
    }
  }
  return out;
}

py::array activation_py(py::handle x, const std::string& activation, bool inplace) {
  const char* op = "activation";
  const Act act = activation_arg(activation, op, false);
  py::array out;
  if (inplace) {
    if (!py::isinstance<py::array>(x)) throw py::type_error("activation: inplace needs an ndarray");
    out = py::reinterpret_borrow<py::array>(x);
    if (!out.dtype().is(py::dtype::of<float>()) || !(out.flags() & py::array::c_style) ||
        !out.writeable())
      fail(op, "inplace needs a writable, C-contiguous float32 array");
  } else {
    const InputView v = input_view(x, op, "x");
    out = new_matrix(v.shape);
    const int64_t n = out.size();
    if (v.shape.size() == 2 && v.ld != v.shape[1]) {
      float* dst = static_cast<float*>(out.mutable_data());
      for (int64_t r = 0; r < v.shape[0]; ++r)
        std::copy_n(v.data + r * v.ld, v.shape[1], dst + r * v.shape[1]);
    } else {
      std::copy_n(v.data, n, static_cast<float*>(out.mutable_data()));
    }
  }
  float* y = static_cast<float*>(out.mutable_data());
  const int64_t n = out.size();
  {
    py::gil_scoped_release nogil;
    activation_inplace(y, n, act);
  }
  return out;
}

// g * act'(x), a new array; x and g of one shape.
py::array activation_grad_py(py::handle x, py::handle g, const std::string& activation) {
  const char* op = "activation_grad";
  const Act act = activation_arg(activation, op, false);
  const FloatArray xs = FloatArray::ensure(x), gs = FloatArray::ensure(g);
  if (!xs || !gs) {
    PyErr_Clear();
    fail(op, "x and g must be numeric arrays");
  }
  const std::vector<int64_t> shape(xs.shape(), xs.shape() + xs.ndim());
  if (!std::equal(xs.shape(), xs.shape() + xs.ndim(), gs.shape(), gs.shape() + gs.ndim()))
    fail(op, "x and g must have one shape, got " + shape_str(shape) + " and " +
                 shape_str(std::vector<int64_t>(gs.shape(), gs.shape() + gs.ndim())));
  py::array out = new_matrix(shape);
  float* o = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release nogil;
    std::copy_n(gs.data(), gs.size(), o);
    activation_grad(xs.data(), o, xs.size(), act);
  }
  return out;
}

// (dz, db): the backward of act(z + bias) from y = act(z + bias) and the gradient g,
// both (..., C). act none returns g itself as dz; db is None unless `bias`.
py::tuple bias_act_grad_py(py::handle g, py::handle y, const std::string& activation,
                           bool bias, bool ref) {
  const char* op = "bias_act_grad";
  const Act act = activation_arg(activation, op, false);
  if (act != Act::none && act != Act::relu && act != Act::sigmoid && act != Act::tanh)
    fail(op, "activation must be none, relu, sigmoid or tanh (a derivative from the output), "
             "got " + activation);
  py::array ga = exact_array(g, op, "g", py::dtype::of<float>());
  const std::vector<int64_t> shape = shape_of(ga);
  if (shape.empty()) fail(op, "g must have at least one axis (the channels), got a scalar");
  // (a default py::array is an empty array, not a null handle: test `act`, not ya)
  py::array ya;
  if (act != Act::none) ya = float_array(y, op, "y", shape);
  const int64_t cols = shape.back();
  const int64_t rows = cols ? ga.size() / cols : 0;
  py::array dz = act == Act::none ? ga : py::array(new_matrix(shape));
  py::object db = py::none();
  float* dbp = nullptr;
  if (bias) {
    py::array_t<float> d = new_matrix({cols});
    dbp = d.mutable_data();
    db = d;
  }
  const float* gp = static_cast<const float*>(ga.data());
  const float* yp = act != Act::none ? static_cast<const float*>(ya.data()) : nullptr;
  float* dzp = act == Act::none ? nullptr : static_cast<float*>(dz.mutable_data());
  {
    py::gil_scoped_release nogil;
    (ref ? bias_act_grad_ref : bias_act_grad)(gp, yp, dzp, dbp, rows, cols, act);
  }
  return py::make_tuple(dz, db);
}

}  // namespace

void register_gemm(py::module_& m) {
  def_sgemm(m, "sgemm", "sgemm", &sgemm,
            "C = act(alpha * op(a) @ op(b) + beta * c + bias), row-major float32.\n"
            "With c=None a new (M, N) array is returned; otherwise c is written in place.");
  def_sgemm(m, "sgemm_ref", "sgemm_ref", &sgemm_ref,
            "The scalar oracle (csrc/ref/) with sgemm's signature.");
  m.def("matmul", &matmul_py, py::arg("a"), py::arg("b"),
        "NumPy matmul semantics for 1-D to 3-D operands, float32 result.");
  m.def("activation", &activation_py, py::arg("x"), py::arg("activation"),
        py::arg("inplace") = false,
        "Applies an activation element-wise (a new array unless inplace): none/linear, relu, "
        "sigmoid, tanh, hard_sigmoid, elu, selu, softsign, softplus, silu/swish, exponential.");
  m.def("activation_grad", &activation_grad_py, py::arg("x"), py::arg("g"),
        py::arg("activation"),
        "g * act'(x) as a new float32 array (the derivatives the recurrent kernels use).");
  m.def("bias_act_grad", &bias_act_grad_py, py::arg("g"), py::arg("y"), py::arg("activation"),
        py::arg("bias"), py::arg("ref") = false,
        "(dz, db) for act(z + bias) with y its output: dz = g * act'(y) (g itself for none), "
        "db the sum of dz over all but the last axis (None unless bias). Both float32, "
        "C-contiguous, one shape; act none/relu/sigmoid/tanh. ref=True: the double oracle.");
}

}  // namespace pykern::bind
