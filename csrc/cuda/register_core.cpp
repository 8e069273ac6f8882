// Bindings of the core kernels (core.h): the storage operations of the CUDA
// kernel table. Each checks its arguments (TypeError for a non-Array operand,
// ValueError naming the op and the shapes), resolves NumPy's dtype and shape
// rules, releases the GIL and calls one launcher. No math here.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "cuda/bind_util.h"
#include "cuda/core.h"

namespace pykern::cuda {
namespace {

// The product of s[from:to].
int64_t prod(const std::vector<int64_t>& s, int from = 0, int to = -1) {
  const int end = to < 0 ? int(s.size()) : std::min(to, int(s.size()));
  int64_t n = 1;
  for (int i = from; i < end; ++i) n *= s[i];
  return n;
}

// ---- operands -----------------------------------------------------------------------------------

// An Array or a number; `array` null for a number.
struct Value {
  const Array* array = nullptr;
  Scalar scalar;
};

Value arg_value(py::handle h, const char* op, const char* name) {
  Value v;
  if (py::isinstance<Array>(h)) {
    v.array = &h.cast<const Array&>();
  } else if (!as_scalar(h, &v.scalar)) {
    not_an_array(h, op, name, true);
  }
  return v;
}

std::vector<int64_t> shape_of(const Value& v) {
  return v.array ? v.array->shape() : std::vector<int64_t>{};
}

// NumPy broadcasting of several shapes; ValueError "<op>: shapes A and B cannot
// be broadcast together".
std::vector<int64_t> broadcast_shape(const char* op, const std::vector<std::vector<int64_t>>& shapes) {
  size_t nd = 0;
  for (const auto& s : shapes) nd = std::max(nd, s.size());
  std::vector<int64_t> out(nd, 1);
  for (const auto& s : shapes)
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[nd - s.size() + i];
      const int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o != 1) {
        std::string msg = "shapes ";
        for (size_t k = 0; k < shapes.size(); ++k)
          msg += (k ? " and " : "") + shape_str(shapes[k]);
        value_error(op, msg + " cannot be broadcast together");
      }
      o = d;
    }
  return out;
}

// The device of the Array operands (ValueError when two differ); -1 when none.
int device_of(std::initializer_list<const Array*> arrays, const char* op) {
  int dev = -1;
  for (const Array* a : arrays) {
    if (!a) continue;
    if (dev >= 0 && a->device() != dev)
      value_error(op, "operands are on different devices (cuda:" + std::to_string(dev) +
                          " and cuda:" + std::to_string(a->device()) + ")");
    dev = a->device();
  }
  return dev;
}

// An Operand of dtype `compute`: Arrays of another dtype are cast (the cast
// array is kept alive in `keep`).
Operand operand_as(const Value& v, DType compute, std::vector<Array>& keep) {
  Operand o;
  if (v.array) {
    if (v.array->dtype() == compute) {
      o.array = v.array;
    } else {
      keep.push_back(cast(*v.array, compute));
      o.array = &keep.back();
    }
  } else {
    o.value = v.scalar.value;
    o.ivalue = v.scalar.ivalue;
  }
  return o;
}

DType result_dtype(const Value& a, const Value& b) {
  if (a.array && b.array) return promote(a.array->dtype(), b.array->dtype());
  if (a.array) return promote(a.array->dtype(), b.scalar);
  return promote(b.array->dtype(), a.scalar);
}

// ---- element-wise -----------------------------------------------------------------------------

UnaryParams unary_params(UnaryOp op, py::handle p) {
  UnaryParams u;
  if (p.is_none()) {
    if (op == UnaryOp::leaky_relu || op == UnaryOp::elu || op == UnaryOp::relu_general)
      value_error("unary", "op needs its parameter");
    return u;
  }
  if (op == UnaryOp::relu_general) {
    auto t = p.cast<py::sequence>();
    if (t.size() != 3) value_error("unary", "relu_general takes (slope, max_value, threshold)");
    u.a = t[0].cast<float>();
    u.has_b = !t[1].is_none();
    if (u.has_b) u.b = t[1].cast<float>();
    u.c = t[2].cast<float>();
  } else if (op == UnaryOp::round) {
    u.decimals = p.cast<int>();
  } else {
    u.a = p.cast<float>();
  }
  return u;
}

// Integer inputs of float ops compute in float32 (the meta table's rule).
Array float_input(const Array& x, std::vector<Array>& keep) {
  if (is_float(x.dtype())) return x;
  keep.push_back(cast(x, DType::f32));
  return keep.back();
}

Array unary_b(const std::string& name, py::handle xh, py::handle p) {
  const UnaryOp op = unary_op(name);
  const Array& x = arg_array(xh, "unary", "x");
  const UnaryParams u = unary_params(op, p);
  const bool int_ok = op == UnaryOp::logical_not ||
                      ((op == UnaryOp::negative || op == UnaryOp::abs || op == UnaryOp::sign) &&
                       (x.dtype() == DType::i32 || x.dtype() == DType::i64));
  py::gil_scoped_release nogil;
  std::vector<Array> keep;
  return unary(op, int_ok ? x : float_input(x, keep), u);
}

Array unary_grad_b(const std::string& name, py::handle gh, py::handle xh, py::handle yh,
                   py::handle p) {
  const UnaryOp op = unary_op(name);
  if (!unary_has_grad(op)) value_error("unary_grad", "op '" + name + "' has no gradient");
  const Array& g = arg_array(gh, "unary_grad", "g");
  if (!is_float(g.dtype())) value_error("unary_grad", "g must be float32 or float64");
  const Array* x = opt_array(xh, "unary_grad", "x", g.dtype());
  const Array* y = opt_array(yh, "unary_grad", "y", g.dtype());
  if (op != UnaryOp::negative && !(unary_grad_reads_y(op) ? y : x))
    value_error("unary_grad", "the gradient of '" + name + "' needs " +
                                  (unary_grad_reads_y(op) ? "y" : "x"));
  for (const Array* a : {x, y})
    if (a) {
      require_shape(*a, g.shape(), "unary_grad", a == x ? "x" : "y");
      same_device(g, *a, "unary_grad", "g", a == x ? "x" : "y");
    }
  const UnaryParams u = unary_params(op, p);
  py::gil_scoped_release nogil;
  return unary_grad(op, g, x, y, u);
}

Array binary_b(const std::string& name, py::handle ah, py::handle bh) {
  const BinaryOp op = binary_op(name);
  const Value a = arg_value(ah, name.c_str(), "a"), b = arg_value(bh, name.c_str(), "b");
  if (!a.array && !b.array) type_error(name.c_str(), "at least one operand must be an Array");
  const int device = device_of({a.array, b.array}, name.c_str());
  const auto out_shape = broadcast_shape(name.c_str(), {shape_of(a), shape_of(b)});
  DType compute = result_dtype(a, b);
  if (op == BinaryOp::divide && !is_float(compute)) compute = DType::f64;  // true division
  if (op == BinaryOp::power && compute == DType::b8) compute = DType::i64;
  py::gil_scoped_release nogil;
  std::vector<Array> keep;
  keep.reserve(2);
  const Operand oa = operand_as(a, compute, keep), ob = operand_as(b, compute, keep);
  return binary(op, oa, ob, compute, out_shape, device);
}

Array where_b(py::handle ch, py::handle ah, py::handle bh) {
  const Array& cond0 = arg_array(ch, "where", "cond");
  const Value a = arg_value(ah, "where", "a"), b = arg_value(bh, "where", "b");
  const int device = device_of({&cond0, a.array, b.array}, "where");
  const auto out_shape = broadcast_shape("where", {cond0.shape(), shape_of(a), shape_of(b)});
  DType dtype;
  if (a.array || b.array) {
    dtype = result_dtype(a, b);
  } else {  // two numbers: NumPy's dtype of the pair
    const bool fl = a.scalar.kind == ScalarKind::floating || b.scalar.kind == ScalarKind::floating;
    const bool in = a.scalar.kind == ScalarKind::integer || b.scalar.kind == ScalarKind::integer;
    dtype = fl ? DType::f64 : in ? DType::i64 : DType::b8;
  }
  (void)device;
  py::gil_scoped_release nogil;
  std::vector<Array> keep;
  keep.reserve(3);
  const Array cond = cond0.dtype() == DType::b8 ? cond0 : cast(cond0, DType::b8);
  const Operand oa = operand_as(a, dtype, keep), ob = operand_as(b, dtype, keep);
  return where(cond, oa, ob, dtype, out_shape);
}

Array clip_b(py::handle xh, py::handle loh, py::handle hih, bool mask) {
  const char* op = mask ? "clip_mask" : "clip";
  const Array& x0 = arg_array(xh, op, "x");
  const bool has_lo = !loh.is_none(), has_hi = !hih.is_none();
  const Value lo = has_lo ? arg_value(loh, op, "lo") : Value{};
  const Value hi = has_hi ? arg_value(hih, op, "hi") : Value{};
  device_of({&x0, lo.array, hi.array}, op);
  const auto out_shape = broadcast_shape(op, {x0.shape(), shape_of(lo), shape_of(hi)});
  py::gil_scoped_release nogil;
  std::vector<Array> keep;
  keep.reserve(3);
  const Array x = float_input(x0, keep);
  const Operand ol = operand_as(lo, x.dtype(), keep), oh = operand_as(hi, x.dtype(), keep);
  return clip(x, ol, has_lo, oh, has_hi, mask, out_shape);
}

Array cast_b(py::handle xh, py::handle dtype) {
  const Array& x = arg_array(xh, "cast", "x");
  const DType d = arg_dtype(dtype, "cast");
  py::gil_scoped_release nogil;
  return cast(x, d);
}

Array copy_b(py::handle xh) {
  const Array& x = arg_array(xh, "copy", "x");
  py::gil_scoped_release nogil;
  Array y(x.shape(), x.dtype(), x.device());
  copy_bytes(y, x);
  return y;
}

// Copies src (an Array broadcast to dst's shape, any dtype, or a number) into dst.
void copy_into_b(py::handle dh, py::handle sh) {
  const Array& dst = arg_array(dh, "copy_", "dst");
  const Value src = arg_value(sh, "copy_", "src");
  if (!src.array) {
    const double v = src.scalar.value;
    py::gil_scoped_release nogil;
    fill(dst, v);
    return;
  }
  same_device(dst, *src.array, "copy_", "dst", "src");
  const auto shape = broadcast_shape("copy_", {dst.shape(), src.array->shape()});
  if (shape != dst.shape())
    value_error("copy_", "could not broadcast src of shape " + shape_str(src.array->shape()) +
                             " into dst of shape " + shape_str(dst.shape()));
  py::gil_scoped_release nogil;
  const Array s = src.array->dtype() == dst.dtype() ? *src.array : cast(*src.array, dst.dtype());
  if (s.shape() == dst.shape()) {
    copy_bytes(dst, s);
  } else {
    strided_copy(dst, {0, contiguous_strides(dst.shape())}, s,
                 {0, [&] {
                    std::vector<int64_t> st(dst.ndim(), 0);
                    const auto cs = contiguous_strides(s.shape());
                    const size_t lead = dst.shape().size() - s.shape().size();
                    for (size_t i = 0; i < s.shape().size(); ++i)
                      st[lead + i] = s.shape()[i] == 1 ? 0 : cs[i];
                    return st;
                  }()},
                 dst.shape());
  }
}

// ---- axes -------------------------------------------------------------------------------------

// Sorted, non-negative, distinct axes; None: all.
std::vector<int> arg_axes(py::handle h, int ndim, const char* op) {
  std::vector<int> axes;
  if (h.is_none()) {
    for (int i = 0; i < ndim; ++i) axes.push_back(i);
    return axes;
  }
  if (py::isinstance<py::sequence>(h))
    for (py::handle a : py::reinterpret_borrow<py::sequence>(h))
      axes.push_back(normalize_axis(a.cast<int64_t>(), ndim, op));
  else
    axes.push_back(normalize_axis(h.cast<int64_t>(), ndim, op));
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    value_error(op, "duplicate value in 'axis'");
  return axes;
}

std::vector<int64_t> reduced_shape(const std::vector<int64_t>& s, const std::vector<int>& axes,
                                   bool keepdims) {
  std::vector<int64_t> out;
  for (int i = 0; i < int(s.size()); ++i) {
    const bool red = std::binary_search(axes.begin(), axes.end(), i);
    if (!red) out.push_back(s[i]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

// x as (A, R, B) over sorted axes: the axes must be one block, else x is first
// copied with the reduced axes moved last (B = 1). Returns the array to reduce.
Array as_arb(const Array& x, const std::vector<int>& axes, int64_t* A, int64_t* R, int64_t* B) {
  const auto& s = x.shape();
  if (axes.empty()) {
    *A = x.size(), *R = 1, *B = 1;
    return x;
  }
  if (axes.back() - axes.front() + 1 == int(axes.size())) {
    *A = prod(s, 0, axes.front());
    *R = prod(s, axes.front(), axes.back() + 1);
    *B = prod(s, axes.back() + 1);
    return x;
  }
  std::vector<int> perm;
  for (int i = 0; i < x.ndim(); ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) perm.push_back(i);
  perm.insert(perm.end(), axes.begin(), axes.end());
  std::vector<int64_t> shape;
  std::vector<int64_t> src;
  const auto cs = contiguous_strides(s);
  for (int p : perm) shape.push_back(s[p]), src.push_back(cs[p]);
  Array t(shape, x.dtype(), x.device());
  strided_copy(t, {0, contiguous_strides(shape)}, x, {0, src}, shape);
  *A = 1, *R = 1;
  for (size_t i = 0; i < perm.size(); ++i) (i < perm.size() - axes.size() ? *A : *R) *= shape[i];
  *B = 1;
  return t;
}

ReduceOp reduce_op(const std::string& name) {
  static const std::pair<const char*, ReduceOp> ops[] = {
      {"sum", ReduceOp::sum}, {"mean", ReduceOp::mean}, {"max", ReduceOp::max},
      {"min", ReduceOp::min}, {"prod", ReduceOp::prod}, {"any", ReduceOp::any},
      {"all", ReduceOp::all}};
  for (const auto& [n, op] : ops)
    if (name == n) return op;
  value_error("reduce", "unknown op '" + name + "'");
}

Array reduce_b(const std::string& name, py::handle xh, py::handle axes_h, bool keepdims,
               bool precise) {
  const ReduceOp op = reduce_op(name);
  const Array& x = arg_array(xh, "reduce", "x");
  const auto axes = arg_axes(axes_h, x.ndim(), "reduce");
  const auto out_shape = reduced_shape(x.shape(), axes, keepdims);
  int64_t red = 1;
  for (int a : axes) red *= x.shape()[a];
  if (red == 0 && prod(out_shape) > 0 && (op == ReduceOp::max || op == ReduceOp::min))
    value_error("reduce", "zero-size array to reduction operation " +
                              std::string(op == ReduceOp::max ? "maximum" : "minimum") +
                              " which has no identity");
  const bool exact = precise && (op == ReduceOp::sum || op == ReduceOp::mean);
  py::gil_scoped_release nogil;
  int64_t A, R, B;
  const Array v = as_arb(x, axes, &A, &R, &B);
  return reduce(op, v, A, R, B, exact, out_shape);
}

Array arg_reduce_b(const std::string& name, py::handle xh, py::handle axis_h, bool keepdims) {
  if (name != "argmax" && name != "argmin") value_error("arg_reduce", "unknown op '" + name + "'");
  const Array& x = arg_array(xh, "arg_reduce", "x");
  std::vector<int64_t> out_shape;
  int64_t A = 1, R = x.size(), B = 1;
  if (axis_h.is_none()) {
    if (keepdims) out_shape.assign(x.ndim(), 1);
  } else {
    const int ax = normalize_axis(axis_h.cast<int64_t>(), x.ndim(), name.c_str());
    A = prod(x.shape(), 0, ax), R = x.shape()[ax], B = prod(x.shape(), ax + 1);
    out_shape = reduced_shape(x.shape(), {ax}, keepdims);
  }
  if (R == 0) value_error(name.c_str(), "attempt to get " + name + " of an empty sequence");
  py::gil_scoped_release nogil;
  return arg_reduce(name == "argmax", x, A, R, B, out_shape);
}

Array softmax_b(py::handle xh, py::handle axis_h, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  const Array& x = arg_array(xh, op, "x", DType::f32);
  const auto axes = arg_axes(axis_h, x.ndim(), op);
  if (axes.empty() || axes.back() - axes.front() + 1 != int(axes.size()))
    value_error(op, "axes must be one block of neighbouring axes");
  const int64_t A = prod(x.shape(), 0, axes.front());
  const int64_t R = prod(x.shape(), axes.front(), axes.back() + 1);
  const int64_t B = prod(x.shape(), axes.back() + 1);
  py::gil_scoped_release nogil;
  return softmax(x, A, R, B, log);
}

// ---- layout -----------------------------------------------------------------------------------

Array transpose_b(py::handle xh, py::handle axes_h) {
  const Array& x = arg_array(xh, "transpose", "x");
  const int nd = x.ndim();
  std::vector<int> perm;
  if (axes_h.is_none()) {
    for (int i = nd - 1; i >= 0; --i) perm.push_back(i);
  } else {
    for (py::handle a : axes_h.cast<py::sequence>())
      perm.push_back(normalize_axis(a.cast<int64_t>(), nd, "transpose"));
    std::vector<int> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    if (int(perm.size()) != nd || std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      value_error("transpose", "axes don't match array of shape " + shape_str(x.shape()));
  }
  std::vector<int64_t> shape, src;
  const auto cs = contiguous_strides(x.shape());
  for (int p : perm) shape.push_back(x.shape()[p]), src.push_back(cs[p]);
  py::gil_scoped_release nogil;
  Array y(shape, x.dtype(), x.device());
  strided_copy(y, {0, contiguous_strides(shape)}, x, {0, src}, shape);
  return y;
}

// Strides reading `a` broadcast to `shape` (which must be a broadcast of a's shape).
std::vector<int64_t> read_broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size(), 0);
  const auto cs = contiguous_strides(a);
  const size_t lead = shape.size() - a.size();
  for (size_t i = 0; i < a.size(); ++i) st[lead + i] = a[i] == 1 ? 0 : cs[i];
  return st;
}

bool broadcasts_to(const std::vector<int64_t>& a, const std::vector<int64_t>& shape) {
  if (a.size() > shape.size()) return false;
  const size_t lead = shape.size() - a.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != 1 && a[i] != shape[lead + i]) return false;
  return true;
}

Array broadcast_to_b(py::handle xh, py::handle shape_h) {
  const Array& x = arg_array(xh, "broadcast_to", "x");
  const auto shape = arg_shape(shape_h, "broadcast_to", "shape");
  if (!broadcasts_to(x.shape(), shape))
    value_error("broadcast_to", "cannot broadcast an array of shape " + shape_str(x.shape()) +
                                    " to " + shape_str(shape));
  py::gil_scoped_release nogil;
  Array y(shape, x.dtype(), x.device());
  strided_copy(y, {0, contiguous_strides(shape)}, x, {0, read_broadcast(x.shape(), shape)}, shape);
  return y;
}

std::vector<const Array*> arg_arrays(py::handle h, const char* op) {
  std::vector<const Array*> xs;
  for (py::handle a : h.cast<py::sequence>()) xs.push_back(&arg_array(a, op, "xs[i]"));
  if (xs.empty()) value_error(op, "need at least one array");
  for (const Array* a : xs) same_device(*xs[0], *a, op, "xs[0]", "xs[i]");
  return xs;
}

// Writes each x into out along `axis` at running offsets (concat); `stacked`:
// each x takes one slot of a new axis.
Array join(const std::vector<const Array*>& xs, const std::vector<int64_t>& out_shape, int axis,
           bool stacked, DType dtype) {
  Array out(out_shape, dtype, xs[0]->device());
  const auto ost = contiguous_strides(out_shape);
  int64_t at = 0;
  for (const Array* x0 : xs) {
    const Array x = x0->dtype() == dtype ? *x0 : cast(*x0, dtype);
    std::vector<int64_t> shape = x.shape(), dst = ost;
    if (stacked) {
      shape.insert(shape.begin() + axis, 1);
    }
    strided_copy(out, {at * ost[axis], dst}, x, {0, contiguous_strides(shape)}, shape);
    at += stacked ? 1 : shape[axis];
  }
  return out;
}

Array concat_b(py::handle xs_h, py::handle axis_h) {
  auto xs = arg_arrays(xs_h, "concat");
  std::vector<Array> flat;
  if (axis_h.is_none()) {  // np.concatenate(axis=None): flattened
    for (const Array* a : xs) flat.push_back(a->reshaped({a->size()}));
    xs.clear();
    for (const Array& a : flat) xs.push_back(&a);
  }
  const int nd = xs[0]->ndim();
  if (nd == 0) value_error("concat", "zero-dimensional arrays cannot be concatenated");
  const int axis = axis_h.is_none() ? 0 : normalize_axis(axis_h.cast<int64_t>(), nd, "concat");
  std::vector<int64_t> out_shape = xs[0]->shape();
  out_shape[axis] = 0;
  DType dtype = xs[0]->dtype();
  for (const Array* a : xs) {
    auto s = a->shape();
    if (int(s.size()) != nd) value_error("concat", "all inputs must have the same rank");
    for (int i = 0; i < nd; ++i)
      if (i != axis && s[i] != out_shape[i])
        value_error("concat", "shapes " + shape_str(xs[0]->shape()) + " and " + shape_str(s) +
                                  " differ off the concatenation axis " + std::to_string(axis));
    out_shape[axis] += s[axis];
    dtype = promote(dtype, a->dtype());
  }
  py::gil_scoped_release nogil;
  return join(xs, out_shape, axis, false, dtype);
}

Array stack_b(py::handle xs_h, int64_t axis0) {
  const auto xs = arg_arrays(xs_h, "stack");
  const auto& s = xs[0]->shape();
  const int axis = normalize_axis(axis0, int(s.size()) + 1, "stack");
  DType dtype = xs[0]->dtype();
  for (const Array* a : xs) {
    if (a->shape() != s) value_error("stack", "all inputs must have the same shape, got " +
                                                  shape_str(s) + " and " + shape_str(a->shape()));
    dtype = promote(dtype, a->dtype());
  }
  std::vector<int64_t> out_shape = s;
  out_shape.insert(out_shape.begin() + axis, int64_t(xs.size()));
  py::gil_scoped_release nogil;
  return join(xs, out_shape, axis, true, dtype);
}

// ---- basic indexing ------------------------------------------------------------------------------

struct Indexed {
  std::vector<int64_t> shape;  // of x[index]
  View view;                   // of x[index] in x's buffer
};

bool is_int_index(py::handle h) {
  return PyIndex_Check(h.ptr()) && !PyBool_Check(h.ptr()) && !py::isinstance<py::array>(h);
}

// x[index] for ints, slices, None and Ellipsis (NumPy's basic indexing) as a
// view of x's buffer; IndexError / ValueError as NumPy words them.
Indexed basic_index(const std::vector<int64_t>& xs, py::handle index, const char* op) {
  std::vector<py::handle> items;
  if (py::isinstance<py::tuple>(index))
    for (py::handle i : index.cast<py::tuple>()) items.push_back(i);
  else
    items.push_back(index);
  int consumed = 0, ellipses = 0;
  for (py::handle i : items) {
    if (i.is(py::ellipsis())) ++ellipses;
    else if (is_int_index(i) || PySlice_Check(i.ptr())) ++consumed;
    else if (!i.is_none())
      type_error(op, "only ints, slices, None and Ellipsis are basic indices, got " +
                         std::string(py::repr(i)));
  }
  const int nd = int(xs.size());
  if (ellipses > 1) throw py::index_error("an index can only have a single ellipsis ('...')");
  if (consumed > nd)
    throw py::index_error("too many indices for array: array is " + std::to_string(nd) +
                          "-dimensional, but " + std::to_string(consumed) + " were indexed");
  const auto cs = contiguous_strides(xs);
  Indexed r;
  int d = 0;
  auto full_dim = [&] {
    r.shape.push_back(xs[d]);
    r.view.strides.push_back(cs[d]);
    ++d;
  };
  for (py::handle i : items) {
    if (i.is(py::ellipsis())) {
      for (int k = 0; k < nd - consumed; ++k) full_dim();
    } else if (i.is_none()) {
      r.shape.push_back(1);
      r.view.strides.push_back(0);
    } else if (PySlice_Check(i.ptr())) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(i.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
      const Py_ssize_t len = PySlice_AdjustIndices(Py_ssize_t(xs[d]), &start, &stop, step);
      r.shape.push_back(len);
      r.view.strides.push_back(int64_t(step) * cs[d]);
      if (len > 0) r.view.offset += int64_t(start) * cs[d];
      ++d;
    } else {
      int64_t k = i.cast<int64_t>();
      if (k < -xs[d] || k >= xs[d])
        throw py::index_error("index " + std::to_string(k) + " is out of bounds for axis " +
                              std::to_string(d) + " with size " + std::to_string(xs[d]));
      if (k < 0) k += xs[d];
      r.view.offset += k * cs[d];
      ++d;
    }
  }
  while (d < nd) full_dim();
  return r;
}

Array getitem_b(py::handle xh, py::handle index) {
  const Array& x = arg_array(xh, "getitem", "x");
  const Indexed ix = basic_index(x.shape(), index, "getitem");
  py::gil_scoped_release nogil;
  Array y(ix.shape, x.dtype(), x.device());
  strided_copy(y, {0, contiguous_strides(ix.shape)}, x, ix.view, ix.shape);
  return y;
}

Array scatter_basic_b(py::handle shape_h, py::handle index, py::handle gh) {
  const auto shape = arg_shape(shape_h, "scatter_add", "shape");
  const Array& g = arg_array(gh, "scatter_add", "g");
  const Indexed ix = basic_index(shape, index, "scatter_add");
  if (!broadcasts_to(g.shape(), ix.shape))
    value_error("scatter_add", "g of shape " + shape_str(g.shape()) + " does not fit x[index] of shape " +
                                   shape_str(ix.shape));
  py::gil_scoped_release nogil;
  Array out(shape, g.dtype(), g.device());
  fill(out, 0.0);
  // Basic indices never select a cell twice, so a plain write is the sum.
  strided_copy(out, ix.view, g, {0, read_broadcast(g.shape(), ix.shape)}, ix.shape);
  return out;
}

Array pad_b(py::handle xh, py::handle pads_h, double value) {
  const Array& x = arg_array(xh, "pad", "x");
  std::vector<std::pair<int64_t, int64_t>> pads;
  for (py::handle p : pads_h.cast<py::sequence>()) {
    auto t = p.cast<py::sequence>();
    if (t.size() != 2) value_error("pad", "pads must be (before, after) pairs");
    pads.emplace_back(t[0].cast<int64_t>(), t[1].cast<int64_t>());
  }
  if (int(pads.size()) != x.ndim())
    value_error("pad", "need one (before, after) pair per axis of " + shape_str(x.shape()));
  std::vector<int64_t> shape = x.shape();
  for (size_t i = 0; i < pads.size(); ++i) {
    if (pads[i].first < 0 || pads[i].second < 0) value_error("pad", "pad widths must be >= 0");
    shape[i] += pads[i].first + pads[i].second;
  }
  py::gil_scoped_release nogil;
  Array y(shape, x.dtype(), x.device());
  fill(y, value);
  const auto st = contiguous_strides(shape);
  int64_t off = 0;
  for (size_t i = 0; i < pads.size(); ++i) off += pads[i].first * st[i];
  strided_copy(y, {off, st}, x, {0, contiguous_strides(x.shape())}, x.shape());
  return y;
}

// ---- gathers ------------------------------------------------------------------------------------

const Array& arg_indices(py::handle h, const char* op) {
  const Array& idx = arg_array(h, op, "indices");
  if (idx.dtype() != DType::i32 && idx.dtype() != DType::i64)
    value_error(op, std::string("indices must be int32 or int64, got ") + dtype_name(idx.dtype()));
  return idx;
}

Array take_b(py::handle xh, py::handle ih, py::handle axis_h) {
  const Array& x = arg_array(xh, "take", "x");
  const Array& idx = arg_indices(ih, "take");
  same_device(x, idx, "take", "x", "indices");
  int64_t outer = 1, n = x.size(), inner = 1;
  std::vector<int64_t> out_shape = idx.shape();
  if (!axis_h.is_none()) {
    const int ax = normalize_axis(axis_h.cast<int64_t>(), x.ndim(), "take");
    outer = prod(x.shape(), 0, ax), n = x.shape()[ax], inner = prod(x.shape(), ax + 1);
    out_shape.assign(x.shape().begin(), x.shape().begin() + ax);
    out_shape.insert(out_shape.end(), idx.shape().begin(), idx.shape().end());
    out_shape.insert(out_shape.end(), x.shape().begin() + ax + 1, x.shape().end());
  }
  py::gil_scoped_release nogil;
  return take(x, idx, outer, n, inner, out_shape);
}

Array one_hot_b(py::handle ih, int64_t depth, py::handle dtype) {
  const Array& idx = arg_indices(ih, "one_hot");
  if (depth < 0) value_error("one_hot", "depth must be >= 0, got " + std::to_string(depth));
  const DType d = arg_dtype(dtype, "one_hot");
  py::gil_scoped_release nogil;
  return one_hot(idx, depth, d);
}

// ---- losses and metrics --------------------------------------------------------------------------

// (values, grad) of a crossentropy of float32 labels y and predictions z of one shape.
template <class F>
py::tuple crossentropy_b(const char* op, py::handle yh, py::handle zh, bool from_logits,
                         bool needs_class_axis, F fn) {
  const Array& z = arg_array(zh, op, "z", DType::f32);
  const Array& y = arg_array(yh, op, "y", DType::f32);
  if (needs_class_axis && z.ndim() == 0) value_error(op, "z needs a class axis");
  require_shape(y, z.shape(), op, "y");
  same_device(y, z, op, "y", "z");
  std::pair<Array, Array> r;
  {
    py::gil_scoped_release nogil;
    r = fn(y, z, from_logits);
  }
  return py::make_tuple(r.first, r.second);
}

py::tuple bce_b(py::handle yh, py::handle zh, bool from_logits) {
  return crossentropy_b("binary_crossentropy", yh, zh, from_logits, false, &binary_crossentropy);
}

py::tuple cce_b(py::handle yh, py::handle zh, bool from_logits) {
  return crossentropy_b("categorical_crossentropy", yh, zh, from_logits, true,
                        &categorical_crossentropy);
}

py::tuple scce_b(py::handle lh, py::handle zh, bool from_logits, py::handle ignore) {
  constexpr const char* op = "sparse_categorical_crossentropy";
  const Array& z = arg_array(zh, op, "z", DType::f32);
  const Array& labels = arg_array(lh, op, "labels");
  if (z.ndim() == 0) value_error(op, "z needs a class axis");
  require_shape(labels, std::vector<int64_t>(z.shape().begin(), z.shape().end() - 1), op,
                "labels");
  same_device(labels, z, op, "labels", "z");
  const bool has_ignore = !ignore.is_none();
  const int64_t ig = has_ignore ? ignore.cast<int64_t>() : 0;
  std::pair<Array, Array> r;
  {
    py::gil_scoped_release nogil;
    r = sparse_categorical_crossentropy(labels, z, from_logits, has_ignore, ig);
  }
  return py::make_tuple(r.first, r.second);
}

py::tuple reduce_loss_b(py::handle vh, py::handle wh, py::handle reduction) {
  const Array& v = arg_array(vh, "reduce_loss", "v", DType::f32);
  const Array* w = opt_array(wh, "reduce_loss", "w", DType::f32);
  if (w) {
    require_shape(*w, v.shape(), "reduce_loss", "w");
    same_device(v, *w, "reduce_loss", "v", "w");
  }
  const std::string r = reduction.is_none() ? "" : std::string(py::str(reduction));
  const int mode = r == "sum" ? 1 : r == "mean_with_sample_weight" ? 2 : 0;
  std::pair<Array, Array> out;
  {
    py::gil_scoped_release nogil;
    const int64_t n = v.size();
    const Array vw = w ? binary(BinaryOp::multiply, {&v}, {w}, DType::f32, v.shape(), v.device()) : v;
    const Array total = reduce(ReduceOp::sum, vw, 1, n, 1, true, {});
    if (mode == 2 && w) {
      const Array wsum = reduce(ReduceOp::sum, *w, 1, n, 1, true, {});
      out = loss_finish(total, &wsum, n, mode);
    } else {
      out = loss_finish(total, nullptr, n, mode);
    }
  }
  return py::make_tuple(out.first, out.second);
}

Operand number_or_array(py::handle h, const char* op, const char* name) {
  const Value v = arg_value(h, op, name);
  Operand o;
  o.array = v.array;
  o.value = v.scalar.value;
  if (v.array && v.array->size() != 1)
    value_error(op, std::string(name) + " must have one element, got shape " +
                        shape_str(v.array->shape()));
  return o;
}

Array accumulate_b(py::handle sh, py::handle th, py::handle ch, double scale, int device) {
  const Array* state = opt_array(sh, "accumulate", "state", DType::f64);
  if (state) require_shape(*state, {2}, "accumulate", "state");
  const Operand t = number_or_array(th, "accumulate", "total");
  const Operand c = number_or_array(ch, "accumulate", "count");
  const int dev = device_of({state, t.array, c.array}, "accumulate");
  py::gil_scoped_release nogil;
  return accumulate(state, t, c, scale, dev >= 0 ? dev : device);
}

void pack_b(py::handle bh, py::handle xs_h, py::handle offs_h, double factor, bool into_buf) {
  const char* op = into_buf ? "pack_" : "unpack_";
  const Array& buf = arg_array(bh, op, "buf");
  if (buf.ndim() != 1) value_error(op, "buf must be 1-d, got shape " + shape_str(buf.shape()));
  const auto xs = xs_h.cast<py::sequence>();
  const auto offs = offs_h.cast<py::sequence>();
  if (xs.size() != offs.size()) value_error(op, "need one offset per array");
  std::vector<std::pair<const Array*, int64_t>> jobs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Array& x = arg_array(xs[i], op, "xs[i]");
    same_device(buf, x, op, "buf", "xs[i]");
    const int64_t o = offs[i].cast<int64_t>();
    if (o < 0 || o + x.size() > buf.size())
      value_error(op, "xs[" + std::to_string(i) + "] of shape " + shape_str(x.shape()) +
                          " at offset " + std::to_string(o) + " does not fit a buffer of " +
                          std::to_string(buf.size()));
    jobs.emplace_back(&x, o);
  }
  py::gil_scoped_release nogil;
  for (const auto& [x, o] : jobs) {
    if (into_buf) pack(buf, o, *x, factor);
    else unpack(*x, buf, o, factor);
  }
}

Array random_b(py::handle shape_h, const std::string& dist, uint64_t seed, uint64_t offset,
               float rate, int device) {
  const auto shape = arg_shape(shape_h, "random_fill", "shape");
  RandomArgs a;
  a.dist = dist == "uniform" ? RandomDist::uniform
           : dist == "normal" ? RandomDist::normal
           : dist == "dropout_mask" ? RandomDist::dropout_mask
           : (value_error("random_fill", "dist must be uniform, normal or dropout_mask, got " + dist),
              RandomDist::uniform);
  a.seed = seed;
  a.offset = offset;
  a.rate = rate;
  validate_random("random_fill", prod(shape), a);
  py::gil_scoped_release nogil;
  return random_fill(shape, a, device);
}

}  // namespace

void register_core(py::module_& m) {
  using py::arg;
  m.def("copy", &copy_b, arg("x"), "A new Array with x's values.");
  m.def("copy_", &copy_into_b, arg("dst"), arg("src"),
        "dst[...] = src in place: src an Array broadcast to dst's shape and cast to its dtype\n"
        "(NumPy's copyto with casting='unsafe'), or a number.");
  m.def("cast", &cast_b, arg("x"), arg("dtype"), "x.astype(dtype).");
  m.def("unary", &unary_b, arg("op"), arg("x"), arg("p") = py::none(),
        "op(x) element-wise: the CPU table's _UNARY ops and parameters.");
  m.def("unary_grad", &unary_grad_b, arg("op"), arg("g"), arg("x"), arg("y"), arg("p") = py::none(),
        "g * d op(x)/dx given the input x and the output y (the one the derivative does not\n"
        "read may be None: relu, sigmoid, tanh, exp, sqrt, ... read y; the others x).");
  m.def("binary", &binary_b, arg("op"), arg("a"), arg("b"),
        "a op b with NumPy broadcasting and dtype promotion (Python numbers are weak);\n"
        "comparisons and logical ops give bool.");
  m.def("where", &where_b, arg("cond"), arg("a"), arg("b"), "np.where(cond, a, b).");
  m.def("clip", [](py::handle x, py::handle lo, py::handle hi) { return clip_b(x, lo, hi, false); },
        arg("x"), arg("lo"), arg("hi"), "np.clip(x, lo, hi) (NaN passes through).");
  m.def("clip_mask", [](py::handle x, py::handle lo, py::handle hi) { return clip_b(x, lo, hi, true); },
        arg("x"), arg("lo"), arg("hi"), "1 where lo <= x <= hi else 0, as x's dtype.");
  m.def("reduce", &reduce_b, arg("op"), arg("x"), arg("axes"), arg("keepdims") = false,
        arg("precise") = false,
        "sum|mean|max|min|prod|any|all over axes (None: all), NumPy's dtypes; precise sums\n"
        "and means accumulate in and return float64. Fixed-order: bitwise repeatable.");
  m.def("arg_reduce", &arg_reduce_b, arg("op"), arg("x"), arg("axis"), arg("keepdims") = false,
        "argmax|argmin along axis (None: flattened) as int32; first index on ties, NaN wins.");
  m.def("softmax", [](py::handle x, py::handle axis) { return softmax_b(x, axis, false); },
        arg("x"), arg("axis"), "softmax of float32 x along axis (an int or neighbouring axes).");
  m.def("log_softmax", [](py::handle x, py::handle axis) { return softmax_b(x, axis, true); },
        arg("x"), arg("axis"), "log_softmax of float32 x along axis.");
  m.def("transpose", &transpose_b, arg("x"), arg("axes") = py::none(), "np.transpose (a copy).");
  m.def("broadcast_to", &broadcast_to_b, arg("x"), arg("shape"), "np.broadcast_to (a copy).");
  m.def("concat", &concat_b, arg("xs"), arg("axis"), "np.concatenate.");
  m.def("stack", &stack_b, arg("xs"), arg("axis"), "np.stack.");
  m.def("getitem", &getitem_b, arg("x"), arg("index"),
        "x[index] for basic indices (ints, slices with steps, None, Ellipsis): a strided copy.");
  m.def("scatter_add_basic", &scatter_basic_b, arg("shape"), arg("index"), arg("g"),
        "zeros(shape) with g written at [index] (basic indices: the gradient of getitem).");
  m.def("pad", &pad_b, arg("x"), arg("pads"), arg("value") = 0.0,
        "np.pad(x, pads, constant_values=value) with pads one (before, after) pair per axis.");
  m.def("take", &take_b, arg("x"), arg("indices"), arg("axis") = py::none(),
        "np.take(x, indices, axis); indices int32/int64 on the device, negative wrap.\n"
        "IndexError for an index out of range (reads a flag back: waits for the GPU).");
  m.def("one_hot", &one_hot_b, arg("indices"), arg("depth"), arg("dtype") = "float32",
        "zeros(indices.shape + (depth,)) with 1 at each index; IndexError out of range.");
  m.def("binary_crossentropy", &bce_b, arg("y"), arg("z"), arg("from_logits"),
        "(elem, grad): the CPU table's binary_crossentropy.");
  m.def("categorical_crossentropy", &cce_b, arg("y"), arg("z"), arg("from_logits"),
        "(values, grad): the CPU table's categorical_crossentropy.");
  m.def("sparse_categorical_crossentropy", &scce_b, arg("labels"), arg("z"), arg("from_logits"),
        arg("ignore_class") = py::none(),
        "(values, grad): the CPU table's sparse_categorical_crossentropy. ValueError naming a\n"
        "label outside [0, classes) (reads a flag back: waits for the GPU).");
  m.def("reduce_loss", &reduce_loss_b, arg("v"), arg("w"), arg("reduction"),
        "(loss, scale) float32 0-d Arrays: the CPU table's reduce_loss (float64 sums).");
  m.def("accumulate", &accumulate_b, arg("state"), arg("total"), arg("count"), arg("scale") = 1.0,
        arg("device") = 0,
        "A new float64 (2,) Array: state (or zeros) + (total * scale, count); total and count\n"
        "are one-element Arrays or numbers.");
  m.def("pack_", [](py::handle b, py::handle xs, py::handle o, double s) { pack_b(b, xs, o, s, true); },
        arg("buf"), arg("xs"), arg("offsets"), arg("scale") = 1.0,
        "buf[o:o + x.size] = x.ravel() * scale for each x, o.");
  m.def("unpack_", [](py::handle b, py::handle xs, py::handle o, double d) { pack_b(b, xs, o, d, false); },
        arg("buf"), arg("xs"), arg("offsets"), arg("divisor") = 1.0,
        "x[...] = buf[o:o + x.size] / divisor for each x, o (in place).");
  m.def("random_fill", &random_b, arg("shape"), arg("dist"), arg("seed"), arg("offset"),
        arg("rate") = 0.0f, arg("device") = 0,
        "A new float32 Array of the Philox draw 'uniform' | 'normal' | 'dropout_mask' keyed by\n"
        "(seed, offset): the CPU kernels' numbers.");
}

}  // namespace pykern::cuda
