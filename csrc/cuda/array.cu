// pykern::cuda::Array (cuda/array.h): shapes, dtypes, the shared buffer and
// the current-device guard.
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "cuda/array.h"
#include "cuda/check.h"
#include "cuda/device.h"

namespace pykern::cuda {

size_t dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::b8: return 1;
  }
  return 0;
}

const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::b8: return "bool";
  }
  return "?";
}

DType dtype_from_name(const std::string& name, const char* op) {
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::b8})
    if (name == dtype_name(d)) return d;
  throw std::invalid_argument(std::string(op) + ": dtype " + name +
                              " is not held on the GPU (float32, float64, int32, int64, uint8, "
                              "bool)");
}

namespace {

int64_t checked_size(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("Array: negative dimension in shape " + shape_str(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw std::invalid_argument("Array: shape " + shape_str(shape) + " is too large");
    n *= d;
  }
  return n;
}

}  // namespace

Array::Array(std::vector<int64_t> shape, DType dtype, int device)
    : shape_(std::move(shape)), dtype_(dtype), device_(device) {
  const int64_t n = checked_size(shape_);
  const int count = device_count();
  if (count == 0) require_device();
  if (device < 0 || device >= count)
    throw std::invalid_argument("Array: device " + std::to_string(device) +
                                " is out of range for " + std::to_string(count) +
                                " CUDA device(s)");
  DeviceGuard g(device);
  buf_ = std::make_shared<DeviceBuffer>(static_cast<size_t>(n) * dtype_size(dtype));
}

int64_t Array::size() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

void* Array::raw() const { return buf_ ? buf_->ptr() : nullptr; }

Array Array::reshaped(std::vector<int64_t> shape) const {
  if (checked_size(shape) != size())
    throw std::invalid_argument("reshape: cannot reshape an array of shape " + shape_str(shape_) +
                                " (" + std::to_string(size()) + " values) into " +
                                shape_str(shape));
  Array out = *this;
  out.shape_ = std::move(shape);
  return out;
}

DeviceGuard::DeviceGuard(int device) {
  PK_CUDA_CHECK(cudaGetDevice(&previous_));
  if (device != previous_) PK_CUDA_CHECK(cudaSetDevice(device));
}

DeviceGuard::~DeviceGuard() {
  int now = 0;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
  cudaGetLastError();
}

}  // namespace pykern::cuda
