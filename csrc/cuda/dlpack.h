// The C structs of the DLPack exchange protocol (dmlc/dlpack, include/dlpack/
// dlpack.h, the unversioned "legacy" ABI every consumer accepts), written out
// here so the build needs no extra header. Layout must match the spec exactly.
#pragma once
#include <cstdint>

namespace pykern::cuda::dlpack {

enum DeviceType : int32_t { kDLCPU = 1, kDLCUDA = 2 };
enum TypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 };

struct DLDevice {
  int32_t device_type;  // DLDeviceType, an int-sized enum in the spec
  int32_t device_id;
};

struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; may be null for compact row-major
  uint64_t byte_offset;
};

struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor* self);
};

}  // namespace pykern::cuda::dlpack
