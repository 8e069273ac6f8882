// The recurrent cells' activations on the device: Keras 3's formulas, the same
// as the CPU's (cpu/kernels/activation_body.h), with CUDA's full-precision
// expf/tanhf/expm1f/log1pf (a few ulp from the CPU's Cephes polynomials, so the
// two devices agree to rounding, not bitwise). Included by .cu files only.
#pragma once
#include "pykern/activation.h"

namespace pykern::cuda {

constexpr float kSeluScale = 1.0507009873554804934f, kSeluAlpha = 1.6732632423543772848f;

__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }

__device__ __forceinline__ float act_f(float x, Act a) {
  switch (a) {
    case Act::relu: return x < 0.0f ? 0.0f : x;
    case Act::sigmoid: return sigmoid_f(x);
    case Act::tanh: return tanhf(x);
    case Act::hard_sigmoid: {
      const float t = x + 3.0f;
      return (t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t)) / 6.0f;
    }
    case Act::elu: return x > 0.0f ? x : expm1f(x);
    case Act::selu: return kSeluScale * (x > 0.0f ? x : kSeluAlpha * expm1f(x));
    case Act::softsign: return x / (fabsf(x) + 1.0f);
    // max(x, 0) + log1p(e^-|x|): never overflows
    case Act::softplus: return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x)));
    case Act::silu: return x * sigmoid_f(x);
    case Act::exponential: return expf(x);
    default: return x;
  }
}

// f'(x) given y = f(x): the derivatives TensorFlow's gradients use (relu: x > 0;
// hard_sigmoid: 1/6 strictly inside (-3, 3); elu/selu from the output).
__device__ __forceinline__ float dact_f(float x, float y, Act a) {
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
    case Act::softplus: return sigmoid_f(x);
    case Act::silu: {
      const float s = sigmoid_f(x);
      return s * (1.0f + x * (1.0f - s));
    }
    case Act::exponential: return y;
    default: return 1.0f;
  }
}

}  // namespace pykern::cuda
