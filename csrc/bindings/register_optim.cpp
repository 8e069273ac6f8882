// Binding of the multi-tensor optimizer step: OptimPlan holds the parameters,
// state slots and hyper-parameters of one optimizer (checked once, when it is
// made); step(grads, ...) checks the gradient list and runs one native update of
// every tensor with the GIL released.
#include <memory>
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "bindings/optim_call.h"
#include "pykern/optim.h"

namespace pykern::bind {
namespace {

constexpr const char* kOp = "optim_step";

// A writable (or read-only when !write), C-contiguous float32 ndarray.
py::array float_buffer(py::handle obj, bool write, const std::string& what) {
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(kOp) + ": " + what + " must be a numpy.ndarray, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  py::array a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().kind() != 'f' || a.itemsize() != 4)
    throw py::type_error(std::string(kOp) + ": " + what + " must be float32, got " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    fail(kOp, what + " of shape " + shape_str(shape_of(a)) + " must be C-contiguous");
  if (write && !a.writeable()) fail(kOp, what + " is read-only");
  return a;
}

class OptimPlan {
 public:
  OptimPlan(const std::string& kind, py::list params, py::list slots, py::object decay,
            const OptimArgs& hyper)
      : args_(hyper) {
    const int64_t n = static_cast<int64_t>(params.size());
    for (int64_t i = 0; i < n; ++i) {
      py::array p = float_buffer(params[i], true, "params[" + std::to_string(i) + "]");
      shapes_.push_back(shape_of(p));
      size_.push_back(p.size());
      param_.push_back(static_cast<float*>(p.mutable_data()));
      keep_.push_back(p);
    }
    const int need = optim_slot_count(args_);
    if (static_cast<int>(slots.size()) != need)
      fail(kOp, kind + " with these settings needs " + std::to_string(need) +
                    " state slots per tensor, got " + std::to_string(slots.size()));
    for (int k = 0; k < need; ++k) {
      py::list row = slots[k].cast<py::list>();
      if (static_cast<int64_t>(row.size()) != n)
        fail(kOp, "slot " + std::to_string(k) + " has " + std::to_string(row.size()) +
                      " tensors for " + std::to_string(n) + " parameters");
      for (int64_t i = 0; i < n; ++i) {
        const std::string what = "slots[" + std::to_string(k) + "][" + std::to_string(i) + "]";
        py::array s = float_buffer(row[i], true, what);
        if (s.size() != size_[i])
          fail(kOp, what + " has shape " + shape_str(shape_of(s)) + " but params[" +
                        std::to_string(i) + "] has shape " + shape_str(shapes_[i]));
        slot_[k].push_back(static_cast<float*>(s.mutable_data()));
        keep_.push_back(s);
      }
    }
    if (!decay.is_none()) {
      py::array d = float_buffer(decay, false, "decay");
      if (d.size() != n)
        fail(kOp, "decay has " + std::to_string(d.size()) + " entries for " +
                      std::to_string(n) + " parameters");
      const float* dp = static_cast<const float*>(d.data());
      decay_.assign(dp, dp + n);
    }
  }

  // One update of every parameter; `lr` scales the weight decay factors too.
  // The per-gradient checks build no strings unless one fails (this runs every step).
  void step(py::list grads, float lr, float c1, float c2, float c3) {
    const int64_t n = static_cast<int64_t>(size_.size());
    if (static_cast<int64_t>(grads.size()) != n)
      fail(kOp, "got " + std::to_string(grads.size()) + " gradients for " + std::to_string(n) +
                    " parameters");
    grad_.resize(n);
    auto& api = py::detail::npy_api::get();
    for (int64_t i = 0; i < n; ++i) {
      PyObject* h = PyList_GET_ITEM(grads.ptr(), i);
      bool ok = api.PyArray_Check_(h);
      if (ok) {
        auto* a = py::detail::array_proxy(h);
        auto* d = py::detail::array_descriptor_proxy(a->descr);
        int64_t count = 1;
        for (int k = 0; k < a->nd; ++k) count *= a->dimensions[k];
        ok = d->type_num == py::detail::npy_api::NPY_FLOAT_ && d->byteorder != '>' &&
             (a->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) && count == size_[i];
        if (ok) grad_[i] = reinterpret_cast<const float*>(a->data);
      }
      if (!ok) {
        const std::string what = "grads[" + std::to_string(i) + "]";
        py::array g = float_buffer(h, false, what);
        fail(kOp, what + " has shape " + shape_str(shape_of(g)) + " but params[" +
                      std::to_string(i) + "] has shape " + shape_str(shapes_[i]));
      }
    }
    OptimArgs a = args_;
    a.lr = lr;
    a.c1 = c1;
    a.c2 = c2;
    a.c3 = c3;
    OptimTensors t;
    t.count = n;
    t.size = size_.data();
    t.param = param_.data();
    t.grad = grad_.data();
    for (int k = 0; k < 3; ++k) t.slot[k] = slot_[k].empty() ? nullptr : slot_[k].data();
    if (!decay_.empty()) t.decay = decay_.data();
    py::gil_scoped_release nogil;
    optim_step(t, a);
  }

  int64_t count() const { return static_cast<int64_t>(size_.size()); }

 private:
  OptimArgs args_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<int64_t> size_;
  std::vector<float*> param_;
  std::vector<const float*> grad_;
  std::vector<float*> slot_[3];
  std::vector<float> decay_;
  std::vector<py::object> keep_;  // the arrays stay alive while the plan points into them
};

}  // namespace

void register_optim(py::module_& m) {
  py::class_<OptimPlan> cls(m, "OptimPlan",
                            "One optimizer's parameters, state slots and hyper-parameters; "
                            "step() updates all parameters in one native call "
                            "(csrc/cpu/optim.cpp).");
  def_optim_plan_init(
      cls, kOp,
      [](const std::string& kind, py::list params, py::list slots, py::object decay,
         const OptimArgs& a) { return std::make_unique<OptimPlan>(kind, params, slots, decay, a); },
      "params: float32 C-contiguous arrays updated in place; slots: one list of arrays "
      "per state slot (sizes as params); decay: per-tensor weight decay (None = off).");
  cls.def("step", &OptimPlan::step, py::arg("grads"), py::arg("lr"), py::arg("c1") = 0.f,
          py::arg("c2") = 0.f, py::arg("c3") = 0.f,
          "Applies one update with these gradients (read only) and learning rate; c1..c3 "
          "are the step-dependent scalars of pykern/optim.h.")
      .def_property_readonly("count", &OptimPlan::count);
}

}  // namespace pykern::bind
