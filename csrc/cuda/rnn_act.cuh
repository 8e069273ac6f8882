// The derivatives of the recurrent cells' activations on the device, next to the
// activations themselves (cuda/act_device.cuh, shared with the GEMM epilogues):
// the CPU's rules (cpu/kernels/activation_body.h), which are TensorFlow's, in
// CUDA's full-precision math. Included by .cu files only.
#pragma once
#include "cuda/act_device.cuh"

namespace pykern::cuda {

// f'(x) given y = f(x): the derivatives TensorFlow's gradients use (relu: x > 0;
// hard_sigmoid: 1/6 strictly inside (-3, 3); elu/selu from the output).
__device__ __forceinline__ float act_derivative(float x, float y, Act a) {
  switch (a) {
    case Act::relu: return x > 0.0f ? 1.0f : 0.0f;
    case Act::sigmoid: return y * (1.0f - y);
    case Act::tanh: return 1.0f - y * y;
    case Act::hard_sigmoid: {
      const float t = x + 3.0f;
      return (t > 0.0f && t < 6.0f) ? 1.0f / 6.0f : 0.0f;
    }
    case Act::elu: return x > 0.0f ? 1.0f : y + 1.0f;
    case Act::selu: return x > 0.0f ? kSeluScale : y + kSeluScale * kSeluAlpha;
    case Act::softsign: {
      const float d = fabsf(x) + 1.0f;
      return 1.0f / (d * d);
    }
    case Act::softplus: return act_sigmoid(x);
    case Act::silu: {
      const float s = act_sigmoid(x);
      return s * (1.0f + x * (1.0f - s));
    }
    case Act::exponential: return y;
    default: return 1.0f;
  }
}

}  // namespace pykern::cuda
