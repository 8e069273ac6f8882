// Recurrent layers on the GPU: the contract of pykern/rnn.h (shapes, cells,
// masks, reverse, the workspace layout) with device pointers. Plain C++ (no
// CUDA headers) so the bindings can include it.
//
// Forward:  Z (B*T, G*U) = x W + b                  one sgemm_device for all steps
//   step s:  Gh (B, G*U) = h R [+ b']                one sgemm_device
//            one fused gate kernel over (b, unit)    (GRU without reset_after: two
//                                                     GEMMs and two gate kernels)
// Backward, s = T-1..0: one fused kernel (dG[:, t], the element-wise part of
//   dh_prev), one sgemm_device dh_prev += dG[:, t] R^T; then dW = x^T dG,
//   dR = Hprev^T dG, dx = dG W^T as single GEMMs over the B*T rows and db as a
//   fixed-order column sum. Every value is computed by one thread in a fixed
//   order: runs are bitwise repeatable.
//
// The workspace holds the CPU's layout (Z | Hprev | Cprev or Aux), so a CUDA
// workspace can be compared with pykern._cpu's. Launches go to the current
// device's legacy default stream; the functions return without waiting.
#pragma once
#include <cstdint>

#include "pykern/rnn.h"

namespace pykern::cuda {

// a's, out's and g's pointers are device pointers (a.mask: B*T bytes, nonzero =
// step used). Throws std::invalid_argument as validate_rnn does, and
// std::runtime_error on a CUDA error.
void rnn_forward_device(const RnnArgs& a, const RnnForward& out);
void rnn_backward_device(const RnnArgs& a, const RnnBackward& g);

// dst[i] = src[i] != 0 for i < n, on the device: src holds n elements of
// `elem_bytes` (1, 4 or 8) bytes, integers, or floats when `is_float`.
void nonzero_bytes_device(const void* src, int elem_bytes, bool is_float, int64_t n,
                          uint8_t* dst);

}  // namespace pykern::cuda
