#include <cstring>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/device.h"

namespace pykern::cuda {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  cudaGetLastError();
  const char* base = std::strrchr(file, '/');
  throw std::runtime_error(std::string("pykern._cuda: ") + call + " failed: " +
                           cudaGetErrorString(err) + " (" + cudaGetErrorName(err) + ") at " +
                           (base ? base + 1 : file) + ":" + std::to_string(line));
}

void check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) return;
  throw std::runtime_error(std::string("pykern._cuda: ") + kernel + ": " + cudaGetErrorString(err) +
                           " (" + cudaGetErrorName(err) + ")");
}

int device_count() {
  int n = 0;
  // No driver (cudaErrorInsufficientDriver) or no GPU (cudaErrorNoDevice) both
  // mean "no devices"; the static runtime lets us get this far without either.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

DeviceInfo device_info(int index) {
  const int n = device_count();
  if (index < 0 || index >= n)
    throw std::invalid_argument("device_info: index " + std::to_string(index) +
                                " is out of range for " + std::to_string(n) + " CUDA device(s)");
  cudaDeviceProp prop;
  PK_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  DeviceInfo d;
  d.name = prop.name;
  d.major = prop.major;
  d.minor = prop.minor;
  d.total_memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  d.multiprocessors = prop.multiProcessorCount;
  return d;
}

std::pair<int64_t, int64_t> device_memory(int index) {
  int current = 0;
  PK_CUDA_CHECK(cudaGetDevice(&current));
  PK_CUDA_CHECK(cudaSetDevice(index));
  size_t free_b = 0, total_b = 0;
  const cudaError_t err = cudaMemGetInfo(&free_b, &total_b);
  PK_CUDA_CHECK(cudaSetDevice(current));
  PK_CUDA_CHECK(err);
  return {int64_t(free_b), int64_t(total_b)};
}

void require_device() {
  if (device_count() == 0) throw std::runtime_error("pykern._cuda: no CUDA device");
}

}  // namespace pykern::cuda
