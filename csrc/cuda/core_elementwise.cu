// Element-wise kernels: unary ops and their gradients, binary ops with NumPy
// broadcasting, where, clip and clip_mask. One grid-stride thread per output
// element; operands are Arrays read through broadcast strides or scalars.
#include <string>

#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"
#include "cuda/core_math.cuh"

namespace pykern::cuda {
namespace {

// An operand as the kernels see it: a device pointer read at an offset, or a
// scalar when p is null.
template <class T>
struct Arg {
  const T* p;
  T v;
};

template <class T>
__device__ __forceinline__ T load(const Arg<T>& a, int64_t off) {
  return a.p ? a.p[off] : a.v;
}

template <class T>
Arg<T> arg_of(const Operand& o) {
  if (o.array) return {o.array->data<T>(), T{}};
  if constexpr (std::is_floating_point_v<T>) return {nullptr, static_cast<T>(o.value)};
  else return {nullptr, convert<T>(o.ivalue)};
}

// ---- unary -------------------------------------------------------------------------------------

template <class T>
__global__ void unary_kernel(UnaryOp op, const T* __restrict__ x, T* __restrict__ y, int64_t n,
                             UnaryParams p) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) y[i] = unary_value(op, x[i], p);
}

template <class T>
__global__ void unary_int_kernel(UnaryOp op, const T* __restrict__ x, T* __restrict__ y,
                                 int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const T v = x[i];
    y[i] = op == UnaryOp::negative ? T(-v)
           : op == UnaryOp::abs    ? (v < T(0) ? T(-v) : v)
                                   : T((v > T(0)) - (v < T(0)));
  }
}

template <class T>
__global__ void logical_not_kernel(const T* __restrict__ x, bool* __restrict__ y, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) y[i] = !convert<bool>(x[i]);
}

template <class T>
__global__ void unary_grad_kernel(UnaryOp op, const T* __restrict__ g, const T* __restrict__ x,
                                  const T* __restrict__ y, T* __restrict__ dx, int64_t n,
                                  UnaryParams p) {
  for (int64_t i = global_index(); i < n; i += grid_stride())  // x or y may be absent (null)
    dx[i] = op == UnaryOp::negative
                ? -g[i]
                : g[i] * unary_derivative(op, x ? x[i] : T(0), y ? y[i] : T(0), p);
}

// ---- binary ------------------------------------------------------------------------------------

template <class T>
__device__ __forceinline__ T int_power(T a, T b) {
  if constexpr (std::is_signed_v<T>)
    if (b < T(0)) return T(0);  // NumPy refuses negative integer powers
  T r = T(1);
  for (T e = b; e > T(0); e = T(e / 2)) {
    if (e % 2) r = T(r * a);
    a = T(a * a);
  }
  return r;
}

template <class T>
__device__ __forceinline__ T arith(BinaryOp op, T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    switch (op) {
      case BinaryOp::add: case BinaryOp::maximum: return a || b;
      case BinaryOp::multiply: case BinaryOp::minimum: case BinaryOp::power: return a && b;
      default: return a != b;
    }
  } else {
    switch (op) {
      case BinaryOp::add: return a + b;
      case BinaryOp::subtract: return a - b;
      case BinaryOp::multiply: return a * b;
      case BinaryOp::divide:
        if constexpr (std::is_floating_point_v<T>) return a / b;
        else return b == T(0) ? T(0) : T(a / b);  // unreached: the binding divides in float64
      case BinaryOp::power:
        if constexpr (std::is_floating_point_v<T>) return m_pow(a, b);
        else return int_power(a, b);
      case BinaryOp::maximum: return max_nan(a, b);
      case BinaryOp::minimum: return min_nan(a, b);
      default: return T(0);
    }
  }
}

template <class T>
__device__ __forceinline__ bool compare(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::equal: return a == b;
    case BinaryOp::not_equal: return a != b;
    case BinaryOp::greater: return a > b;
    case BinaryOp::greater_equal: return a >= b;
    case BinaryOp::less: return a < b;
    case BinaryOp::less_equal: return a <= b;
    case BinaryOp::logical_and: return convert<bool>(a) && convert<bool>(b);
    default: return convert<bool>(a) || convert<bool>(b);  // logical_or
  }
}

template <class T, class Out>
__global__ void binary_kernel(BinaryOp op, Arg<T> a, Arg<T> b, Out* __restrict__ out, int64_t n,
                              Strides<2> s) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    int64_t off[2];
    offsets_of(s, i, off);
    const T va = load(a, off[0]), vb = load(b, off[1]);
    if constexpr (std::is_same_v<Out, bool>) out[i] = compare(op, va, vb);
    else out[i] = arith(op, va, vb);
  }
}

template <class T>
__global__ void where_kernel(const bool* __restrict__ cond, Arg<T> a, Arg<T> b,
                             T* __restrict__ out, int64_t n, Strides<3> s) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    int64_t off[3];
    offsets_of(s, i, off);
    out[i] = cond[off[0]] ? load(a, off[1]) : load(b, off[2]);
  }
}

template <class T>
__global__ void clip_kernel(const T* __restrict__ x, Arg<T> lo, bool has_lo, Arg<T> hi,
                            bool has_hi, bool mask, T* __restrict__ out, int64_t n,
                            Strides<3> s) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    int64_t off[3];
    offsets_of(s, i, off);
    const T v = x[off[0]];
    if (mask) {
      const bool in = (!has_lo || v >= load(lo, off[1])) && (!has_hi || v <= load(hi, off[2]));
      out[i] = in ? T(1) : T(0);
    } else {
      T r = v;
      if (has_lo) r = max_nan(r, load(lo, off[1]));
      if (has_hi) r = min_nan(r, load(hi, off[2]));
      out[i] = r;
    }
  }
}

const char* const kUnaryNames[] = {
    "negative", "abs", "square", "sqrt", "reciprocal", "exp", "expm1", "log", "log1p", "sign",
    "floor", "round", "logical_not", "relu", "relu_general", "relu6", "leaky_relu", "elu",
    "selu", "gelu", "gelu_erf", "erf", "sigmoid", "hard_sigmoid", "hard_silu", "tanh",
    "softplus", "softsign", "silu", "exponential", "sin", "cos", "tan"};
static_assert(sizeof(kUnaryNames) / sizeof(kUnaryNames[0]) == size_t(UnaryOp::count));

const char* const kBinaryNames[] = {
    "add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "equal",
    "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or"};
static_assert(sizeof(kBinaryNames) / sizeof(kBinaryNames[0]) == size_t(BinaryOp::count));

}  // namespace

UnaryOp unary_op(const std::string& name) {
  for (int i = 0; i < int(UnaryOp::count); ++i)
    if (name == kUnaryNames[i]) return UnaryOp(i);
  throw std::invalid_argument("unary: unknown op '" + name + "'");
}

bool unary_has_grad(UnaryOp op) {
  switch (op) {
    case UnaryOp::sign: case UnaryOp::floor: case UnaryOp::round: case UnaryOp::logical_not:
    case UnaryOp::erf:
      return false;
    default: return true;
  }
}

bool unary_grad_reads_y(UnaryOp op) {
  switch (op) {
    case UnaryOp::sqrt: case UnaryOp::reciprocal: case UnaryOp::exp: case UnaryOp::expm1:
    case UnaryOp::relu: case UnaryOp::sigmoid: case UnaryOp::tanh: case UnaryOp::exponential:
    case UnaryOp::tan:
      return true;
    default: return false;
  }
}

BinaryOp binary_op(const std::string& name) {
  for (int i = 0; i < int(BinaryOp::count); ++i)
    if (name == kBinaryNames[i]) return BinaryOp(i);
  throw std::invalid_argument("binary: unknown op '" + name + "'");
}

bool binary_is_compare(BinaryOp op) { return op >= BinaryOp::equal; }

Array unary(UnaryOp op, const Array& x, const UnaryParams& p) {
  DeviceGuard g(x.device());
  const int64_t n = x.size();
  if (op == UnaryOp::logical_not) {
    Array y(x.shape(), DType::b8, x.device());
    if (n == 0) return y;
    dispatch_dtype(x.dtype(), [&](auto t) {
      using T = decltype(t);
      logical_not_kernel<T><<<grid_for(n), kBlock>>>(x.data<T>(), y.data<bool>(), n);
    });
    PK_LAUNCH_CHECK("unary(logical_not)");
    return y;
  }
  Array y(x.shape(), x.dtype(), x.device());
  if (n == 0) return y;
  if (x.dtype() == DType::i32 || x.dtype() == DType::i64) {
    if (op != UnaryOp::negative && op != UnaryOp::abs && op != UnaryOp::sign)
      throw std::invalid_argument("unary: integer input only for negative, abs and sign");
    if (x.dtype() == DType::i32)
      unary_int_kernel<int32_t><<<grid_for(n), kBlock>>>(op, x.data<int32_t>(), y.data<int32_t>(), n);
    else
      unary_int_kernel<int64_t><<<grid_for(n), kBlock>>>(op, x.data<int64_t>(), y.data<int64_t>(), n);
  } else {
    dispatch_float(x.dtype(), "unary", [&](auto t) {
      using T = decltype(t);
      unary_kernel<T><<<grid_for(n), kBlock>>>(op, x.data<T>(), y.data<T>(), n, p);
    });
  }
  PK_LAUNCH_CHECK("unary");
  return y;
}

Array unary_grad(UnaryOp op, const Array& g, const Array* x, const Array* y,
                 const UnaryParams& p) {
  DeviceGuard guard(g.device());
  Array dx(g.shape(), g.dtype(), g.device());
  const int64_t n = g.size();
  if (n == 0) return dx;
  dispatch_float(g.dtype(), "unary_grad", [&](auto t) {
    using T = decltype(t);
    unary_grad_kernel<T><<<grid_for(n), kBlock>>>(op, g.data<T>(), x ? x->data<T>() : nullptr,
                                                  y ? y->data<T>() : nullptr, dx.data<T>(), n, p);
  });
  PK_LAUNCH_CHECK("unary_grad");
  return dx;
}

Array binary(BinaryOp op, const Operand& a, const Operand& b, DType compute,
             const std::vector<int64_t>& out_shape, int device) {
  DeviceGuard g(device);
  const bool cmp = binary_is_compare(op);
  Array out(out_shape, cmp ? DType::b8 : compute, device);
  const int64_t n = out.size();
  if (n == 0) return out;
  const auto s = make_strides<2>(
      out_shape, {broadcast_strides(a.array, out_shape), broadcast_strides(b.array, out_shape)},
      "binary");
  dispatch_dtype(compute, [&](auto t) {
    using T = decltype(t);
    if (cmp)
      binary_kernel<T, bool><<<grid_for(n), kBlock>>>(op, arg_of<T>(a), arg_of<T>(b),
                                                      out.data<bool>(), n, s);
    else
      binary_kernel<T, T><<<grid_for(n), kBlock>>>(op, arg_of<T>(a), arg_of<T>(b), out.data<T>(),
                                                   n, s);
  });
  PK_LAUNCH_CHECK("binary");
  return out;
}

Array where(const Array& cond, const Operand& a, const Operand& b, DType dtype,
            const std::vector<int64_t>& out_shape) {
  DeviceGuard g(cond.device());
  Array out(out_shape, dtype, cond.device());
  const int64_t n = out.size();
  if (n == 0) return out;
  const auto s = make_strides<3>(out_shape,
                                 {broadcast_strides(&cond, out_shape),
                                  broadcast_strides(a.array, out_shape),
                                  broadcast_strides(b.array, out_shape)},
                                 "where");
  dispatch_dtype(dtype, [&](auto t) {
    using T = decltype(t);
    where_kernel<T><<<grid_for(n), kBlock>>>(cond.data<bool>(), arg_of<T>(a), arg_of<T>(b),
                                             out.data<T>(), n, s);
  });
  PK_LAUNCH_CHECK("where");
  return out;
}

Array clip(const Array& x, const Operand& lo, bool has_lo, const Operand& hi, bool has_hi,
           bool mask, const std::vector<int64_t>& out_shape) {
  DeviceGuard g(x.device());
  Array out(out_shape, x.dtype(), x.device());
  const int64_t n = out.size();
  if (n == 0) return out;
  const auto s = make_strides<3>(out_shape,
                                 {broadcast_strides(&x, out_shape),
                                  broadcast_strides(lo.array, out_shape),
                                  broadcast_strides(hi.array, out_shape)},
                                 mask ? "clip_mask" : "clip");
  dispatch_float(x.dtype(), mask ? "clip_mask" : "clip", [&](auto t) {
    using T = decltype(t);
    clip_kernel<T><<<grid_for(n), kBlock>>>(x.data<T>(), arg_of<T>(lo), has_lo, arg_of<T>(hi),
                                            has_hi, mask, out.data<T>(), n, s);
  });
  PK_LAUNCH_CHECK(mask ? "clip_mask" : "clip");
  return out;
}

}  // namespace pykern::cuda
