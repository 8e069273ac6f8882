// The activations of pykern/activation.h as device functions: the GEMM and
// convolution epilogues, the activation kernel and the recurrent cells share
// them. Formulas are the CPU kernels' (cpu/kernels/activation_body.h: Keras 3
// on TensorFlow) in CUDA's full-precision math (expf, tanhf, expm1f, log1pf:
// at most 2 ulp), so the two devices agree to a few ulp, not bitwise.
#pragma once
#include "pykern/activation.h"

namespace pykern::cuda {

constexpr float kSeluScale = 1.0507009873554804934f, kSeluAlpha = 1.6732632423543772848f;

__device__ __forceinline__ float act_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }

// relu keeps NaN and -0 as the CPU's `x < 0 ? 0 : x` does.
__device__ __forceinline__ float act_apply(float v, Act act) {
  switch (act) {
    case Act::relu: return v < 0.0f ? 0.0f : v;
    case Act::sigmoid: return act_sigmoid(v);
    case Act::tanh: return tanhf(v);
    case Act::hard_sigmoid: {
      const float t = v + 3.0f;
      return (t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t)) / 6.0f;
    }
    case Act::elu: return v > 0.0f ? v : expm1f(v);
    case Act::selu: return kSeluScale * (v > 0.0f ? v : kSeluAlpha * expm1f(v));
    case Act::softsign: return v / (fabsf(v) + 1.0f);
    case Act::softplus: return (v < 0.0f ? 0.0f : v) + log1pf(expf(-fabsf(v)));
    case Act::silu: return v * act_sigmoid(v);
    case Act::exponential: return expf(v);
    default: return v;
  }
}

}  // namespace pykern::cuda
