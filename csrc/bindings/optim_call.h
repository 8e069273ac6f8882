// The OptimPlan constructor shared by pykern._cpu and pykern._cuda: one
// signature, (kind, params, slots, decay=None, *, clipnorm, global_clipnorm,
// clipvalue, momentum, rho, beta1, beta2, epsilon, nesterov, centered,
// amsgrad), and one parser of the optimizer kinds. Header-only, so each module
// includes it without another source file.
#pragma once
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "pykern/optim.h"

namespace pykern::bind {

// "sgd", "rmsprop", ... -> Optim; std::invalid_argument (ValueError) naming `op` otherwise.
inline Optim optim_kind_arg(const std::string& name, const char* op) {
  static const std::pair<const char*, Optim> kinds[] = {
      {"sgd", Optim::sgd},         {"rmsprop", Optim::rmsprop}, {"adam", Optim::adam},
      {"adagrad", Optim::adagrad}, {"adadelta", Optim::adadelta}, {"adamax", Optim::adamax},
      {"nadam", Optim::nadam}};
  for (const auto& k : kinds)
    if (name == k.first) return k.second;
  throw std::invalid_argument(std::string(op) + ": unknown optimizer kind '" + name +
                              "' (expected sgd, rmsprop, adam, adagrad, adadelta, adamax or "
                              "nadam)");
}

// Defines cls.__init__: make(kind, params, slots, decay, hyper) returns the
// plan (a std::unique_ptr<Plan>), hyper.kind already parsed.
template <class Plan, class Make>
void def_optim_plan_init(pybind11::class_<Plan>& cls, const char* op, Make make,
                         const char* doc) {
  namespace py = pybind11;
  cls.def(py::init([op, make](const std::string& kind, py::list params, py::list slots,
                              py::object decay, float clipnorm, float global_clipnorm,
                              float clipvalue, float momentum, float rho, float beta1,
                              float beta2, float epsilon, bool nesterov, bool centered,
                              bool amsgrad) {
            OptimArgs a;
            a.kind = optim_kind_arg(kind, op);
            a.clipnorm = clipnorm;
            a.global_clipnorm = global_clipnorm;
            a.clipvalue = clipvalue;
            a.momentum = momentum;
            a.rho = rho;
            a.beta1 = beta1;
            a.beta2 = beta2;
            a.epsilon = epsilon;
            a.nesterov = nesterov;
            a.centered = centered;
            a.amsgrad = amsgrad;
            return make(kind, params, slots, decay, a);
          }),
          py::arg("kind"), py::arg("params"), py::arg("slots"), py::arg("decay") = py::none(),
          py::kw_only(), py::arg("clipnorm") = 0.f, py::arg("global_clipnorm") = 0.f,
          py::arg("clipvalue") = 0.f, py::arg("momentum") = 0.f, py::arg("rho") = 0.9f,
          py::arg("beta1") = 0.9f, py::arg("beta2") = 0.999f, py::arg("epsilon") = 1e-7f,
          py::arg("nesterov") = false, py::arg("centered") = false, py::arg("amsgrad") = false,
          doc);
}

}  // namespace pykern::bind
