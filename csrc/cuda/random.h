// Random fills on the GPU, with the contract of pykern/random.h and the same
// Philox stream (pykern/philox.h) as the CPU kernels.
// Plain C++ (no CUDA headers) so the bindings can include it.
#pragma once
#include <cstdint>

#include "pykern/random.h"

namespace pykern::cuda {

// out is a device pointer to n floats; runs on the legacy default stream and
// returns without waiting for the kernel.
void random_fill_device(float* out, int64_t n, const RandomArgs& a);

// out is a host pointer: fills a device buffer and copies it back. Throws
// std::runtime_error when there is no device or a CUDA call fails.
void random_fill_host(float* out, int64_t n, const RandomArgs& a);

}  // namespace pykern::cuda
