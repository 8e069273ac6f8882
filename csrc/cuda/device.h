// Device queries. Plain C++ (no CUDA headers) so the bindings can include it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

namespace pykern::cuda {

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int64_t total_memory_bytes = 0;
  int multiprocessors = 0;
};

// Visible CUDA devices; 0 (never an error) when there is no driver or no GPU.
int device_count();

// Throws std::invalid_argument unless 0 <= index < device_count().
DeviceInfo device_info(int index);

// (free, total) bytes of `index` from cudaMemGetInfo.
std::pair<int64_t, int64_t> device_memory(int index);

// Throws std::runtime_error("pykern._cuda: no CUDA device") when device_count() == 0.
void require_device();

}  // namespace pykern::cuda
