#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cuda/allocator.h"
#include "cuda/check.h"

namespace pykern::cuda {
namespace {

// Powers of two up to 1 MiB (at most 2x waste on small buffers), then
// multiples of 2 MiB (at most 2 MiB waste on large ones).
size_t size_class(size_t bytes) {
  constexpr size_t kSmallMax = size_t(1) << 20, kLargeStep = size_t(2) << 20;
  if (bytes > kSmallMax) return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
  size_t c = 512;
  while (c < bytes) c <<= 1;
  return c;
}

struct Cache {
  std::mutex mu;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_blocks;  // (device, class) -> blocks
  std::map<int, MemoryStats> stats;                                  // per device
};

// Never destroyed: freeing at process exit would race the runtime's own teardown.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

void* take_cached(int device, size_t class_bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free_blocks.find({device, class_bytes});
  if (it == c.free_blocks.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  MemoryStats& s = c.stats[device];
  s.cached_bytes -= int64_t(class_bytes);
  s.allocated_bytes += int64_t(class_bytes);
  if (s.allocated_bytes > s.peak_allocated_bytes) s.peak_allocated_bytes = s.allocated_bytes;
  return p;
}

void count_malloc(int device, size_t class_bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  MemoryStats& s = c.stats[device];
  s.allocated_bytes += int64_t(class_bytes);
  s.reserved_bytes += int64_t(class_bytes);
  if (s.allocated_bytes > s.peak_allocated_bytes) s.peak_allocated_bytes = s.allocated_bytes;
  ++s.device_mallocs;
}

void count_retry(int device) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  ++c.stats[device].oom_retries;
}

[[noreturn]] void throw_out_of_memory(int device, size_t bytes, size_t class_bytes) {
  size_t free_b = 0, total_b = 0;
  const bool known = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
  cudaGetLastError();
  std::string msg = "pykern._cuda: out of memory on cuda:" + std::to_string(device) +
                    ": could not allocate " + std::to_string(bytes) + " bytes (a block of " +
                    std::to_string(class_bytes) + ") after freeing the allocator's cache; ";
  msg += known ? "cudaMemGetInfo reports " + std::to_string(free_b) + " bytes free of " +
                     std::to_string(total_b)
               : std::string("cudaMemGetInfo failed");
  throw OutOfMemory(msg);
}

}  // namespace

DeviceBuffer::DeviceBuffer(size_t bytes) {
  if (bytes == 0) return;
  PK_CUDA_CHECK(cudaGetDevice(&device_));
  class_bytes_ = size_class(bytes);
  ptr_ = take_cached(device_, class_bytes_);
  if (ptr_) return;
  cudaError_t err = cudaMalloc(&ptr_, class_bytes_);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    count_retry(device_);
    empty_cache();
    err = cudaMalloc(&ptr_, class_bytes_);
  }
  if (err != cudaSuccess) {
    ptr_ = nullptr;
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw_out_of_memory(device_, bytes, class_bytes_);
    }
    PK_CUDA_CHECK(err);
  }
  count_malloc(device_, class_bytes_);
}

DeviceBuffer::~DeviceBuffer() {
  if (!ptr_) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[{device_, class_bytes_}].push_back(ptr_);
  MemoryStats& s = c.stats[device_];
  s.allocated_bytes -= int64_t(class_bytes_);
  s.cached_bytes += int64_t(class_bytes_);
}

void empty_cache() {
  std::map<std::pair<int, size_t>, std::vector<void*>> blocks;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.free_blocks);
    for (const auto& [key, ptrs] : blocks) {
      MemoryStats& s = c.stats[key.first];
      s.cached_bytes -= int64_t(key.second * ptrs.size());
      s.reserved_bytes -= int64_t(key.second * ptrs.size());
    }
  }
  if (blocks.empty()) return;
  int current = 0;
  PK_CUDA_CHECK(cudaGetDevice(&current));
  for (const auto& [key, ptrs] : blocks) {
    PK_CUDA_CHECK(cudaSetDevice(key.first));
    for (void* p : ptrs) PK_CUDA_CHECK(cudaFree(p));
  }
  PK_CUDA_CHECK(cudaSetDevice(current));
}

size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  size_t total = 0;
  for (const auto& [key, ptrs] : c.free_blocks) total += key.second * ptrs.size();
  return total;
}

MemoryStats memory_stats(int device) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.stats.find(device);
  return it == c.stats.end() ? MemoryStats{} : it->second;
}

void reset_peak_memory(int device) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  MemoryStats& s = c.stats[device];
  s.peak_allocated_bytes = s.allocated_bytes;
}

}  // namespace pykern::cuda
