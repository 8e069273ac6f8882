// The element-wise formulas of the CPU kernel table (pykern/backend/devices/
// cpu.py, _UNARY), one device function per op and dtype, with the same
// branches so NaN, infinities and the kinks give the same results. gelu, erf
// and their gradients run in double, as the CPU table does.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <type_traits>

#include "cuda/core.h"

namespace pykern::cuda {

// Overloads that pick the float or the double CUDA math function.
#define PK_MATH1(name, f32fn, f64fn)                                                  \
  __device__ __forceinline__ float name(float v) { return f32fn(v); }                 \
  __device__ __forceinline__ double name(double v) { return f64fn(v); }
PK_MATH1(m_exp, expf, exp)
PK_MATH1(m_expm1, expm1f, expm1)
PK_MATH1(m_log, logf, log)
PK_MATH1(m_log1p, log1pf, log1p)
PK_MATH1(m_sqrt, sqrtf, sqrt)
PK_MATH1(m_floor, floorf, floor)
PK_MATH1(m_rint, rintf, rint)
PK_MATH1(m_tanh, tanhf, tanh)
PK_MATH1(m_sin, sinf, sin)
PK_MATH1(m_cos, cosf, cos)
PK_MATH1(m_tan, tanf, tan)
PK_MATH1(m_fabs, fabsf, fabs)
#undef PK_MATH1
__device__ __forceinline__ float m_pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double m_pow(double a, double b) { return pow(a, b); }

template <class T>
__device__ __forceinline__ bool is_nan(T v) {
  return v != v;
}

// np.maximum / np.minimum: NaN wins (either side); any dtype.
template <class T>
__device__ __forceinline__ T max_nan(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
  }
  return a >= b ? a : b;
}

template <class T>
__device__ __forceinline__ T min_nan(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
  }
  return a <= b ? a : b;
}

// np.sign: -1, 0, 1; NaN stays NaN.
template <class T>
__device__ __forceinline__ T sign_of(T v) {
  if (is_nan(v)) return v;
  return v > T(0) ? T(1) : v < T(0) ? T(-1) : T(0);
}

// np.clip(v, lo, hi): NaN passes through.
template <class T>
__device__ __forceinline__ T clip_nan(T v, T lo, T hi) {
  if (is_nan(v)) return v;
  return v < lo ? lo : v > hi ? hi : v;
}

// np.minimum(v, 0): NaN passes through.
template <class T>
__device__ __forceinline__ T min0(T v) {
  return is_nan(v) || v < T(0) ? v : T(0);
}

// The CPU table's _sigmoid: exp(-|v|) never overflows.
template <class T>
__device__ __forceinline__ T stable_sigmoid(T v) {
  const T e = m_exp(-m_fabs(v));
  return v >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// np.logaddexp(0, v) as NumPy computes it.
template <class T>
__device__ __forceinline__ T softplus_of(T v) {
  if (v == T(0)) return T(0.69314718055994530942);
  const T tmp = -v;
  if (tmp > T(0)) return m_log1p(m_exp(v));
  if (tmp <= T(0)) return v + m_log1p(m_exp(tmp));
  return tmp;  // NaN
}

// The CPU table's _erf: Numerical Recipes' Chebyshev fit, in double.
__device__ __forceinline__ double erf_nr(double x) {
  const double z = fabs(x);
  const double t = 1.0 / (1.0 + 0.5 * z);
  const double poly =
      -1.26551223 +
      t * (1.00002368 +
           t * (0.37409196 +
                t * (0.09678418 +
                     t * (-0.18628806 +
                          t * (0.27886807 +
                               t * (-1.13520398 +
                                    t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const double erfc = t * exp(-z * z + poly);
  return x >= 0 ? 1.0 - erfc : erfc - 1.0;
}

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluC = 0.044715;
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr double kSqrt2Pi = 2.50662827463100050242;  // sqrt(2 pi)
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;
constexpr float kSeluScale = 1.0507009873554804934193349852946f;

__device__ __forceinline__ double gelu_tanh(double v) {
  return 0.5 * v * (1 + tanh(kSqrt2OverPi * (v + kGeluC * v * v * v)));
}
__device__ __forceinline__ double gelu_tanh_grad(double v) {
  const double t = tanh(kSqrt2OverPi * (v + kGeluC * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * kSqrt2OverPi * (1 + 3 * kGeluC * v * v);
}
__device__ __forceinline__ double gelu_erf(double v) { return 0.5 * v * (1.0 + erf_nr(v / kSqrt2)); }
__device__ __forceinline__ double gelu_erf_grad(double v) {
  return 0.5 * (1.0 + erf_nr(v / kSqrt2)) + v * exp(-0.5 * v * v) / kSqrt2Pi;
}

// Keras' relu(x, negative_slope, max_value, threshold): p.a slope, p.b max
// (if p.has_b), p.c threshold.
template <class T>
__device__ __forceinline__ T relu_general(T v, const UnaryParams& p) {
  const T slope = T(p.a), thr = T(p.c);
  T kept = v > thr ? v : T(0);
  if (p.has_b) kept = clip_nan(kept, T(0), T(p.b));
  const T below = thr - v;
  return kept - slope * (below > T(0) ? below : is_nan(below) ? below : T(0));
}

template <class T>
__device__ __forceinline__ T relu_general_grad(T v, const UnaryParams& p) {
  const T thr = T(p.c);
  bool d = v > thr;
  if (p.has_b) {
    const T kept = d ? v : T(0);
    const bool six = p.b == 6.0f && p.c == 0.0f;
    d = d && (six ? (kept > T(0) && kept < T(p.b)) : (kept >= T(0) && kept <= T(p.b)));
  }
  return T(d ? 1 : 0) + T(p.a) * T(v < thr ? 1 : 0);
}

// np.round(v, decimals): round half to even on v scaled by 10^decimals.
template <class T>
__device__ __forceinline__ T round_decimals(T v, int decimals) {
  if (decimals == 0) return m_rint(v);
  if (decimals > 0) {
    const T f = T(pow(10.0, double(decimals)));
    return m_rint(v * f) / f;
  }
  const T f = T(pow(10.0, double(-decimals)));
  return m_rint(v / f) * f;
}

template <class T>
__device__ T unary_value(UnaryOp op, T v, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::negative: return -v;
    case UnaryOp::abs: return m_fabs(v);
    case UnaryOp::square: return v * v;
    case UnaryOp::sqrt: return m_sqrt(v);
    case UnaryOp::reciprocal: return T(1) / v;
    case UnaryOp::exp: return m_exp(v);
    case UnaryOp::expm1: return m_expm1(v);
    case UnaryOp::log: return m_log(v);
    case UnaryOp::log1p: return m_log1p(v);
    case UnaryOp::sign: return sign_of(v);
    case UnaryOp::floor: return m_floor(v);
    case UnaryOp::round: return round_decimals(v, p.decimals);
    case UnaryOp::relu: return v < T(0) ? T(0) : v;
    case UnaryOp::relu_general: return relu_general(v, p);
    case UnaryOp::relu6: return clip_nan(v, T(0), T(6));
    case UnaryOp::leaky_relu: return v > T(0) ? v : T(p.a) * v;
    case UnaryOp::elu: return v > T(0) ? v : T(p.a) * m_expm1(min0(v));
    case UnaryOp::selu:
      return T(kSeluScale) * (v > T(0) ? v : T(kSeluAlpha) * m_expm1(min0(v)));
    case UnaryOp::gelu: return T(gelu_tanh(double(v)));
    case UnaryOp::gelu_erf: return T(gelu_erf(double(v)));
    case UnaryOp::erf: return T(erf_nr(double(v)));
    case UnaryOp::sigmoid: return T(1) / (T(1) + m_exp(-v));
    case UnaryOp::hard_sigmoid: return clip_nan(v / T(6) + T(0.5), T(0), T(1));
    case UnaryOp::hard_silu: return v * clip_nan(v / T(6) + T(0.5), T(0), T(1));
    case UnaryOp::tanh: return m_tanh(v);
    case UnaryOp::softplus: return softplus_of(v);
    case UnaryOp::softsign: return v / (T(1) + m_fabs(v));
    case UnaryOp::silu: return v * stable_sigmoid(v);
    case UnaryOp::exponential: return m_exp(v);
    case UnaryOp::sin: return m_sin(v);
    case UnaryOp::cos: return m_cos(v);
    case UnaryOp::tan: return m_tan(v);
    default: return v;  // logical_not has its own kernel
  }
}

// d op / dx at x = v with output y (the CPU table's derivative column).
template <class T>
__device__ T unary_derivative(UnaryOp op, T v, T y, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::abs: return sign_of(v);
    case UnaryOp::square: return T(2) * v;
    case UnaryOp::sqrt: return T(0.5) / y;
    case UnaryOp::reciprocal: return -y * y;
    case UnaryOp::exp: return y;
    case UnaryOp::expm1: return y + T(1);
    case UnaryOp::log: return T(1) / v;
    case UnaryOp::log1p: return T(1) / (T(1) + v);
    case UnaryOp::relu: return y > T(0) ? T(1) : T(0);
    case UnaryOp::relu_general: return relu_general_grad(v, p);
    case UnaryOp::relu6: return v > T(0) && v < T(6) ? T(1) : T(0);
    case UnaryOp::leaky_relu: return v > T(0) ? T(1) : T(p.a);
    case UnaryOp::elu: return v > T(0) ? T(1) : T(p.a) * m_exp(min0(v));
    case UnaryOp::selu:
      return T(kSeluScale) * (v >= T(0) ? T(1) : T(kSeluAlpha) * m_exp(min0(v)));
    case UnaryOp::gelu: return T(gelu_tanh_grad(double(v)));
    case UnaryOp::gelu_erf: return T(gelu_erf_grad(double(v)));
    case UnaryOp::sigmoid: return y * (T(1) - y);
    case UnaryOp::hard_sigmoid: return v > T(-3) && v < T(3) ? T(1) / T(6) : T(0);
    case UnaryOp::hard_silu:
      return v >= T(3) ? T(1) : v > T(-3) && v < T(3) ? v / T(3) + T(0.5) : T(0);
    case UnaryOp::tanh: return T(1) - y * y;
    case UnaryOp::softplus: return stable_sigmoid(v);
    case UnaryOp::softsign: {
      const T d = T(1) + m_fabs(v);
      return T(1) / (d * d);
    }
    case UnaryOp::silu: {
      const T s = stable_sigmoid(v);
      return s * (T(1) + v * (T(1) - s));
    }
    case UnaryOp::exponential: return y;
    case UnaryOp::sin: return m_cos(v);
    case UnaryOp::cos: return -m_sin(v);
    case UnaryOp::tan: return T(1) + y * y;
    default: return T(0);  // ops without a gradient are rejected by the binding
  }
}

}  // namespace pykern::cuda
