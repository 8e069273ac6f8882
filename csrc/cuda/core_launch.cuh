// Device-side helpers shared by the core kernels (core_*.cu): grid-stride
// launch shapes, dtype dispatch and conversions, and the strided/broadcast
// indexer that turns a flat output index into operand offsets.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda/array.h"
#include "cuda/core.h"

namespace pykern::cuda {

constexpr int kBlock = 256;
// Enough CTAs to fill any current GPU many times over; grid-stride loops cover the rest.
constexpr int64_t kMaxBlocks = int64_t(1) << 20;

__device__ __forceinline__ int64_t global_index() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// Blocks for a grid-stride loop over n > 0 items.
inline dim3 grid_for(int64_t n, int block = kBlock) {
  int64_t b = (n + block - 1) / block;
  if (b < 1) b = 1;
  return dim3(static_cast<unsigned>(b < kMaxBlocks ? b : kMaxBlocks));
}

// NumPy's astype: to bool is "!= 0", from bool is 0/1, otherwise a C++ conversion.
template <class To, class From>
__host__ __device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else {
    return static_cast<To>(v);
  }
}

// Calls f(T{}) with T the C++ type of d.
template <class F>
void dispatch_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::i64: f(int64_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    case DType::b8: f(bool{}); return;
  }
}

template <class F>
void dispatch_float(DType d, const char* op, F&& f) {
  if (d == DType::f32) return f(float{});
  if (d == DType::f64) return f(double{});
  throw std::invalid_argument(std::string(op) + ": expected float32 or float64, got " +
                              dtype_name(d));
}

// K operands' element strides over a merged output shape of at most kMaxDims dims.
template <int K>
struct Strides {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t stride[K][kMaxDims];
};

// The offsets of flat (row-major) output index i in each operand.
template <int K>
__device__ __forceinline__ void offsets_of(const Strides<K>& s, int64_t i, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) off[k] = 0;
  if (s.ndim == 1) {  // the common merged case: no division
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] = i * s.stride[k][0];
    return;
  }
  for (int d = s.ndim - 1; d >= 0; --d) {
    const int64_t q = i / s.shape[d], r = i - q * s.shape[d];
    i = q;
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] += r * s.stride[k][d];
  }
}

// Strides<K> for `shape` with the given per-operand strides: drops size-1 dims
// and merges neighbours that are contiguous in every operand (a (N, C) + (C,)
// broadcast stays 2-D, a same-shape op becomes 1-D). std::invalid_argument
// naming `op` when more than kMaxDims dims remain.
template <int K>
Strides<K> make_strides(const std::vector<int64_t>& shape,
                        const std::array<std::vector<int64_t>, K>& strides, const char* op) {
  std::vector<int64_t> dims;
  std::array<std::vector<int64_t>, K> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const bool merge = !dims.empty() && [&] {
      for (int k = 0; k < K; ++k)
        if (st[k].back() != strides[k][d] * shape[d]) return false;
      return true;
    }();
    if (merge) {
      dims.back() *= shape[d];
      for (int k = 0; k < K; ++k) st[k].back() = strides[k][d];
    } else {
      dims.push_back(shape[d]);
      for (int k = 0; k < K; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (int k = 0; k < K; ++k) st[k].push_back(0);
  }
  if (dims.size() > size_t(kMaxDims))
    throw std::invalid_argument(std::string(op) + ": more than " + std::to_string(kMaxDims) +
                                " non-mergeable dimensions (shape " + shape_str(shape) + ")");
  Strides<K> s;
  s.ndim = int(dims.size());
  for (int d = 0; d < s.ndim; ++d) {
    s.shape[d] = dims[d];
    for (int k = 0; k < K; ++k) s.stride[k][d] = st[k][d];
  }
  return s;
}

// The strides of an array of `shape` read broadcast to `out` (right-aligned,
// 0 along broadcast or missing dims); a scalar (null) has all-zero strides.
inline std::vector<int64_t> broadcast_strides(const Array* a, const std::vector<int64_t>& out) {
  std::vector<int64_t> st(out.size(), 0);
  if (!a) return st;
  const auto& s = a->shape();
  const size_t lead = out.size() - s.size();
  int64_t step = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[lead + i] = s[i] == 1 ? 0 : step;
    step *= s[i];
  }
  return st;
}

}  // namespace pykern::cuda
