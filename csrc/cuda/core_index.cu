// Gathers with bounds checks (take, one_hot), the collectives' packing of
// many arrays into one buffer, and the Philox fills into new Arrays.
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"
#include "cuda/random.h"

namespace pykern::cuda {
namespace {

// idx wrapped as NumPy does for negative indices; -1 when outside [-n, n).
template <class I>
__device__ __forceinline__ int64_t wrap_index(I v, int64_t n) {
  int64_t k = int64_t(v);
  if (k < 0) k += n;
  return k >= 0 && k < n ? k : -1;
}

template <class W, class I>
__global__ void take_kernel(const W* __restrict__ x, const I* __restrict__ idx, W* __restrict__ out,
                            int64_t outer, int64_t n, int64_t m, int64_t inner,
                            unsigned long long* __restrict__ first_bad) {
  const int64_t total = outer * m * inner;
  for (int64_t i = global_index(); i < total; i += grid_stride()) {
    const int64_t in = i % inner, t = i / inner, j = t % m, o = t / m;
    int64_t k = wrap_index(idx[j], n);
    if (k < 0) {
      atomicMin(first_bad, static_cast<unsigned long long>(j));
      k = 0;
    }
    out[i] = x[(o * n + k) * inner + in];
  }
}

template <class T, class I>
__global__ void one_hot_kernel(const I* __restrict__ idx, T* __restrict__ out, int64_t m,
                               int64_t depth, unsigned long long* __restrict__ first_bad) {
  const int64_t total = m * depth;
  for (int64_t i = global_index(); i < total; i += grid_stride()) {
    const int64_t j = i / depth, c = i % depth;
    const int64_t k = wrap_index(idx[j], depth);
    if (k < 0 && c == 0) atomicMin(first_bad, static_cast<unsigned long long>(j));
    out[i] = convert<T>(c == k ? 1 : 0);
  }
}

template <class Tb, class Tx>
__global__ void pack_kernel(Tb* __restrict__ buf, const Tx* __restrict__ x, int64_t n,
                            Tx scale) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) buf[i] = Tb(x[i] * scale);
}

template <class Tb, class Tx>
__global__ void unpack_kernel(Tx* __restrict__ x, const Tb* __restrict__ buf, int64_t n,
                              Tb divisor) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) x[i] = Tx(buf[i] / divisor);
}

int64_t index_at(const Array& idx, int64_t j) {
  int64_t v = 0;
  if (idx.dtype() == DType::i32) {
    int32_t w = 0;
    PK_CUDA_CHECK(cudaMemcpy(&w, idx.data<int32_t>() + j, sizeof w, cudaMemcpyDeviceToHost));
    v = w;
  } else {
    PK_CUDA_CHECK(cudaMemcpy(&v, idx.data<int64_t>() + j, sizeof v, cudaMemcpyDeviceToHost));
  }
  return v;
}

template <class F>
void dispatch_index(DType d, F&& f) {
  if (d == DType::i32) f(int32_t{});
  else f(int64_t{});
}

}  // namespace

BadPositionFlag::BadPositionFlag(int device) : word_({1}, DType::i64, device) {
  DeviceGuard g(device);
  PK_CUDA_CHECK(cudaMemsetAsync(word_.raw(), 0xFF, sizeof(unsigned long long), 0));
}

int64_t BadPositionFlag::first_bad() const {
  unsigned long long v = 0;
  download(&v, word_);
  return v == ~0ull ? -1 : static_cast<int64_t>(v);
}

Array take(const Array& x, const Array& idx, int64_t outer, int64_t n, int64_t inner,
           const std::vector<int64_t>& out_shape) {
  DeviceGuard g(x.device());
  Array out(out_shape, x.dtype(), x.device());
  const int64_t m = idx.size();
  if (out.size() == 0 && !(m > 0 && n == 0)) return out;
  if (n == 0)
    throw std::out_of_range("take: cannot take from an empty axis (index " +
                            std::to_string(index_at(idx, 0)) + ")");
  const BadPositionFlag flag(x.device());
  unsigned long long* fp = flag.ptr();
  const int64_t total = outer * m * inner;
  dispatch_index(idx.dtype(), [&](auto it) {
    using I = decltype(it);
    switch (dtype_size(x.dtype())) {
      case 1:
        take_kernel<uint8_t, I><<<grid_for(total), kBlock>>>(
            static_cast<const uint8_t*>(x.raw()), idx.data<I>(), static_cast<uint8_t*>(out.raw()),
            outer, n, m, inner, fp);
        break;
      case 4:
        take_kernel<uint32_t, I><<<grid_for(total), kBlock>>>(
            static_cast<const uint32_t*>(x.raw()), idx.data<I>(),
            static_cast<uint32_t*>(out.raw()), outer, n, m, inner, fp);
        break;
      default:
        take_kernel<uint64_t, I><<<grid_for(total), kBlock>>>(
            static_cast<const uint64_t*>(x.raw()), idx.data<I>(),
            static_cast<uint64_t*>(out.raw()), outer, n, m, inner, fp);
    }
  });
  PK_LAUNCH_CHECK("take");
  const int64_t bad = flag.first_bad();
  if (bad >= 0)
    throw std::out_of_range("take: index " + std::to_string(index_at(idx, bad)) +
                            " is out of bounds for an axis of size " + std::to_string(n));
  return out;
}

Array one_hot(const Array& idx, int64_t depth, DType dtype) {
  DeviceGuard g(idx.device());
  std::vector<int64_t> shape = idx.shape();
  shape.push_back(depth);
  Array out(shape, dtype, idx.device());
  const int64_t m = idx.size();
  if (m == 0) return out;
  if (depth == 0)
    throw std::out_of_range("one_hot: index " + std::to_string(index_at(idx, 0)) +
                            " is out of bounds for depth 0");
  const BadPositionFlag flag(idx.device());
  unsigned long long* fp = flag.ptr();
  dispatch_index(idx.dtype(), [&](auto it) {
    using I = decltype(it);
    dispatch_dtype(dtype, [&](auto t) {
      using T = decltype(t);
      one_hot_kernel<T, I><<<grid_for(m * depth), kBlock>>>(idx.data<I>(), out.data<T>(), m,
                                                            depth, fp);
    });
  });
  PK_LAUNCH_CHECK("one_hot");
  const int64_t bad = flag.first_bad();
  if (bad >= 0)
    throw std::out_of_range("one_hot: index " + std::to_string(index_at(idx, bad)) +
                            " is out of bounds for depth " + std::to_string(depth));
  return out;
}

void pack(const Array& buf, int64_t offset, const Array& x, double scale) {
  const int64_t n = x.size();
  if (n == 0) return;
  DeviceGuard g(buf.device());
  dispatch_float(buf.dtype(), "pack_", [&](auto tb) {
    using Tb = decltype(tb);
    dispatch_float(x.dtype(), "pack_", [&](auto tx) {
      using Tx = decltype(tx);
      pack_kernel<Tb, Tx><<<grid_for(n), kBlock>>>(buf.data<Tb>() + offset, x.data<Tx>(), n,
                                                   Tx(scale));
    });
  });
  PK_LAUNCH_CHECK("pack_");
}

void unpack(const Array& x, const Array& buf, int64_t offset, double divisor) {
  const int64_t n = x.size();
  if (n == 0) return;
  DeviceGuard g(buf.device());
  dispatch_float(buf.dtype(), "unpack_", [&](auto tb) {
    using Tb = decltype(tb);
    dispatch_float(x.dtype(), "unpack_", [&](auto tx) {
      using Tx = decltype(tx);
      unpack_kernel<Tb, Tx><<<grid_for(n), kBlock>>>(x.data<Tx>(), buf.data<Tb>() + offset, n,
                                                     Tb(divisor));
    });
  });
  PK_LAUNCH_CHECK("unpack_");
}

Array random_fill(const std::vector<int64_t>& shape, const RandomArgs& a, int device) {
  DeviceGuard g(device);
  Array out(shape, DType::f32, device);
  random_fill_device(out.data<float>(), out.size(), a);
  return out;
}

}  // namespace pykern::cuda
