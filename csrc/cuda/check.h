// Every CUDA runtime call goes through PK_CUDA_CHECK: a failure becomes a
// std::runtime_error (RuntimeError in Python) carrying the CUDA error string.
// Included by .cu files only; the .cpp bindings never see CUDA headers.
#pragma once
#include <cuda_runtime.h>

namespace pykern::cuda {

// Clears the runtime's last-error slot (so a stale, non-sticky error is not
// reported again by the next launch check) and throws.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);

}  // namespace pykern::cuda

#define PK_CUDA_CHECK(call)                                                   \
  do {                                                                        \
    const cudaError_t pk_cuda_err_ = (call);                                  \
    if (pk_cuda_err_ != cudaSuccess)                                          \
      ::pykern::cuda::throw_cuda_error(pk_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)
