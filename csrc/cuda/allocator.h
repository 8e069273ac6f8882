// A small caching device allocator. cudaMalloc/cudaFree synchronise the
// device and cost tens of microseconds, so freed blocks are kept and handed
// out again to requests of the same size class on the same device.
//
// Safe to reuse without a sync because all pykern._cuda work runs on the
// legacy default stream: whatever the next owner of a block enqueues is
// ordered after the previous owner's work.
#pragma once
#include <cstddef>

namespace pykern::cuda {

// One device allocation, returned to the cache when destroyed. bytes == 0
// gives a null buffer. Throws std::runtime_error if cudaMalloc fails even
// after the cache has been emptied.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  float* f32() const { return static_cast<float*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t class_bytes_ = 0;
  int device_ = 0;
};

// Frees every cached (not in-use) block on every device.
void empty_cache();

// Bytes held in the cache, not in use.
size_t cached_bytes();

}  // namespace pykern::cuda
