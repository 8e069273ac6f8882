// The multi-tensor optimizer step on the GPU: the contract of pykern/optim.h
// (formulas, order of clipping, weight decay and update, slots per optimizer)
// with device tensors. Plain C++ (no CUDA headers).
//
// A plan uploads once what does not change between steps: each tensor's
// parameter and slot pointers, size and weight decay, and a map from thread
// block to (tensor, chunk of kOptimChunk elements). step() uploads only the
// gradient pointers (one small asynchronous copy) and runs ONE kernel over all
// chunks of all tensors. With clipnorm / global_clipnorm two small kernels
// before it compute the per-tensor squared norms (double, a fixed-order tree
// per chunk, chunks added in order) and the clip factors on the device.
//
// The element-wise formulas are written with round-to-nearest intrinsics in the
// CPU kernel's order of operations (no FMA contraction), so without clipping by
// norm a step gives bitwise the CPU's result; with it the norm's summation order
// differs (double, then one rounding to the float factor).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "cuda/allocator.h"
#include "pykern/optim.h"

namespace pykern::cuda {

constexpr int64_t kOptimChunk = 4096;

class OptimDevicePlan {
 public:
  // Pointers are device pointers on `device`; slot[k] holds one pointer per
  // tensor for k < optim_slot_count(hyper) (std::invalid_argument otherwise);
  // decay is empty (no weight decay) or one factor per tensor.
  OptimDevicePlan(int device, const OptimArgs& hyper, std::vector<int64_t> size,
                  std::vector<float*> param, const std::vector<float*> slot[3],
                  std::vector<float> decay);

  // One update of every tensor with these gradients (device pointers, read only).
  void step(const std::vector<const float*>& grads, float lr, float c1, float c2, float c3);

  int64_t count() const { return count_; }
  int device() const { return device_; }

 private:
  OptimArgs args_;
  int device_ = 0;
  int64_t count_ = 0;
  int64_t blocks_ = 0;
  // Device tables (DeviceBuffer cannot move, hence the pointers):
  std::unique_ptr<DeviceBuffer> tensors_;  // TensorDesc per tensor
  std::unique_ptr<DeviceBuffer> chunks_;   // ChunkDesc per block
  std::unique_ptr<DeviceBuffer> first_;    // int64 first block of each tensor, count + 1
  std::unique_ptr<DeviceBuffer> grads_;    // const float* per tensor, rewritten each step
  std::unique_ptr<DeviceBuffer> partial_;  // double per block (clipping by norm)
  std::unique_ptr<DeviceBuffer> sq_;       // double per tensor (clipping by norm)
  std::unique_ptr<DeviceBuffer> scale_;    // float per tensor (clipping by norm)
};

}  // namespace pykern::cuda
