// Bindings of the recurrent family (pykern/rnn.h): {lstm,gru,simple_rnn}_{forward,backward}
// and their _ref twins. Arrays are taken as they are: float32, C-contiguous, of
// the exact shapes (anything else is a ValueError naming the op, the argument
// and both shapes); results are new arrays.
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "bindings/gemm_call.h"
#include "pykern/rnn.h"

namespace pykern::bind {
namespace {

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

const char* cell_name(Cell c) {
  switch (c) {
    case Cell::simple: return "simple_rnn";
    case Cell::lstm: return "lstm";
    default: return "gru";
  }
}

// Argument checks for one call: arrays stay referenced in `keep` while in use.
class Checker {
 public:
  explicit Checker(std::string op) : op_(std::move(op)) {}
  const char* op() const { return op_.c_str(); }
  [[noreturn]] void fail(const std::string& msg) const { bind::fail(op(), msg); }

  // A float32 C-contiguous ndarray.
  py::array f32(py::handle obj, const char* name) {
    if (!py::isinstance<py::array>(obj))
      fail(std::string(name) + " must be a numpy.ndarray, got " +
           std::string(py::str(py::type::of(obj).attr("__name__"))));
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().is(py::dtype::of<float>()))
      fail(std::string(name) + " must be float32, got " + std::string(py::str(a.dtype())) +
           " of shape " + shape_str(shape_of(a)));
    if (!(a.flags() & py::array::c_style))
      fail(std::string(name) + " of shape " + shape_str(shape_of(a)) + " must be C-contiguous");
    keep_.push_back(a);
    return a;
  }

  // f32 of exactly `shape` ("what" spells the expected shape symbolically).
  const float* exact(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                     const char* what) {
    py::array a = f32(obj, name);
    if (shape_of(a) != shape)
      fail(std::string(name) + " must have shape " + what + " = " + shape_str(shape) + ", got " +
           shape_str(shape_of(a)));
    return static_cast<const float*>(a.data());
  }

  const float* optional(py::handle obj, const char* name, const std::vector<int64_t>& shape,
                        const char* what) {
    return obj.is_none() ? nullptr : exact(obj, name, shape, what);
  }

  // mask (B,T): bool or integer, nonzero = step used; converted to bytes if wider.
  const uint8_t* mask(py::handle obj, int64_t B, int64_t T) {
    if (obj.is_none()) return nullptr;
    if (!py::isinstance<py::array>(obj)) fail("mask must be a numpy.ndarray of bool");
    py::array m = py::reinterpret_borrow<py::array>(obj);
    const char kind = m.dtype().kind();
    if (kind != 'b' && kind != 'i' && kind != 'u')
      fail("mask must be bool or integer, got " + std::string(py::str(m.dtype())));
    if (shape_of(m) != std::vector<int64_t>{B, T})
      fail("mask must have shape (B, T) = " + shape_str({B, T}) + ", got " +
           shape_str(shape_of(m)));
    if (m.itemsize() != 1 || !(m.flags() & py::array::c_style))
      m = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(
          m.attr("astype")("bool"));
    keep_.push_back(m);
    return static_cast<const uint8_t*>(m.data());
  }

 private:
  std::string op_;
  std::vector<py::object> keep_;
};

float* data_of(py::array& a) { return static_cast<float*>(a.mutable_data()); }

struct CellOptions {
  bool reset_after = true, reverse = false, zero_output_for_mask = false;
  std::string activation = "tanh", recurrent_activation = "sigmoid";
};

// Shapes from x (B,T,I) and recurrent_kernel (U, G*U); checks the rest.
RnnArgs parse_args(Checker& c, Cell cell, const CellOptions& o, py::handle x, py::handle kernel,
                   py::handle recurrent, py::handle bias, py::handle h0, py::handle c0,
                   py::handle mask) {
  RnnArgs a;
  a.cell = cell;
  a.reset_after = o.reset_after;
  a.reverse = o.reverse;
  a.zero_output_for_mask = o.zero_output_for_mask;
  a.act = activation_arg(o.activation, c.op(), false);
  if (cell != Cell::simple) a.rec_act = activation_arg(o.recurrent_activation, c.op(), false);
  const int G = cell_gates(cell);
  py::array xa = c.f32(x, "x");
  if (xa.ndim() != 3) c.fail("x must be 3-D (B, T, I), got shape " + shape_str(shape_of(xa)));
  py::array ra = c.f32(recurrent, "recurrent_kernel");
  if (ra.ndim() != 2 || ra.shape(1) != G * ra.shape(0))
    c.fail("recurrent_kernel must have shape (U, " + std::to_string(G) + "U), got " +
           shape_str(shape_of(ra)));
  a.B = xa.shape(0);
  a.T = xa.shape(1);
  a.I = xa.shape(2);
  a.U = ra.shape(0);
  const int64_t GU = G * a.U;
  a.x = static_cast<const float*>(xa.data());
  a.recurrent = static_cast<const float*>(ra.data());
  const std::string gu = "(" + std::string(G == 1 ? "U" : std::to_string(G) + "U") + ",)";
  a.kernel = c.exact(kernel, "kernel", {a.I, GU},
                     G == 1 ? "(I, U)" : G == 3 ? "(I, 3U)" : "(I, 4U)");
  if (cell == Cell::gru && o.reset_after)
    a.bias = c.optional(bias, "bias", {2, GU}, "(2, 3U) with reset_after");
  else
    a.bias = c.optional(bias, "bias", {GU}, gu.c_str());
  a.h0 = c.optional(h0, "h0", {a.B, a.U}, "(B, U)");
  if (cell == Cell::lstm) a.c0 = c.optional(c0, "c0", {a.B, a.U}, "(B, U)");
  a.mask = c.mask(mask, a.B, a.T);
  return a;
}

using Runner = void (*)(const RnnArgs&, const RnnForward&);
using GradRunner = void (*)(const RnnArgs&, const RnnBackward&);

// (outputs, h, [c,] workspace or None)
py::tuple forward_py(const char* op, Runner run, bool has_workspace, Cell cell,
                     const CellOptions& o, py::handle x, py::handle kernel, py::handle recurrent,
                     py::handle bias, py::handle h0, py::handle c0, py::handle mask,
                     bool save_workspace) {
  Checker c(op);
  const RnnArgs a = parse_args(c, cell, o, x, kernel, recurrent, bias, h0, c0, mask);
  py::array y = new_matrix({a.B, a.T, a.U}), h = new_matrix({a.B, a.U});
  py::array cT = new_matrix({a.B, a.U});
  py::object ws = py::none();
  RnnForward f;
  f.y = data_of(y);
  f.hT = data_of(h);
  f.cT = data_of(cT);
  if (has_workspace && save_workspace) {
    py::array w = new_matrix({rnn_workspace_floats(a)});
    f.ws = data_of(w);
    ws = w;
  }
  {
    py::gil_scoped_release nogil;
    run(a, f);
  }
  if (cell == Cell::lstm) return py::make_tuple(y, h, cT, ws);
  return py::make_tuple(y, h, ws);
}

// (dx, dkernel, drecurrent, dbias or None, dh0[, dc0])
py::tuple backward_py(const char* op, GradRunner run, Cell cell, const CellOptions& o,
                      py::handle dy, py::handle dh, py::handle dc, py::handle x,
                      py::handle kernel, py::handle recurrent, py::handle bias, py::handle h0,
                      py::handle c0, py::handle mask, py::handle workspace) {
  Checker c(op);
  const RnnArgs a = parse_args(c, cell, o, x, kernel, recurrent, bias, h0, c0, mask);
  const int64_t GU = cell_gates(cell) * a.U;
  RnnBackward g;
  g.dy = c.optional(dy, "d_outputs", {a.B, a.T, a.U}, "(B, T, U)");
  g.dhT = c.optional(dh, "d_h", {a.B, a.U}, "(B, U)");
  if (cell == Cell::lstm) g.dcT = c.optional(dc, "d_c", {a.B, a.U}, "(B, U)");
  if (!workspace.is_none()) {
    const int64_t n = rnn_workspace_floats(a);
    py::array w = c.f32(workspace, "workspace");
    if (w.ndim() != 1 || w.shape(0) != n)
      c.fail("workspace must have shape (" + std::to_string(n) + ",) for x " +
             shape_str({a.B, a.T, a.I}) + " and " + std::to_string(a.U) + " units (" +
             cell_name(cell) + "_forward's), got " + shape_str(shape_of(w)));
    g.ws = static_cast<const float*>(w.data());
  }
  py::array dx = new_matrix({a.B, a.T, a.I}), dW = new_matrix({a.I, GU});
  py::array dR = new_matrix({a.U, GU}), dh0 = new_matrix({a.B, a.U}), dc0 = new_matrix({a.B, a.U});
  py::object db = py::none();
  if (a.bias) {
    py::array b = cell == Cell::gru && a.reset_after ? new_matrix({2, GU}) : new_matrix({GU});
    g.dbias = data_of(b);
    db = b;
  }
  g.dx = data_of(dx);
  g.dkernel = data_of(dW);
  g.drecurrent = data_of(dR);
  g.dh0 = data_of(dh0);
  g.dc0 = data_of(dc0);
  {
    py::gil_scoped_release nogil;
    run(a, g);
  }
  if (cell == Cell::lstm) return py::make_tuple(dx, dW, dR, db, dh0, dc0);
  return py::make_tuple(dx, dW, dR, db, dh0);
}

CellOptions options(bool reverse, const std::string& activation,
                    const std::string& recurrent_activation, bool zero_output_for_mask,
                    bool reset_after = true) {
  CellOptions o;
  o.reverse = reverse;
  o.activation = activation;
  o.recurrent_activation = recurrent_activation;
  o.zero_output_for_mask = zero_output_for_mask;
  o.reset_after = reset_after;
  return o;
}

// lstm_forward{suffix}, lstm_backward{suffix}, the same for gru and simple_rnn.
// The names are static strings: pybind11 keeps the lambdas that point at them.
template <const char* LstmF, const char* LstmB, const char* GruF, const char* GruB,
          const char* SimpleF, const char* SimpleB>
void def_family(py::module_& m, Runner fwd, GradRunner bwd, bool has_workspace,
                const char* note) {
  const py::none none;
  const std::string fdoc = std::string("See pykern/rnn.h. ") + note;
  m.def(
      LstmF,
      [fwd, has_workspace](py::handle x, py::handle k, py::handle r, py::handle bias,
                           py::handle h0, py::handle c0, py::handle mask, bool reverse,
                           const std::string& act, const std::string& ract, bool zero_out,
                           bool save) {
        return forward_py(LstmF, fwd, has_workspace, Cell::lstm,
                          options(reverse, act, ract, zero_out), x, k, r, bias, h0, c0, mask,
                          save);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias") = none,
      py::arg("h0") = none, py::arg("c0") = none, py::arg("mask") = none, py::kw_only(),
      py::arg("reverse") = false, py::arg("activation") = "tanh",
      py::arg("recurrent_activation") = "sigmoid", py::arg("zero_output_for_mask") = false,
      py::arg("save_workspace") = true,
      ("LSTM over a whole sequence -> (outputs (B,T,U), h (B,U), c (B,U), workspace or None). " +
       fdoc).c_str());
  m.def(
      LstmB,
      [bwd](py::handle dy, py::handle dh, py::handle dc, py::handle x, py::handle k,
            py::handle r, py::handle bias, py::handle h0, py::handle c0, py::handle mask,
            py::handle ws, bool reverse, const std::string& act, const std::string& ract,
            bool zero_out) {
        return backward_py(LstmB, bwd, Cell::lstm, options(reverse, act, ract, zero_out), dy,
                           dh, dc, x, k, r, bias, h0, c0, mask, ws);
      },
      py::arg("d_outputs"), py::arg("d_h"), py::arg("d_c"), py::arg("x"), py::arg("kernel"),
      py::arg("recurrent_kernel"), py::arg("bias") = none, py::arg("h0") = none,
      py::arg("c0") = none, py::arg("mask") = none, py::arg("workspace") = none, py::kw_only(),
      py::arg("reverse") = false, py::arg("activation") = "tanh",
      py::arg("recurrent_activation") = "sigmoid", py::arg("zero_output_for_mask") = false,
      ("Gradients of lstm_forward -> (dx, dkernel, drecurrent_kernel, dbias or None, dh0, "
       "dc0). " + fdoc).c_str());
  m.def(
      GruF,
      [fwd, has_workspace](py::handle x, py::handle k, py::handle r, py::handle bias,
                           py::handle h0, py::handle mask, bool reset_after, bool reverse,
                           const std::string& act, const std::string& ract, bool zero_out,
                           bool save) {
        return forward_py(GruF, fwd, has_workspace, Cell::gru,
                          options(reverse, act, ract, zero_out, reset_after), x, k, r, bias,
                          h0, py::none(), mask, save);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias") = none,
      py::arg("h0") = none, py::arg("mask") = none, py::kw_only(),
      py::arg("reset_after") = true, py::arg("reverse") = false, py::arg("activation") = "tanh",
      py::arg("recurrent_activation") = "sigmoid", py::arg("zero_output_for_mask") = false,
      py::arg("save_workspace") = true,
      ("GRU over a whole sequence -> (outputs (B,T,U), h (B,U), workspace or None). " + fdoc)
          .c_str());
  m.def(
      GruB,
      [bwd](py::handle dy, py::handle dh, py::handle x, py::handle k, py::handle r,
            py::handle bias, py::handle h0, py::handle mask, py::handle ws, bool reset_after,
            bool reverse, const std::string& act, const std::string& ract, bool zero_out) {
        return backward_py(GruB, bwd, Cell::gru,
                           options(reverse, act, ract, zero_out, reset_after), dy, dh,
                           py::none(), x, k, r, bias, h0, py::none(), mask, ws);
      },
      py::arg("d_outputs"), py::arg("d_h"), py::arg("x"), py::arg("kernel"),
      py::arg("recurrent_kernel"), py::arg("bias") = none, py::arg("h0") = none,
      py::arg("mask") = none, py::arg("workspace") = none, py::kw_only(),
      py::arg("reset_after") = true, py::arg("reverse") = false, py::arg("activation") = "tanh",
      py::arg("recurrent_activation") = "sigmoid", py::arg("zero_output_for_mask") = false,
      ("Gradients of gru_forward -> (dx, dkernel, drecurrent_kernel, dbias or None, dh0). " +
       fdoc).c_str());
  m.def(
      SimpleF,
      [fwd, has_workspace](py::handle x, py::handle k, py::handle r, py::handle bias,
                           py::handle h0, py::handle mask, bool reverse,
                           const std::string& act, bool zero_out, bool save) {
        return forward_py(SimpleF, fwd, has_workspace, Cell::simple,
                          options(reverse, act, "sigmoid", zero_out), x, k, r, bias, h0,
                          py::none(), mask, save);
      },
      py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias") = none,
      py::arg("h0") = none, py::arg("mask") = none, py::kw_only(), py::arg("reverse") = false,
      py::arg("activation") = "tanh", py::arg("zero_output_for_mask") = false,
      py::arg("save_workspace") = true,
      ("SimpleRNN over a whole sequence -> (outputs (B,T,U), h (B,U), workspace or None). " +
       fdoc).c_str());
  m.def(
      SimpleB,
      [bwd](py::handle dy, py::handle dh, py::handle x, py::handle k, py::handle r,
            py::handle bias, py::handle h0, py::handle mask, py::handle ws, bool reverse,
            const std::string& act, bool zero_out) {
        return backward_py(SimpleB, bwd, Cell::simple, options(reverse, act, "sigmoid", zero_out),
                           dy, dh, py::none(), x, k, r, bias, h0, py::none(), mask, ws);
      },
      py::arg("d_outputs"), py::arg("d_h"), py::arg("x"), py::arg("kernel"),
      py::arg("recurrent_kernel"), py::arg("bias") = none, py::arg("h0") = none,
      py::arg("mask") = none, py::arg("workspace") = none, py::kw_only(),
      py::arg("reverse") = false, py::arg("activation") = "tanh",
      py::arg("zero_output_for_mask") = false,
      ("Gradients of simple_rnn_forward -> (dx, dkernel, drecurrent_kernel, dbias or None, "
       "dh0). " + fdoc).c_str());
}

constexpr char kLstmF[] = "lstm_forward", kLstmB[] = "lstm_backward";
constexpr char kGruF[] = "gru_forward", kGruB[] = "gru_backward";
constexpr char kSimpleF[] = "simple_rnn_forward", kSimpleB[] = "simple_rnn_backward";
constexpr char kLstmFR[] = "lstm_forward_ref", kLstmBR[] = "lstm_backward_ref";
constexpr char kGruFR[] = "gru_forward_ref", kGruBR[] = "gru_backward_ref";
constexpr char kSimpleFR[] = "simple_rnn_forward_ref", kSimpleBR[] = "simple_rnn_backward_ref";

}  // namespace

void register_rnn(py::module_& m) {
  def_family<kLstmF, kLstmB, kGruF, kGruB, kSimpleF, kSimpleB>(
      m, &rnn_forward, &rnn_backward, true,
      "The workspace saved by forward makes backward skip recomputing the forward.");
  def_family<kLstmFR, kLstmBR, kGruFR, kGruBR, kSimpleFR, kSimpleBR>(
      m, &rnn_forward_ref, &rnn_backward_ref, false,
      "The plain double-precision twin: saves no workspace (returns None) and its backward "
      "recomputes the forward.");
}

}  // namespace pykern::bind
