// Max and average pooling on the GPU with the contract of pykern/pool.h
// (x (N, D, H, W, C) channels-last, explicit pads, padded cells never win a
// max and are not counted in an average; argmax = the winner's flat index
// ((d*H + h)*W + w)*C + c in its sample, int32 or int64 as
// pool_argmax_is_int64 says). Plain C++ (no CUDA headers).
//
// g must have passed validate_pool. Pointers are device pointers; launchers
// run on the current device's legacy default stream. Every output is computed
// by one thread in a fixed order, so results are bitwise repeatable:
//   max forward:   the first maximum in window order (row-major), or the first NaN
//   max backward:  one thread per (sample, channel) walks that plane's outputs
//                  in order and adds each dy to the cell its argmax names: the
//                  CPU's order, no atomics (the geometry is not known here,
//                  so a gather is not possible)
//   avg forward:   float sum in window order, divided by the real-cell count
//   avg backward:  a gather: each input cell adds dy / count of every window
//                  holding it, windows in order
#pragma once
#include "pykern/pool.h"

namespace pykern::cuda {

void max_pool_forward_device(const PoolGeometry& g, const float* x, float* y, ArgmaxOut argmax);

// Reads N, C, in and out of g. Waits for the kernel and reads back its check
// of argmax: throws std::invalid_argument naming the first position whose
// index lies outside [0, D*H*W*C) or in another channel than its output's
// (argmax from max_pool_forward never does); dx is then incomplete.
void max_pool_backward_device(const PoolGeometry& g, const float* dy, ArgmaxIn argmax, float* dx);

void avg_pool_forward_device(const PoolGeometry& g, const float* x, float* y);
void avg_pool_backward_device(const PoolGeometry& g, const float* dy, float* dx);

}  // namespace pykern::cuda
