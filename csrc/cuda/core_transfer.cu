// Host <-> device copies, device copies, fills and casts: the storage moves
// of the CUDA kernel table.
#include <cstdint>

#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"

namespace pykern::cuda {

void upload(const Array& dst, const void* host) {
  if (dst.nbytes() == 0) return;
  DeviceGuard g(dst.device());
  // Async from pageable memory: staged before returning (the host buffer may be
  // reused at once) without waiting for the device's queued kernels.
  PK_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), host, dst.nbytes(), cudaMemcpyHostToDevice, 0));
}

void download(void* host, const Array& src) {
  if (src.nbytes() == 0) return;
  DeviceGuard g(src.device());
  PK_CUDA_CHECK(cudaMemcpy(host, src.raw(), src.nbytes(), cudaMemcpyDeviceToHost));
}

void copy_bytes(const Array& dst, const Array& src) {
  if (src.nbytes() == 0 || dst.raw() == src.raw()) return;
  DeviceGuard g(dst.device());
  PK_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice, 0));
}

void synchronize(int device) {
  DeviceGuard g(device);
  PK_CUDA_CHECK(cudaDeviceSynchronize());
}

namespace {

template <class T>
__global__ void fill_kernel(T* out, int64_t n, T v) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) out[i] = v;
}

template <class From, class To>
__global__ void cast_kernel(const From* x, To* y, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) y[i] = convert<To>(x[i]);
}

template <class T>
void fill_typed(const Array& out, double value) {
  const int64_t n = out.size();
  fill_kernel<T><<<grid_for(n), kBlock>>>(out.data<T>(), n, convert<T>(value));
  PK_LAUNCH_CHECK("fill");
}

template <class From>
void cast_from(const Array& x, const Array& y) {
  const int64_t n = x.size();
  dispatch_dtype(y.dtype(), [&](auto to) {
    using To = decltype(to);
    cast_kernel<From, To><<<grid_for(n), kBlock>>>(x.data<From>(), y.data<To>(), n);
  });
  PK_LAUNCH_CHECK("cast");
}

}  // namespace

void fill(const Array& out, double value) {
  if (out.size() == 0) return;
  DeviceGuard g(out.device());
  dispatch_dtype(out.dtype(), [&](auto t) { fill_typed<decltype(t)>(out, value); });
}

Array cast(const Array& x, DType to) {
  DeviceGuard g(x.device());
  Array y(x.shape(), to, x.device());
  if (x.size() == 0) return y;
  if (x.dtype() == to) {
    copy_bytes(y, x);
    return y;
  }
  dispatch_dtype(x.dtype(), [&](auto from) { cast_from<decltype(from)>(x, y); });
  return y;
}

}  // namespace pykern::cuda
