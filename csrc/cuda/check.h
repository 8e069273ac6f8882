// Every CUDA runtime call goes through PK_CUDA_CHECK, and every kernel launch
// is followed by PK_LAUNCH_CHECK("kernel_name"): a failure becomes a
// std::runtime_error (RuntimeError in Python) carrying the CUDA error string.
// Included by .cu files only; the .cpp bindings never see CUDA headers.
#pragma once
#include <cuda_runtime.h>

namespace pykern::cuda {

// Clears the runtime's last-error slot (so a stale, non-sticky error is not
// reported again by the next launch check) and throws.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);

// Throws "pykern._cuda: <kernel>: <CUDA message> (<error name>)" if the last
// launch failed (bad configuration, no kernel image for this GPU, or a sticky
// error from earlier asynchronous work).
void check_launch(const char* kernel);

}  // namespace pykern::cuda

#define PK_CUDA_CHECK(call)                                                   \
  do {                                                                        \
    const cudaError_t pk_cuda_err_ = (call);                                  \
    if (pk_cuda_err_ != cudaSuccess)                                          \
      ::pykern::cuda::throw_cuda_error(pk_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define PK_LAUNCH_CHECK(kernel_name) ::pykern::cuda::check_launch(kernel_name)
