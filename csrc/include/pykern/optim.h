// Optimizer updates: one call updates every parameter of a model (multi-tensor).
//
// Tensors are flat float32 buffers: param[i], grad[i] and the optimizer's state
// slots slot[k][i] all hold size[i] elements. The formulas are Keras 3's
// (keras_behaviour.md §5); the host passes the per-step scalars that depend on
// the step count (bias corrections, Nadam's momentum products) computed once in
// double. Order inside one step, as Keras' apply_gradients:
//   1. clipping of the gradient (clipnorm per tensor, else global_clipnorm,
//      else clipvalue element-wise);
//   2. decoupled weight decay  w -= w * (decay[i] * lr)  (decay[i] = weight_decay,
//      0 for excluded tensors);
//   3. the optimizer's update of w and its slots.
// The gradients are read only. Work is split over elements of all tensors at
// once with a static partition, so a run is bitwise reproducible for a given
// thread count; norms are per-tensor double sums in a fixed order.
#pragma once
#include <cstdint>

namespace pykern {

enum class Optim : int {
  sgd = 0,       // slots: [momentum] (only if momentum != 0)
  rmsprop = 1,   // slots: velocity, [momentum], [average_gradient]
  adam = 2,      // slots: momentum, velocity, [velocity_hat] (amsgrad)
  adagrad = 3,   // slots: accumulator
  adadelta = 4,  // slots: accumulated_grad, accumulated_delta_var
  adamax = 5,    // slots: m, u
  nadam = 6,     // slots: momentum, velocity
};

struct OptimTensors {
  int64_t count = 0;
  const int64_t* size = nullptr;
  float* const* param = nullptr;
  const float* const* grad = nullptr;
  float* const* slot[3] = {nullptr, nullptr, nullptr};
  const float* decay = nullptr;  // weight_decay per tensor; nullptr = no weight decay
};

struct OptimArgs {
  Optim kind = Optim::sgd;
  float lr = 0.01f;
  // clipping (0 = off)
  float clipnorm = 0.f, global_clipnorm = 0.f, clipvalue = 0.f;
  // hyper-parameters (each optimizer reads its own)
  float momentum = 0.f, rho = 0.9f, beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f;
  bool nesterov = false, centered = false, amsgrad = false;
  // per-step host scalars:
  //  adam:   c1 = lr*sqrt(1-b2^t)/(1-b1^t)
  //  adamax: c1 = lr/(1-b1^t)
  //  nadam:  c1 = u_{t+1}/(1-prod_{t+1}), c2 = (1-u_t)/(1-prod_t), c3 = 1/(1-b2^t)
  float c1 = 0.f, c2 = 0.f, c3 = 0.f;
};

// Throws std::invalid_argument when a slot the optimizer needs is missing.
void optim_step(const OptimTensors& t, const OptimArgs& a);

// Number of state slots `a` uses per tensor.
int optim_slot_count(const OptimArgs& a);

}  // namespace pykern
