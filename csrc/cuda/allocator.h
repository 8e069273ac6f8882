// A small caching device allocator. cudaMalloc/cudaFree synchronise the
// device and cost tens of microseconds, so freed blocks are kept in
// size-binned free lists and handed out again to requests of the same size
// class on the same device.
//
// Safe to reuse without a sync because all pykern._cuda work runs on the
// legacy default stream: whatever the next owner of a block enqueues is
// ordered after the previous owner's work.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace pykern::cuda {

// cudaMalloc failed even after the cache was emptied; MemoryError in Python.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One device allocation, returned to the cache when destroyed. bytes == 0
// gives a null buffer. Throws OutOfMemory when cudaMalloc runs out of memory
// even after the cache has been emptied, std::runtime_error on other errors.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* ptr() const { return ptr_; }
  float* f32() const { return static_cast<float*>(ptr_); }
  size_t class_bytes() const { return class_bytes_; }
  int device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t class_bytes_ = 0;
  int device_ = 0;
};

// Frees every cached (not in-use) block on every device.
void empty_cache();

// Bytes held in the cache, not in use (all devices).
size_t cached_bytes();

// The allocator's counters for one device (bytes are size-class bytes).
struct MemoryStats {
  int64_t allocated_bytes = 0;       // in use by live buffers
  int64_t peak_allocated_bytes = 0;  // max of allocated_bytes since the last reset
  int64_t cached_bytes = 0;          // freed, kept for reuse
  int64_t reserved_bytes = 0;        // allocated + cached: what cudaMalloc holds for us
  int64_t device_mallocs = 0;        // cudaMalloc calls (cache misses)
  int64_t oom_retries = 0;           // times the cache was emptied to retry a cudaMalloc
};
MemoryStats memory_stats(int device);
void reset_peak_memory(int device);

}  // namespace pykern::cuda
