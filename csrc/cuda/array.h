// pykern._cuda.Array: the CUDA device's tensor storage. Plain C++ (no CUDA
// headers) so the bindings (.cpp) can include it.
//
// An Array is a contiguous, row-major block of one dtype on one device. Its
// buffer comes from the caching allocator (cuda/allocator.h) and is shared:
// copies of an Array and reshaped() views alias the same memory, the way
// NumPy views of a whole array do. There are no strided views; transposes,
// slices and broadcasts are copy kernels that return a new Array.
//
// All work on a device is issued on that device's legacy default stream, so a
// buffer freed to the cache can be handed to the next owner without a sync.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda/allocator.h"

namespace pykern::cuda {

// The dtypes device storage holds; names are NumPy's ("float32", ..., "bool").
enum class DType : uint8_t { f32, f64, i32, i64, u8, b8 };
size_t dtype_size(DType d);
const char* dtype_name(DType d);
// Throws std::invalid_argument naming `op` for a NumPy dtype name we do not hold.
DType dtype_from_name(const std::string& name, const char* op);

class Array {
 public:
  Array() = default;
  // Uninitialised storage on `device` (which must exist: require_device()).
  Array(std::vector<int64_t> shape, DType dtype, int device);

  const std::vector<int64_t>& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[i < 0 ? i + ndim() : i]; }  // i < 0 from the end
  int64_t size() const;    // product of the dims (1 for a 0-d array)
  size_t nbytes() const { return static_cast<size_t>(size()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  int device() const { return device_; }
  void* raw() const;       // device pointer; null for an empty array
  template <class T>
  T* data() const { return static_cast<T*>(raw()); }

  // The same buffer with another shape of the same size; std::invalid_argument otherwise.
  Array reshaped(std::vector<int64_t> shape) const;

 private:
  std::shared_ptr<DeviceBuffer> buf_;
  std::vector<int64_t> shape_;
  DType dtype_ = DType::f32;
  int device_ = 0;
};

// "(2, 3, 4)": shapes in error messages, as Python prints a tuple.
std::string shape_str(const std::vector<int64_t>& shape);

// Makes `device` current for the scope (kernels launch on the current device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace pykern::cuda
