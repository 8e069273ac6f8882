// Bindings of the dense-network kernels on device Arrays: gemm, matmul and
// activation here; convolution (register_nn_conv.cpp), pooling and
// normalization (register_nn_pool_norm.cpp). Each has the name, arguments
// and checks of its pykern._cpu twin; arrays are pykern._cuda.Array (float32,
// one device) and results are new Arrays on that device. Every argument is
// checked before the device is touched, then the GIL is released around the
// launch; launches return without waiting for the GPU.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/gemm_call.h"
#include "cuda/bind_util.h"
#include "cuda/gemm.h"

namespace pykern::cuda {

void register_nn_conv(py::module_& m);
void register_nn_pool_norm(py::module_& m);

namespace {

using Shape = std::vector<int64_t>;

const Array* bias_arg(py::handle bias, const Array& like, int64_t n, const char* op) {
  const Array* b = opt_array(bias, op, "bias", DType::f32);
  if (b) {
    require_shape(*b, {n}, op, "bias");
    same_device(like, *b, op, "a", "bias");
  }
  return b;
}

Array gemm_py(py::handle a, py::handle b, py::handle bias, const std::string& activation,
              bool trans_a, bool trans_b, bool tf32) {
  const char* op = "gemm";
  const Array& A = arg_array(a, op, "a", DType::f32);
  const Array& B = arg_array(b, op, "b", DType::f32);
  if (A.ndim() != 2 || B.ndim() != 2)
    value_error(op, "a and b must be 2-D, got shapes " + shape_str(A.shape()) + " and " +
                        shape_str(B.shape()));
  GemmArgs g;
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.M = A.dim(trans_a ? 1 : 0);
  g.K = A.dim(trans_a ? 0 : 1);
  const int64_t kb = B.dim(trans_b ? 1 : 0);
  g.N = B.dim(trans_b ? 0 : 1);
  if (kb != g.K)
    value_error(op, "inner dimensions differ: op(a) is (" + std::to_string(g.M) + ", " +
                        std::to_string(g.K) + ") and op(b) is (" + std::to_string(kb) + ", " +
                        std::to_string(g.N) + ") [a " + shape_str(A.shape()) + ", b " +
                        shape_str(B.shape()) + ", trans_a=" + (trans_a ? "True" : "False") +
                        ", trans_b=" + (trans_b ? "True" : "False") + "]");
  same_device(A, B, op, "a", "b");
  const Array* bias_a = bias_arg(bias, A, g.N, op);
  g.act = bind::activation_arg(activation, op);
  g.lda = std::max<int64_t>(A.dim(1), 1);
  g.ldb = std::max<int64_t>(B.dim(1), 1);
  g.ldc = std::max<int64_t>(g.N, 1);
  py::gil_scoped_release nogil;
  DeviceGuard guard(A.device());
  Array C({g.M, g.N}, DType::f32, A.device());
  g.A = A.data<float>();
  g.B = B.data<float>();
  g.C = C.data<float>();
  g.bias = bias_a ? bias_a->data<float>() : nullptr;
  sgemm_device(g, tf32);
  return C;
}

// NumPy's broadcast of two batch shapes; ValueError naming both operands.
Shape broadcast_batch(const Shape& a, const Shape& b, const Shape& sa, const Shape& sb,
                      const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      value_error(op, "batch axes of " + shape_str(sa) + " and " + shape_str(sb) +
                          " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of an operand's batch axes aligned right to `batch` (0 where
// it broadcasts), each matrix holding `matrix` elements.
Shape batch_strides(const Shape& own, const Shape& batch, int64_t matrix) {
  Shape stride(batch.size(), 0);
  int64_t step = matrix;
  for (size_t i = 0; i < own.size(); ++i) {
    const size_t d = own.size() - 1 - i, bd = batch.size() - 1 - i;
    stride[bd] = own[d] == 1 ? 0 : step;
    step *= own[d];
  }
  return stride;
}

// The batch axes as GemmBatch, size-1 axes dropped and neighbours merged where
// both operands step through them as one axis.
GemmBatch gemm_batch(const Shape& batch, const Shape& sa, const Shape& sb, int64_t c_step,
                     const char* op) {
  Shape dims, as, bs;
  for (size_t d = 0; d < batch.size(); ++d) {
    if (batch[d] == 1) continue;
    if (!dims.empty() && as.back() == sa[d] * batch[d] && bs.back() == sb[d] * batch[d]) {
      dims.back() *= batch[d];
      as.back() = sa[d];
      bs.back() = sb[d];
      continue;
    }
    dims.push_back(batch[d]);
    as.push_back(sa[d]);
    bs.push_back(sb[d]);
  }
  if (dims.size() > size_t(kGemmMaxBatchDims))
    value_error(op, "the batch axes " + shape_str(batch) + " broadcast in more than " +
                        std::to_string(kGemmMaxBatchDims) + " independent ways");
  GemmBatch g;
  g.ndim = int(dims.size());
  for (int d = 0; d < g.ndim; ++d) {
    g.dims[d] = dims[d];
    g.a_stride[d] = as[d];
    g.b_stride[d] = bs[d];
  }
  g.c_step = c_step;
  return g;
}

// NumPy matmul: 1-D operands promoted (and the promoted axis dropped from the
// result), batch axes broadcast; any rank.
Array matmul_py(py::handle a, py::handle b, bool tf32) {
  const char* op = "matmul";
  const Array& A = arg_array(a, op, "a", DType::f32);
  const Array& B = arg_array(b, op, "b", DType::f32);
  const Shape &sa = A.shape(), &sb = B.shape();
  const size_t ra = sa.size(), rb = sb.size();
  if (ra < 1 || rb < 1)
    value_error(op, "operands must be at least 1-D, got shapes " + shape_str(sa) + " and " +
                        shape_str(sb));
  const int64_t M = ra == 1 ? 1 : sa[ra - 2], K = sa[ra - 1];
  const int64_t kb = rb == 1 ? sb[0] : sb[rb - 2], N = rb == 1 ? 1 : sb[rb - 1];
  if (K != kb)
    value_error(op, "shapes " + shape_str(sa) + " and " + shape_str(sb) + " are not aligned: " +
                        std::to_string(K) + " (last axis of a) != " + std::to_string(kb) +
                        (rb == 1 ? " (b)" : " (second-to-last axis of b)"));
  same_device(A, B, op, "a", "b");
  const Shape ba(sa.begin(), sa.end() - std::min<size_t>(ra, 2));
  const Shape bb(sb.begin(), sb.end() - std::min<size_t>(rb, 2));
  const Shape batch = broadcast_batch(ba, bb, sa, sb, op);
  Shape out_shape = batch;
  if (ra != 1) out_shape.push_back(M);
  if (rb != 1) out_shape.push_back(N);

  GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = std::max<int64_t>(K, 1);
  g.ldb = std::max<int64_t>(N, 1);
  g.ldc = std::max<int64_t>(N, 1);
  GemmBatch gb = gemm_batch(batch, batch_strides(ba, batch, M * K),
                            batch_strides(bb, batch, K * N), M * N, op);
  // (batch, M, K) @ (K, N) with a's batch unbroadcast: one GEMM over batch*M rows.
  if (gb.ndim == 1 && gb.b_stride[0] == 0 && gb.a_stride[0] == M * K) {
    g.M = gb.dims[0] * M;
    gb = GemmBatch{};
  }
  py::gil_scoped_release nogil;
  DeviceGuard guard(A.device());
  Array C(out_shape, DType::f32, A.device());
  g.A = A.data<float>();
  g.B = B.data<float>();
  g.C = C.data<float>();
  sgemm_batched_device(g, gb, tf32);
  return C;
}

Array activation_py(py::handle x, const std::string& activation) {
  const char* op = "activation";
  const Array& X = arg_array(x, op, "x", DType::f32);
  const Act act = bind::activation_arg(activation, op, false);
  py::gil_scoped_release nogil;
  DeviceGuard guard(X.device());
  Array y(X.shape(), DType::f32, X.device());
  activation_device(X.data<float>(), y.data<float>(), X.size(), act);
  return y;
}

}  // namespace

void register_nn(py::module_& m) {
  m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
        py::arg("activation") = "none", py::arg("trans_a") = false, py::arg("trans_b") = false,
        py::arg("tf32") = false,
        "act(op(a) @ op(b) + bias) for 2-D float32 Arrays: a new (M, N) Array. activation:\n"
        "none/linear, relu, sigmoid or tanh (the epilogue's). tf32: TF32 tensor cores\n"
        "(10-bit mantissa operands, ~1e-3 relative error) instead of exact fp32 FMAs.");
  m.def("matmul", &matmul_py, py::arg("a"), py::arg("b"), py::arg("tf32") = false,
        "NumPy matmul semantics (1-D operands promoted, batch axes broadcast) on float32\n"
        "Arrays: a new Array.");
  m.def("activation", &activation_py, py::arg("x"), py::arg("activation"),
        "A new Array with the activation applied element-wise: none/linear, relu, sigmoid,\n"
        "tanh, hard_sigmoid, elu, selu, softsign, softplus, silu/swish, exponential.");
  register_nn_conv(m);
  register_nn_pool_norm(m);
}

}  // namespace pykern::cuda
