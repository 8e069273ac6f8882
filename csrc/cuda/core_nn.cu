// softmax / log_softmax, the three crossentropies (forward value and gradient
// in one pass, the CPU table's formulas), the loss reduction's final division
// and the metrics' running (total, count). Rows are reduced by one warp each
// with xor-shuffle trees: every lane ends with the same, order-fixed value.
#include <climits>
#include <cstdint>
#include <string>

#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"
#include "cuda/core_math.cuh"

namespace pykern::cuda {
namespace {

constexpr int kWarp = 32;
constexpr float kEps = 1e-7f;  // pykern.losses.EPSILON as float32

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = kWarp / 2; o > 0; o >>= 1) v = max_nan(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Warps over rows: warp w of the grid takes rows w, w + warps, ...
__device__ __forceinline__ int64_t warp_id() { return global_index() / kWarp; }
__device__ __forceinline__ int64_t warp_count() { return grid_stride() / kWarp; }
__device__ __forceinline__ int lane() { return threadIdx.x % kWarp; }

// log(sum(exp(zr))) of a row of C, stable (max subtracted), the same on every lane.
__device__ __forceinline__ float warp_logsumexp(const float* zr, int64_t C) {
  float m = -INFINITY;
  for (int64_t c = lane(); c < C; c += kWarp) m = max_nan(m, zr[c]);
  m = warp_max(m);
  float s = 0.0f;
  for (int64_t c = lane(); c < C; c += kWarp) s += expf(zr[c] - m);
  return m + logf(warp_sum(s));
}

// Blocks for one warp per row (rows > 0).
dim3 warp_grid(int64_t rows) { return grid_for(rows * kWarp); }

// ---- softmax ------------------------------------------------------------------------------------

__global__ void softmax_rows_kernel(const float* __restrict__ x, float* __restrict__ y,
                                    int64_t rows, int64_t R, bool log) {
  for (int64_t row = warp_id(); row < rows; row += warp_count()) {
    const float* xr = x + row * R;
    float* yr = y + row * R;
    float m = -INFINITY;
    for (int64_t r = lane(); r < R; r += kWarp) m = max_nan(m, xr[r]);
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t r = lane(); r < R; r += kWarp) s += expf(xr[r] - m);
    s = warp_sum(s);
    if (log) {
      const float ls = logf(s);
      for (int64_t r = lane(); r < R; r += kWarp) yr[r] = (xr[r] - m) - ls;
    } else {
      for (int64_t r = lane(); r < R; r += kWarp) yr[r] = expf(xr[r] - m) / s;
    }
  }
}

// x (A, R, B) with B > 1: a thread per (a, b), sequential along R.
__global__ void softmax_strided_kernel(const float* __restrict__ x, float* __restrict__ y,
                                       int64_t A, int64_t R, int64_t B, bool log) {
  for (int64_t idx = global_index(); idx < A * B; idx += grid_stride()) {
    const int64_t a = idx / B, b = idx % B;
    const float* xr = x + a * R * B + b;
    float* yr = y + a * R * B + b;
    float m = -INFINITY;
    for (int64_t r = 0; r < R; ++r) m = max_nan(m, xr[r * B]);
    float s = 0.0f;
    for (int64_t r = 0; r < R; ++r) s += expf(xr[r * B] - m);
    const float ls = logf(s);
    for (int64_t r = 0; r < R; ++r)
      yr[r * B] = log ? (xr[r * B] - m) - ls : expf(xr[r * B] - m) / s;
  }
}

// ---- crossentropies -----------------------------------------------------------------------------

__global__ void binary_ce_kernel(const float* __restrict__ y, const float* __restrict__ z,
                                 float* __restrict__ elem, float* __restrict__ grad, int64_t n,
                                 bool from_logits) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const float yv = y[i], zv = z[i];
    if (from_logits) {
      const float relu = is_nan(zv) ? zv : (zv > 0.0f ? zv : 0.0f);
      elem[i] = (relu - zv * yv) + log1pf(expf(-fabsf(zv)));
      grad[i] = 1.0f / (1.0f + expf(-zv)) - yv;
    } else {
      const float pc = clip_nan(zv, kEps, 1.0f - kEps);
      const float a = pc + kEps, b = (1.0f - pc) + kEps;
      elem[i] = -(yv * logf(a) + (1.0f - yv) * logf(b));
      const bool inside = zv >= kEps && zv <= 1.0f - kEps;
      grad[i] = inside ? -(yv / a) + (1.0f - yv) / b : 0.0f;
    }
  }
}

__global__ void categorical_ce_kernel(const float* __restrict__ y, const float* __restrict__ z,
                                      float* __restrict__ values, float* __restrict__ grad,
                                      int64_t rows, int64_t C, bool from_logits) {
  for (int64_t row = warp_id(); row < rows; row += warp_count()) {
    const float* yr = y + row * C;
    const float* zr = z + row * C;
    float* gr = grad + row * C;
    if (from_logits) {
      const float lse = warp_logsumexp(zr, C);
      float v = 0.0f, ysum = 0.0f;
      for (int64_t c = lane(); c < C; c += kWarp) {
        v += yr[c] * (zr[c] - lse);
        ysum += yr[c];
      }
      v = warp_sum(v);
      ysum = warp_sum(ysum);
      for (int64_t c = lane(); c < C; c += kWarp) gr[c] = expf(zr[c] - lse) * ysum - yr[c];
      if (lane() == 0) values[row] = -v;
    } else {
      float s = 0.0f;
      for (int64_t c = lane(); c < C; c += kWarp) s += zr[c];
      s = warp_sum(s);
      float v = 0.0f, dqq = 0.0f;
      for (int64_t c = lane(); c < C; c += kWarp) {
        const float q = zr[c] / s, qc = clip_nan(q, kEps, 1.0f - kEps);
        v += yr[c] * logf(qc);
        const float dq = q >= kEps && q <= 1.0f - kEps ? -yr[c] / qc : 0.0f;
        dqq += dq * q;
      }
      v = warp_sum(v);
      dqq = warp_sum(dqq);
      for (int64_t c = lane(); c < C; c += kWarp) {
        const float q = zr[c] / s, qc = clip_nan(q, kEps, 1.0f - kEps);
        const float dq = q >= kEps && q <= 1.0f - kEps ? -yr[c] / qc : 0.0f;
        gr[c] = (dq - dqq) / s;
      }
      if (lane() == 0) values[row] = -v;
    }
  }
}

// Labels as NumPy's astype(int64) reads them; `exact` false for a float label
// with a fraction.
template <class L>
__device__ __forceinline__ int64_t label_index(L v, bool* exact) {
  if constexpr (std::is_floating_point_v<L>) {
    const bool finite = v == v && v > L(-9.2e18) && v < L(9.2e18);
    const int64_t i = finite ? int64_t(v) : INT64_MIN;
    *exact = finite && L(i) == v;
    return i;
  } else {
    *exact = true;
    return int64_t(v);
  }
}

template <class L>
__global__ void sparse_ce_kernel(const L* __restrict__ labels, const float* __restrict__ z,
                                 float* __restrict__ values, float* __restrict__ grad,
                                 int64_t rows, int64_t C, bool from_logits, bool has_ignore,
                                 int64_t ignore_class, unsigned long long* __restrict__ first_bad) {
  for (int64_t row = warp_id(); row < rows; row += warp_count()) {
    bool exact;
    int64_t idx = label_index(labels[row], &exact);
    const bool valid = !has_ignore || idx != ignore_class;
    if (!valid) {
      idx = 0;
      exact = true;
    }
    if (idx < 0 || idx >= C || !exact) {
      if (lane() == 0) atomicMin(first_bad, static_cast<unsigned long long>(row));
      idx = 0;  // keep the reads in bounds; the caller raises
    }
    const float* zr = z + row * C;
    float* gr = grad + row * C;
    const float keep = valid ? 1.0f : 0.0f;
    if (from_logits) {
      const float lse = warp_logsumexp(zr, C);
      for (int64_t c = lane(); c < C; c += kWarp)
        gr[c] = (expf(zr[c] - lse) - (c == idx ? 1.0f : 0.0f)) * keep;
      if (lane() == 0) values[row] = valid ? lse - zr[idx] : 0.0f;
    } else {
      float s = 0.0f;
      for (int64_t c = lane(); c < C; c += kWarp) s += clip_nan(zr[c], kEps, 1.0f - kEps);
      s = warp_sum(s);
      for (int64_t c = lane(); c < C; c += kWarp) {
        const float zv = zr[c], pc = clip_nan(zv, kEps, 1.0f - kEps);
        const float g = zv >= kEps && zv <= 1.0f - kEps
                            ? 1.0f / s - (c == idx ? 1.0f : 0.0f) / pc
                            : 0.0f;
        gr[c] = g * keep;
      }
      if (lane() == 0)
        values[row] = valid ? logf(s) - logf(clip_nan(zr[idx], kEps, 1.0f - kEps)) : 0.0f;
    }
  }
}

// ---- loss reduction and metric state -----------------------------------------------------------

__global__ void loss_finish_kernel(const double* total, const double* wsum, int64_t count,
                                   int mode, float* loss, float* scale) {
  double t = *total, div;
  if (mode == 1) {
    div = 1.0;
  } else if (mode == 2) {
    div = *wsum;
    if (div == 0.0) {
      div = 1.0;
      t = 0.0 * t;
    }
  } else {
    div = double(count > 1 ? count : 1);
  }
  *loss = float(t / div);
  *scale = float(1.0 / div);
}

__device__ __forceinline__ double load_double(const void* p, DType d) {
  switch (d) {
    case DType::f32: return *static_cast<const float*>(p);
    case DType::f64: return *static_cast<const double*>(p);
    case DType::i32: return *static_cast<const int32_t*>(p);
    case DType::i64: return double(*static_cast<const int64_t*>(p));
    case DType::u8: return *static_cast<const uint8_t*>(p);
    default: return *static_cast<const bool*>(p) ? 1.0 : 0.0;
  }
}

struct DoubleArg {
  const void* p;
  DType dtype;
  double v;
};

DoubleArg double_arg(const Operand& o) {
  if (o.array) return {o.array->raw(), o.array->dtype(), 0.0};
  return {nullptr, DType::f64, o.value};
}

__global__ void accumulate_kernel(const double* state, DoubleArg total, DoubleArg count,
                                  double scale, double* out) {
  const double t = total.p ? load_double(total.p, total.dtype) : total.v;
  const double c = count.p ? load_double(count.p, count.dtype) : count.v;
  out[0] = (state ? state[0] : 0.0) + t * scale;
  out[1] = (state ? state[1] : 0.0) + c;
}

}  // namespace

Array softmax(const Array& x, int64_t A, int64_t R, int64_t B, bool log) {
  DeviceGuard g(x.device());
  Array y(x.shape(), DType::f32, x.device());
  if (x.size() == 0) return y;
  if (B == 1)
    softmax_rows_kernel<<<warp_grid(A), kBlock>>>(x.data<float>(), y.data<float>(), A, R, log);
  else
    softmax_strided_kernel<<<grid_for(A * B), kBlock>>>(x.data<float>(), y.data<float>(), A, R,
                                                        B, log);
  PK_LAUNCH_CHECK(log ? "log_softmax" : "softmax");
  return y;
}

std::pair<Array, Array> binary_crossentropy(const Array& y, const Array& z, bool from_logits) {
  DeviceGuard g(z.device());
  Array elem(z.shape(), DType::f32, z.device()), grad(z.shape(), DType::f32, z.device());
  const int64_t n = z.size();
  if (n == 0) return {elem, grad};
  binary_ce_kernel<<<grid_for(n), kBlock>>>(y.data<float>(), z.data<float>(), elem.data<float>(),
                                            grad.data<float>(), n, from_logits);
  PK_LAUNCH_CHECK("binary_crossentropy");
  return {elem, grad};
}

std::pair<Array, Array> categorical_crossentropy(const Array& y, const Array& z,
                                                 bool from_logits) {
  DeviceGuard g(z.device());
  const std::vector<int64_t> rows_shape(z.shape().begin(), z.shape().end() - 1);
  Array values(rows_shape, DType::f32, z.device()), grad(z.shape(), DType::f32, z.device());
  const int64_t C = z.dim(-1), rows = C ? z.size() / C : values.size();
  if (rows == 0) return {values, grad};
  if (C == 0) {
    fill(values, 0.0);
    return {values, grad};
  }
  categorical_ce_kernel<<<warp_grid(rows), kBlock>>>(y.data<float>(), z.data<float>(),
                                                     values.data<float>(), grad.data<float>(),
                                                     rows, C, from_logits);
  PK_LAUNCH_CHECK("categorical_crossentropy");
  return {values, grad};
}

std::pair<Array, Array> sparse_categorical_crossentropy(const Array& labels, const Array& z,
                                                        bool from_logits, bool has_ignore,
                                                        int64_t ignore_class) {
  DeviceGuard g(z.device());
  Array values(labels.shape(), DType::f32, z.device()), grad(z.shape(), DType::f32, z.device());
  const int64_t rows = labels.size(), C = z.dim(-1);
  if (rows == 0) return {values, grad};
  const BadPositionFlag flag(z.device());
  dispatch_dtype(labels.dtype(), [&](auto t) {
    using L = decltype(t);
    sparse_ce_kernel<L><<<warp_grid(rows), kBlock>>>(
        labels.data<L>(), z.data<float>(), values.data<float>(), grad.data<float>(), rows, C,
        from_logits, has_ignore, ignore_class,
        flag.ptr());
  });
  PK_LAUNCH_CHECK("sparse_categorical_crossentropy");
  const int64_t bad = flag.first_bad();
  if (bad >= 0) {
    Array one = cast(labels, DType::f64);
    double v = 0.0;
    PK_CUDA_CHECK(cudaMemcpy(&v, one.data<double>() + bad, sizeof v, cudaMemcpyDeviceToHost));
    std::string shown = std::to_string(v);
    if (v == double(int64_t(v))) shown = std::to_string(int64_t(v));
    throw std::invalid_argument("sparse_categorical_crossentropy: labels must be integers in [0, " +
                                std::to_string(C) + "), got values such as [" + shown + "]");
  }
  return {values, grad};
}

std::pair<Array, Array> loss_finish(const Array& total, const Array* wsum, int64_t count,
                                    int mode) {
  DeviceGuard g(total.device());
  Array loss({}, DType::f32, total.device()), scale({}, DType::f32, total.device());
  loss_finish_kernel<<<1, 1>>>(total.data<double>(), wsum ? wsum->data<double>() : nullptr,
                               count, wsum ? mode : (mode == 2 ? 0 : mode), loss.data<float>(),
                               scale.data<float>());
  PK_LAUNCH_CHECK("reduce_loss");
  return {loss, scale};
}

Array accumulate(const Array* state, const Operand& total, const Operand& count, double scale,
                 int device) {
  DeviceGuard g(device);
  Array out({2}, DType::f64, device);
  accumulate_kernel<<<1, 1>>>(state ? state->data<double>() : nullptr, double_arg(total),
                              double_arg(count), scale, out.data<double>());
  PK_LAUNCH_CHECK("accumulate");
  return out;
}

}  // namespace pykern::cuda
