// Bindings of the sequence and training kernels on device arrays:
//   rnn_forward / rnn_backward   the kernel table's rnn / rnn_backward (same
//                                arguments, same tuples; cuda/rnn.h)
//   embedding_forward / embedding_backward   (cuda/embedding.h)
//   OptimPlan                    pykern._cpu.OptimPlan's interface (cuda/optim.h)
// Everything is checked before the device is touched: a non-Array or a wrong
// dtype is a TypeError, a wrong shape or size, or operands on two devices, a
// ValueError naming the op and the shapes. Launches run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <climits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/gemm_call.h"
#include "bindings/optim_call.h"
#include "cuda/array.h"
#include "cuda/bind_util.h"
#include "cuda/embedding.h"
#include "cuda/optim.h"
#include "cuda/rnn.h"

namespace pykern::cuda {
namespace {

// Argument checks for one call: every Array it hands out is on one device.
class Operands {
 public:
  explicit Operands(std::string op) : op_(std::move(op)) {}
  // Operands that must be on `device`, where `first` lives.
  Operands(std::string op, int device, std::string first)
      : op_(std::move(op)), device_(device), first_(std::move(first)) {}
  const std::string& op() const { return op_; }
  [[noreturn]] void fail(const std::string& msg) const { value_error(op_.c_str(), msg); }
  int device() const { return device_; }

  // An Array (TypeError otherwise) on the operands' device.
  const Array& array(py::handle h, const char* name) {
    const Array& a = arg_array(h, op_.c_str(), name);
    if (device_ < 0) {
      device_ = a.device();
      first_ = name;
    } else if (a.device() != device_) {
      fail(std::string(name) + " is on cuda:" + std::to_string(a.device()) + " but " + first_ +
           " is on cuda:" + std::to_string(device_));
    }
    return a;
  }

  const Array& f32(py::handle h, const char* name) {
    const Array& a = array(h, name);
    if (a.dtype() != DType::f32)
      type_error(op_.c_str(), std::string(name) + " must be float32, got " +
                                  dtype_name(a.dtype()) + " of shape " + shape_str(a.shape()));
    return a;
  }

  // f32 of exactly `shape` ("what" spells the expected shape symbolically).
  const float* exact(py::handle h, const char* name, const std::vector<int64_t>& shape,
                     const char* what) {
    const Array& a = f32(h, name);
    if (a.shape() != shape)
      fail(std::string(name) + " must have shape " + what + " = " + shape_str(shape) + ", got " +
           shape_str(a.shape()));
    return a.data<float>();
  }

  const float* optional(py::handle h, const char* name, const std::vector<int64_t>& shape,
                        const char* what) {
    return h.is_none() ? nullptr : exact(h, name, shape, what);
  }

 private:
  std::string op_;
  int device_ = -1;
  std::string first_;
};

// The kernels index GEMM operands with ints (cuda/gemm.h).
void check_gemm_size(const Operands& o, int64_t v, const char* what) {
  if (v > INT_MAX - 128)
    o.fail(std::string(what) + " = " + std::to_string(v) + " is too large for the CUDA kernels "
           "(at most 2^31 - 129)");
}

// ---- recurrent ----------------------------------------------------------

Cell cell_arg(const std::string& name) {
  if (name == "lstm") return Cell::lstm;
  if (name == "gru") return Cell::gru;
  if (name == "simple_rnn") return Cell::simple;
  throw std::invalid_argument("rnn (cuda): cell must be 'lstm', 'gru' or 'simple_rnn', got '" +
                              name + "'");
}

struct Options {
  bool reverse, reset_after, zero_output_for_mask;
  std::string activation, recurrent_activation;
};

// The step mask (B,T): a bool/uint8 Array used as it is, or an int32/int64/
// float32/float64 one whose nonzero entries are the used steps (converted on
// the device once the checks have passed).
struct Mask {
  const Array* given = nullptr;
  Array bytes;  // the converted copy
  const uint8_t* ptr = nullptr;
};

void mask_arg(Operands& o, py::handle h, int64_t B, int64_t T, Mask& m) {
  if (h.is_none()) return;
  const Array& a = o.array(h, "mask");
  if (a.shape() != std::vector<int64_t>{B, T})
    o.fail("mask must have shape (B, T) = " + shape_str({B, T}) + ", got " +
           shape_str(a.shape()));
  m.given = &a;
}

// Sets m.ptr (after all checks, on the current device).
void mask_bytes(Mask& m) {
  if (m.given == nullptr) return;
  const DType d = m.given->dtype();
  if (d == DType::b8 || d == DType::u8 || m.given->size() == 0) {
    m.ptr = m.given->data<uint8_t>();
    return;
  }
  m.bytes = Array(m.given->shape(), DType::u8, m.given->device());
  nonzero_bytes_device(m.given->raw(), static_cast<int>(dtype_size(d)),
                       d == DType::f32 || d == DType::f64, m.given->size(),
                       m.bytes.data<uint8_t>());
  m.ptr = m.bytes.data<uint8_t>();
}

// Shapes from x (B,T,I) and recurrent_kernel (U, G*U); checks the rest (cpu's
// bindings/register_rnn.cpp rules and messages).
RnnArgs rnn_args(Operands& o, Cell cell, const Options& opt, py::handle x, py::handle kernel,
                 py::handle recurrent, py::handle bias, py::handle h0, py::handle c0,
                 py::handle mask, Mask& m) {
  RnnArgs a;
  a.cell = cell;
  a.reset_after = opt.reset_after;
  a.reverse = opt.reverse;
  a.zero_output_for_mask = opt.zero_output_for_mask;
  a.act = bind::activation_arg(opt.activation, o.op().c_str(), false);
  if (cell != Cell::simple)
    a.rec_act = bind::activation_arg(opt.recurrent_activation, o.op().c_str(), false);
  const int G = cell_gates(cell);
  const Array& xa = o.f32(x, "x");
  if (xa.ndim() != 3) o.fail("x must be 3-D (B, T, I), got shape " + shape_str(xa.shape()));
  const Array& ra = o.f32(recurrent, "recurrent_kernel");
  if (ra.ndim() != 2 || ra.dim(1) != G * ra.dim(0))
    o.fail("recurrent_kernel must have shape (U, " + std::to_string(G) + "U), got " +
           shape_str(ra.shape()));
  a.B = xa.dim(0);
  a.T = xa.dim(1);
  a.I = xa.dim(2);
  a.U = ra.dim(0);
  const int64_t GU = G * a.U;
  check_gemm_size(o, a.B * a.T, "B * T");
  check_gemm_size(o, a.I, "I");
  check_gemm_size(o, GU, "the gate width G * U");
  a.x = xa.data<float>();
  a.recurrent = ra.data<float>();
  const std::string gu = "(" + std::string(G == 1 ? "U" : std::to_string(G) + "U") + ",)";
  a.kernel =
      o.exact(kernel, "kernel", {a.I, GU}, G == 1 ? "(I, U)" : G == 3 ? "(I, 3U)" : "(I, 4U)");
  if (cell == Cell::gru && opt.reset_after)
    a.bias = o.optional(bias, "bias", {2, GU}, "(2, 3U) with reset_after");
  else
    a.bias = o.optional(bias, "bias", {GU}, gu.c_str());
  a.h0 = o.optional(h0, "h0", {a.B, a.U}, "(B, U)");
  if (cell == Cell::lstm) a.c0 = o.optional(c0, "c0", {a.B, a.U}, "(B, U)");
  mask_arg(o, mask, a.B, a.T, m);
  return a;
}

Array f32_array(std::vector<int64_t> shape, int device) {
  return Array(std::move(shape), DType::f32, device);
}

// (y (B,T,U), hT, cT (LSTM) or None, workspace or None)
py::tuple rnn_forward_py(const std::string& cell_name, py::handle x, py::handle kernel,
                         py::handle recurrent, py::handle bias, py::handle h0, py::handle c0,
                         py::handle mask, bool reverse, const std::string& activation,
                         const std::string& recurrent_activation, bool reset_after,
                         bool zero_output_for_mask, bool save_workspace) {
  const Cell cell = cell_arg(cell_name);
  Operands o(cell_name + "_forward (cuda)");
  Mask m;
  RnnArgs a = rnn_args(o, cell, {reverse, reset_after, zero_output_for_mask, activation,
                                 recurrent_activation},
                       x, kernel, recurrent, bias, h0, c0, mask, m);
  const int dev = o.device();
  DeviceGuard guard(dev);
  mask_bytes(m);
  a.mask = m.ptr;
  Array y = f32_array({a.B, a.T, a.U}, dev), h = f32_array({a.B, a.U}, dev);
  RnnForward f;
  f.y = y.data<float>();
  f.hT = h.data<float>();
  py::object c = py::none(), ws = py::none();
  Array ca, wa;
  if (cell == Cell::lstm) {
    ca = f32_array({a.B, a.U}, dev);
    f.cT = ca.data<float>();
  }
  if (save_workspace) {
    wa = f32_array({rnn_workspace_floats(a)}, dev);
    f.ws = wa.data<float>();
  }
  {
    py::gil_scoped_release nogil;
    rnn_forward_device(a, f);
  }
  if (cell == Cell::lstm) c = py::cast(ca);
  if (save_workspace) ws = py::cast(wa);
  return py::make_tuple(py::cast(y), py::cast(h), c, ws);
}

// (dx, dkernel, drecurrent_kernel, dbias or None, dh0, dc0 (LSTM) or None)
py::tuple rnn_backward_py(const std::string& cell_name, py::handle dy, py::handle dh,
                          py::handle dc, py::handle x, py::handle kernel, py::handle recurrent,
                          py::handle bias, py::handle h0, py::handle c0, py::handle mask,
                          py::handle workspace, bool reverse, const std::string& activation,
                          const std::string& recurrent_activation, bool reset_after,
                          bool zero_output_for_mask) {
  const Cell cell = cell_arg(cell_name);
  Operands o(cell_name + "_backward (cuda)");
  Mask m;
  RnnArgs a = rnn_args(o, cell, {reverse, reset_after, zero_output_for_mask, activation,
                                 recurrent_activation},
                       x, kernel, recurrent, bias, h0, c0, mask, m);
  const int64_t GU = cell_gates(cell) * a.U;
  RnnBackward g;
  g.dy = o.optional(dy, "d_outputs", {a.B, a.T, a.U}, "(B, T, U)");
  g.dhT = o.optional(dh, "d_h", {a.B, a.U}, "(B, U)");
  if (cell == Cell::lstm) g.dcT = o.optional(dc, "d_c", {a.B, a.U}, "(B, U)");
  if (!workspace.is_none()) {
    const int64_t n = rnn_workspace_floats(a);
    const Array& w = o.f32(workspace, "workspace");
    if (w.shape() != std::vector<int64_t>{n})
      o.fail("workspace must have shape (" + std::to_string(n) + ",) for x " +
             shape_str({a.B, a.T, a.I}) + " and " + std::to_string(a.U) + " units (" +
             cell_name + "'s forward), got " + shape_str(w.shape()));
    g.ws = w.data<float>();
  }
  const int dev = o.device();
  DeviceGuard guard(dev);
  mask_bytes(m);
  a.mask = m.ptr;
  Array dx = f32_array({a.B, a.T, a.I}, dev), dW = f32_array({a.I, GU}, dev);
  Array dR = f32_array({a.U, GU}, dev), dh0 = f32_array({a.B, a.U}, dev);
  Array db, dc0;
  if (a.bias) {
    db = cell == Cell::gru && reset_after ? f32_array({2, GU}, dev) : f32_array({GU}, dev);
    g.dbias = db.data<float>();
  }
  if (cell == Cell::lstm) {
    dc0 = f32_array({a.B, a.U}, dev);
    g.dc0 = dc0.data<float>();
  }
  g.dx = dx.data<float>();
  g.dkernel = dW.data<float>();
  g.drecurrent = dR.data<float>();
  g.dh0 = dh0.data<float>();
  {
    py::gil_scoped_release nogil;
    rnn_backward_device(a, g);
  }
  return py::make_tuple(py::cast(dx), py::cast(dW), py::cast(dR),
                        a.bias ? py::cast(db) : py::none(), py::cast(dh0),
                        cell == Cell::lstm ? py::cast(dc0) : py::none());
}

// ---- embedding ----------------------------------------------------------

// ids: an int32 or int64 Array of any shape.
const Array& ids_arg(Operands& o, py::handle h, EmbeddingArgs& a) {
  const Array& ids = o.array(h, "ids");
  if (ids.dtype() != DType::i32 && ids.dtype() != DType::i64)
    type_error(o.op().c_str(), std::string("ids must be int32 or int64, got ") +
                                   dtype_name(ids.dtype()) + " of shape " + shape_str(ids.shape()));
  a.ids64 = ids.dtype() == DType::i64;
  a.N = ids.size();
  a.ids = ids.raw();
  return ids;
}

Array embedding_forward_py(py::handle table, py::handle ids_obj) {
  Operands o("embedding_forward (cuda)");
  const Array& t = o.f32(table, "table");
  if (t.ndim() != 2) o.fail("table must be 2-D (V, D), got shape " + shape_str(t.shape()));
  EmbeddingArgs a;
  a.V = t.dim(0);
  a.D = t.dim(1);
  const Array& ids = ids_arg(o, ids_obj, a);
  std::vector<int64_t> out_shape = ids.shape();
  out_shape.push_back(a.D);
  DeviceGuard guard(o.device());
  Array out = f32_array(out_shape, o.device());
  py::gil_scoped_release nogil;
  embedding_forward_device(a, t.data<float>(), out.data<float>());
  return out;
}

Array embedding_backward_py(py::handle d_out, py::handle ids_obj, int64_t input_dim) {
  Operands o("embedding_backward (cuda)");
  const Array& g = o.f32(d_out, "d_out");
  EmbeddingArgs a;
  const Array& ids = ids_arg(o, ids_obj, a);
  std::vector<int64_t> want = ids.shape();
  if (g.ndim() != ids.ndim() + 1 ||
      std::vector<int64_t>(g.shape().begin(), g.shape().end() - 1) != want)
    o.fail("d_out must have shape ids.shape + (D,), got " + shape_str(g.shape()) +
           " for ids of shape " + shape_str(want));
  if (input_dim < 0) o.fail("input_dim must be >= 0, got " + std::to_string(input_dim));
  a.V = input_dim;
  a.D = g.dim(-1);
  DeviceGuard guard(o.device());
  Array out = f32_array({a.V, a.D}, o.device());
  py::gil_scoped_release nogil;
  embedding_backward_device(a, g.data<float>(), out.data<float>());
  return out;
}

// ---- optimizer ----------------------------------------------------------

constexpr const char* kOptimOp = "optim_step (cuda)";

// The parameters, slots and hyper-parameters of one optimizer on one device
// (checked once, when it is made); step(grads, ...) checks the gradients and
// launches the update. The Arrays stay referenced while the plan points into them.
class OptimPlan {
 public:
  OptimPlan(const std::string& kind, py::list params, py::list slots, py::object decay,
            const OptimArgs& hyper) {
    Operands o(kOptimOp);
    const int64_t n = static_cast<int64_t>(params.size());
    std::vector<float*> param;
    for (int64_t i = 0; i < n; ++i) {
      const std::string what = "params[" + std::to_string(i) + "]";
      const Array& p = o.f32(params[i], what.c_str());
      shapes_.push_back(p.shape());
      size_.push_back(p.size());
      param.push_back(p.data<float>());
      keep_.push_back(p);
    }
    const int need = optim_slot_count(hyper);
    if (static_cast<int>(slots.size()) != need)
      o.fail(kind + " with these settings needs " + std::to_string(need) +
             " state slots per tensor, got " + std::to_string(slots.size()));
    std::vector<float*> slot[3];
    for (int k = 0; k < need; ++k) {
      py::list row = slots[k].cast<py::list>();
      if (static_cast<int64_t>(row.size()) != n)
        o.fail("slot " + std::to_string(k) + " has " + std::to_string(row.size()) +
               " tensors for " + std::to_string(n) + " parameters");
      for (int64_t i = 0; i < n; ++i) {
        const std::string what = "slots[" + std::to_string(k) + "][" + std::to_string(i) + "]";
        const Array& s = o.f32(row[i], what.c_str());
        if (s.size() != size_[i])
          o.fail(what + " has shape " + shape_str(s.shape()) + " but params[" +
                 std::to_string(i) + "] has shape " + shape_str(shapes_[i]));
        slot[k].push_back(s.data<float>());
        keep_.push_back(s);
      }
    }
    std::vector<float> dec;
    if (!decay.is_none()) {
      auto d = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(decay);
      if (!d || d.ndim() != 1 || d.shape(0) != n)
        o.fail("decay must hold one float per parameter (" + std::to_string(n) + ")");
      dec.assign(d.data(), d.data() + n);
    }
    device_ = o.device();
    if (n == 0) return;  // nothing to update: no device is touched
    DeviceGuard guard(device_);
    plan_ = std::make_unique<OptimDevicePlan>(device_, hyper, size_, std::move(param), slot,
                                              std::move(dec));
  }

  // One update of every parameter; `lr` scales the weight decay factors too.
  void step(py::list grads, float lr, float c1, float c2, float c3) {
    const int64_t n = static_cast<int64_t>(size_.size());
    if (static_cast<int64_t>(grads.size()) != n)
      value_error(kOptimOp, "got " + std::to_string(grads.size()) + " gradients for " +
                                std::to_string(n) + " parameters");
    if (n == 0) return;
    grad_.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      // This runs every step: messages are built only when a check fails.
      py::handle h = grads[i];
      if (py::isinstance<Array>(h)) {
        const Array& g = h.cast<const Array&>();
        if (g.dtype() == DType::f32 && g.size() == size_[i] && g.device() == device_) {
          grad_[i] = g.data<float>();
          continue;
        }
      }
      Operands o(kOptimOp, device_, "params[0]");
      const std::string what = "grads[" + std::to_string(i) + "]";
      const Array& g = o.f32(h, what.c_str());
      o.fail(what + " has shape " + shape_str(g.shape()) + " but params[" + std::to_string(i) +
             "] has shape " + shape_str(shapes_[i]));
    }
    DeviceGuard guard(device_);
    py::gil_scoped_release nogil;
    plan_->step(grad_, lr, c1, c2, c3);
  }

  int64_t count() const { return static_cast<int64_t>(size_.size()); }

 private:
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<int64_t> size_;
  std::vector<Array> keep_;  // params then slots: their buffers stay alive
  std::vector<const float*> grad_;
  int device_ = 0;
  std::unique_ptr<OptimDevicePlan> plan_;
};

}  // namespace

void register_seq(py::module_& m) {
  const py::none none;
  m.def("rnn_forward", &rnn_forward_py, py::arg("cell"), py::arg("x"), py::arg("kernel"),
        py::arg("recurrent_kernel"), py::arg("bias") = none, py::arg("h0") = none,
        py::arg("c0") = none, py::arg("mask") = none, py::arg("reverse") = false,
        py::arg("activation") = "tanh", py::arg("recurrent_activation") = "sigmoid",
        py::arg("reset_after") = true, py::arg("zero_output_for_mask") = false,
        py::arg("save_workspace") = true,
        "A whole 'lstm' | 'gru' | 'simple_rnn' sequence on the GPU (pykern/rnn.h) -> (y (B,T,U) "
        "in processing order, h (B,U), c (B,U) for LSTM else None, workspace (the CPU's layout) "
        "or None). mask (B,T): bool/uint8, or int/float with nonzero = step used.");
  m.def("rnn_backward", &rnn_backward_py, py::arg("cell"), py::arg("d_outputs"),
        py::arg("d_h"), py::arg("d_c"), py::arg("x"), py::arg("kernel"),
        py::arg("recurrent_kernel"), py::arg("bias") = none, py::arg("h0") = none,
        py::arg("c0") = none, py::arg("mask") = none, py::arg("workspace") = none,
        py::arg("reverse") = false, py::arg("activation") = "tanh",
        py::arg("recurrent_activation") = "sigmoid", py::arg("reset_after") = true,
        py::arg("zero_output_for_mask") = false,
        "Gradients of rnn_forward -> (dx, dkernel, drecurrent_kernel, dbias or None, dh0, dc0 "
        "for LSTM else None). Without the forward's workspace the forward is recomputed.");
  m.def("embedding_forward", &embedding_forward_py, py::arg("table"), py::arg("ids"),
        "table (V, D) float32 rows gathered at ids (an int32/int64 Array of any shape) -> "
        "ids.shape + (D,). An id outside [0, V) is a ValueError naming it (checked on the "
        "device; the call waits for the device once to read the check's result).");
  m.def("embedding_backward", &embedding_backward_py, py::arg("d_out"), py::arg("ids"),
        py::arg("input_dim"),
        "d_table (input_dim, D): the rows of d_out (ids.shape + (D,)) summed per id in id "
        "order (bitwise pykern._cpu's result; no atomics). Ids are checked as in the forward.");
  py::class_<OptimPlan> cls(m, "OptimPlan",
                            "pykern._cpu.OptimPlan on device arrays: step() updates every "
                            "parameter in one kernel launch (csrc/cuda/optim.cu).");
  bind::def_optim_plan_init(
      cls, kOptimOp,
      [](const std::string& kind, py::list params, py::list slots, py::object decay,
         const OptimArgs& a) { return std::make_unique<OptimPlan>(kind, params, slots, decay, a); },
      "params: float32 Arrays on one device, updated in place; slots: one list of Arrays per "
      "state slot (sizes as params); decay: per-tensor weight decay (host floats, None = off).");
  cls.def("step", &OptimPlan::step, py::arg("grads"), py::arg("lr"), py::arg("c1") = 0.f,
          py::arg("c2") = 0.f, py::arg("c3") = 0.f,
          "Applies one update with these gradients (float32 Arrays, read only) and learning "
          "rate; c1..c3 are the step-dependent scalars of pykern/optim.h.")
      .def_property_readonly("count", &OptimPlan::count);
}

}  // namespace pykern::cuda
