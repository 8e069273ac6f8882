// Bindings of the normalization family (contract in pykern/norm.h): batch norm on a
// (A, C, B) or (P, A, C, B) view, layer norm on (M, F) rows, each also as a `_ref`
// twin. Arrays are used in place (float32, C-contiguous), never converted.
//
// GroupNormalization(groups=G) on channels-last x (N, S..., G*Cg) runs on the batch
// norm kernels without transposes: view x as (N, prod(S), G, Cg) and call
// batch_norm_train(x4, None, None, eps) -> (xhat, mean, var, inv_std) with (N, G)
// statistics; y = xhat * gamma + beta per channel. Backward: dxhat = dy * gamma;
// dx = batch_norm_backward(dxhat, x4, mean, inv_std, None)[0]; dgamma = sum(dy * xhat),
// dbeta = sum(dy) over all axes but the channel.
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "pykern/norm.h"

namespace pykern::bind {
namespace {

struct NormKernels {
  decltype(&batch_norm_train) bn_train;
  decltype(&batch_norm_inference) bn_inference;
  decltype(&batch_norm_backward) bn_backward;
  decltype(&layer_norm_forward) ln_forward;
  decltype(&layer_norm_backward) ln_backward;
};

constexpr NormKernels kFast{&batch_norm_train, &batch_norm_inference, &batch_norm_backward,
                            &layer_norm_forward, &layer_norm_backward};
constexpr NormKernels kRef{&batch_norm_train_ref, &batch_norm_inference_ref,
                           &batch_norm_backward_ref, &layer_norm_forward_ref,
                           &layer_norm_backward_ref};

const float* ptr(const py::array& a) {
  return a ? static_cast<const float*>(a.data()) : nullptr;
}
float* out_ptr(py::array& a) { return static_cast<float*>(a.mutable_data()); }

// The batch-norm view of x and the shape of its statistics: (C,) or (P, C).
struct BnArgs {
  py::array x;
  std::vector<int64_t> shape, stat;
  BatchNormShape s;
};

BnArgs bn_args(py::handle x, const char* op, const char* arg) {
  BnArgs b;
  b.x = exact_array(x, op, arg, py::dtype::of<float>());
  b.shape = shape_of(b.x);
  if (b.shape.size() == 3) {
    b.s = {1, b.shape[0], b.shape[1], b.shape[2]};
    b.stat = {b.s.C};
  } else if (b.shape.size() == 4) {
    b.s = {b.shape[0], b.shape[1], b.shape[2], b.shape[3]};
    b.stat = {b.s.P, b.s.C};
  } else {
    fail(op, std::string(arg) + " of shape " + shape_str(b.shape) +
                 " must be 3-D (A, C, B) or 4-D (P, A, C, B)");
  }
  return b;
}

py::tuple bn_train_py(const NormKernels& k, py::handle x, py::handle gamma, py::handle beta,
                      float epsilon) {
  const char* op = "batch_norm_train";
  BnArgs b = bn_args(x, op, "x");
  const py::array g = float_array(gamma, op, "gamma", {b.s.C}, true);
  const py::array bt = float_array(beta, op, "beta", {b.s.C}, true);
  py::array y = new_matrix(b.shape), mean = new_matrix(b.stat), var = new_matrix(b.stat),
            inv_std = new_matrix(b.stat);
  const float *xp = ptr(b.x), *gp = ptr(g), *bp = ptr(bt);
  float *yp = out_ptr(y), *mp = out_ptr(mean), *vp = out_ptr(var), *ip = out_ptr(inv_std);
  {
    py::gil_scoped_release nogil;
    k.bn_train(b.s, xp, gp, bp, epsilon, yp, mp, vp, ip);
  }
  return py::make_tuple(y, mean, var, inv_std);
}

py::array bn_inference_py(const NormKernels& k, py::handle x, py::handle mean, py::handle var,
                          py::handle gamma, py::handle beta, float epsilon) {
  const char* op = "batch_norm_inference";
  BnArgs b = bn_args(x, op, "x");
  const py::array m = float_array(mean, op, "mean", b.stat);
  const py::array v = float_array(var, op, "var", b.stat);
  const py::array g = float_array(gamma, op, "gamma", {b.s.C}, true);
  const py::array bt = float_array(beta, op, "beta", {b.s.C}, true);
  py::array y = new_matrix(b.shape);
  const float *xp = ptr(b.x), *mp = ptr(m), *vp = ptr(v), *gp = ptr(g), *bp = ptr(bt);
  float* yp = out_ptr(y);
  {
    py::gil_scoped_release nogil;
    k.bn_inference(b.s, xp, mp, vp, gp, bp, epsilon, yp);
  }
  return y;
}

py::tuple bn_backward_py(const NormKernels& k, py::handle dy, py::handle x, py::handle mean,
                         py::handle inv_std, py::handle gamma) {
  const char* op = "batch_norm_backward";
  BnArgs b = bn_args(x, op, "x");
  const py::array d = float_array(dy, op, "dy", b.shape);
  const py::array m = float_array(mean, op, "mean", b.stat);
  const py::array is = float_array(inv_std, op, "inv_std", b.stat);
  const py::array g = float_array(gamma, op, "gamma", {b.s.C}, true);
  py::array dx = new_matrix(b.shape), dgamma = new_matrix({b.s.C}), dbeta = new_matrix({b.s.C});
  const float *dp = ptr(d), *xp = ptr(b.x), *mp = ptr(m), *ip = ptr(is), *gp = ptr(g);
  float *dxp = out_ptr(dx), *dgp = out_ptr(dgamma), *dbp = out_ptr(dbeta);
  {
    py::gil_scoped_release nogil;
    k.bn_backward(b.s, dp, xp, mp, ip, gp, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

// x as (M, F) rows.
py::array ln_x(py::handle x, const char* op, const char* arg) {
  py::array a = exact_array(x, op, arg, py::dtype::of<float>());
  if (a.ndim() != 2)
    fail(op, std::string(arg) + " of shape " + shape_str(shape_of(a)) + " must be 2-D (M, F)");
  return a;
}

py::tuple ln_forward_py(const NormKernels& k, py::handle x, py::handle gamma, py::handle beta,
                        float epsilon) {
  const char* op = "layer_norm_forward";
  const py::array xa = ln_x(x, op, "x");
  const int64_t M = xa.shape(0), F = xa.shape(1);
  const py::array g = float_array(gamma, op, "gamma", {F}, true);
  const py::array bt = float_array(beta, op, "beta", {F}, true);
  py::array y = new_matrix({M, F}), mean = new_matrix({M}), inv_std = new_matrix({M});
  const float *xp = ptr(xa), *gp = ptr(g), *bp = ptr(bt);
  float *yp = out_ptr(y), *mp = out_ptr(mean), *ip = out_ptr(inv_std);
  {
    py::gil_scoped_release nogil;
    k.ln_forward(M, F, xp, gp, bp, epsilon, yp, mp, ip);
  }
  return py::make_tuple(y, mean, inv_std);
}

py::tuple ln_backward_py(const NormKernels& k, py::handle dy, py::handle x, py::handle mean,
                         py::handle inv_std, py::handle gamma) {
  const char* op = "layer_norm_backward";
  const py::array xa = ln_x(x, op, "x");
  const int64_t M = xa.shape(0), F = xa.shape(1);
  const py::array d = float_array(dy, op, "dy", {M, F});
  const py::array m = float_array(mean, op, "mean", {M});
  const py::array is = float_array(inv_std, op, "inv_std", {M});
  const py::array g = float_array(gamma, op, "gamma", {F}, true);
  py::array dx = new_matrix({M, F}), dgamma = new_matrix({F}), dbeta = new_matrix({F});
  const float *dp = ptr(d), *xp = ptr(xa), *mp = ptr(m), *ip = ptr(is), *gp = ptr(g);
  float *dxp = out_ptr(dx), *dgp = out_ptr(dgamma), *dbp = out_ptr(dbeta);
  {
    py::gil_scoped_release nogil;
    k.ln_backward(M, F, dp, xp, mp, ip, gp, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

void def_norm(py::module_& m, const NormKernels& k, const std::string& suffix,
              const std::string& note) {
  m.def(("batch_norm_train" + suffix).c_str(),
        [k](py::handle x, py::handle gamma, py::handle beta, float epsilon) {
          return bn_train_py(k, x, gamma, beta, epsilon);
        },
        py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
        ("(y, mean, var, inv_std): batch norm of x (A, C, B) with (C,) statistics over A and B, "
         "or of x (P, A, C, B) with (P, C) ones; var is biased; gamma, beta (C,) or None. "
         "Save x, mean, inv_std for batch_norm_backward." + note).c_str());
  m.def(("batch_norm_inference" + suffix).c_str(),
        [k](py::handle x, py::handle mean, py::handle var, py::handle gamma, py::handle beta,
            float epsilon) { return bn_inference_py(k, x, mean, var, gamma, beta, epsilon); },
        py::arg("x"), py::arg("mean"), py::arg("var"), py::arg("gamma"), py::arg("beta"),
        py::arg("epsilon"),
        ("y = (x - mean) * gamma / sqrt(var + epsilon) + beta with given statistics." + note)
            .c_str());
  m.def(("batch_norm_backward" + suffix).c_str(),
        [k](py::handle dy, py::handle x, py::handle mean, py::handle inv_std, py::handle gamma) {
          return bn_backward_py(k, dy, x, mean, inv_std, gamma);
        },
        py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("inv_std"), py::arg("gamma"),
        ("(dx, dgamma, dbeta) of batch_norm_train (through mean and var); dgamma, dbeta (C,)."
         + note).c_str());
  m.def(("layer_norm_forward" + suffix).c_str(),
        [k](py::handle x, py::handle gamma, py::handle beta, float epsilon) {
          return ln_forward_py(k, x, gamma, beta, epsilon);
        },
        py::arg("x"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
        ("(y, mean, inv_std): each row of x (M, F) normalised over F (biased variance); "
         "gamma, beta (F,) or None; mean, inv_std (M,)." + note).c_str());
  m.def(("layer_norm_backward" + suffix).c_str(),
        [k](py::handle dy, py::handle x, py::handle mean, py::handle inv_std, py::handle gamma) {
          return ln_backward_py(k, dy, x, mean, inv_std, gamma);
        },
        py::arg("dy"), py::arg("x"), py::arg("mean"), py::arg("inv_std"), py::arg("gamma"),
        ("(dx, dgamma, dbeta) of layer_norm_forward; dgamma, dbeta (F,)." + note).c_str());
}

}  // namespace

void register_norm(py::module_& m) {
  def_norm(m, kFast, "", "");
  def_norm(m, kRef, "_ref", " The plain oracle (csrc/ref/).");
}

}  // namespace pykern::bind
