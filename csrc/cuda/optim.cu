// Multi-tensor optimizer step on the GPU (contract: cuda/optim.h, pykern/optim.h).
//
// Pure bandwidth, like the CPU kernel: one kernel reads each element's
// parameter, gradient and slots once and writes them once. Thread block b takes
// chunk b of the (tensor, chunk) map made by the plan, apex's multi_tensor_apply
// layout (kernels.md section 6) with the tables in device memory instead of the
// kernel's arguments, so any number of tensors fits one launch.
#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/optim.h"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;

struct TensorDesc {
  float* p;
  float* s0;
  float* s1;
  float* s2;
  int64_t n;
  float decay;  // weight_decay (the kernel scales it by lr), 0 = none
};

struct ChunkDesc {
  int64_t tensor;
  int64_t start;  // first element of the chunk
};

// The CPU kernel's float operations one by one, each rounded (no FMA
// contraction), so both devices give the same bits.
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float dvd(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float root(float a) { return __fsqrt_rn(a); }
// std::max / std::min as the CPU evaluates them (NaN handling included).
__device__ __forceinline__ float max_of(float a, float b) { return a < b ? b : a; }
__device__ __forceinline__ float min_of(float a, float b) { return b < a ? b : a; }

// One element: the optimizer's update of w and its slots (csrc/cpu/optim.cpp's
// update_range / rmsprop_range, in the same order of operations).
template <Optim K>
__device__ __forceinline__ void update_one(float& w, float g, float* s0, float* s1, float* s2,
                                           const OptimArgs& a) {
  if constexpr (K == Optim::sgd) {
    if (a.momentum == 0.f) {
      w = sub(w, mul(g, a.lr));
    } else {
      const float m = sub(mul(*s0, a.momentum), mul(g, a.lr));
      *s0 = m;
      w = a.nesterov ? add(w, sub(mul(m, a.momentum), mul(g, a.lr))) : add(w, m);
    }
  } else if constexpr (K == Optim::rmsprop) {
    const float rho = a.rho, one_rho = sub(1.f, a.rho);
    const bool mom = a.momentum > 0.f;
    const float v = add(mul(rho, *s0), mul(one_rho, mul(g, g)));
    *s0 = v;
    float denom = add(v, a.epsilon);
    if (a.centered) {
      float* avg_p = mom ? s2 : s1;
      const float avg = add(mul(rho, *avg_p), mul(one_rho, g));
      *avg_p = avg;
      denom = add(sub(v, mul(avg, avg)), a.epsilon);
    }
    const float inc = dvd(mul(a.lr, g), root(denom));
    if (mom) {
      const float m = add(mul(a.momentum, *s1), inc);
      *s1 = m;
      w = sub(w, m);
    } else {
      w = sub(w, inc);
    }
  } else if constexpr (K == Optim::adam) {
    const float b1 = sub(1.f, a.beta1), b2 = sub(1.f, a.beta2);
    const float m = add(*s0, mul(sub(g, *s0), b1));
    const float v = add(*s1, mul(sub(mul(g, g), *s1), b2));
    *s0 = m;
    *s1 = v;
    float den = v;
    if (a.amsgrad) {
      den = max_of(*s2, v);
      *s2 = den;
    }
    w = sub(w, dvd(mul(m, a.c1), add(root(den), a.epsilon)));
  } else if constexpr (K == Optim::adagrad) {
    const float acc = add(*s0, mul(g, g));
    *s0 = acc;
    w = sub(w, dvd(mul(a.lr, g), root(add(acc, a.epsilon))));
  } else if constexpr (K == Optim::adadelta) {
    const float rho = a.rho, one_rho = sub(1.f, a.rho);
    const float acc_g = add(mul(rho, *s0), mul(one_rho, mul(g, g)));
    *s0 = acc_g;
    const float delta = dvd(-mul(root(add(*s1, a.epsilon)), g), root(add(acc_g, a.epsilon)));
    *s1 = add(mul(rho, *s1), mul(one_rho, mul(delta, delta)));
    w = add(w, mul(a.lr, delta));
  } else if constexpr (K == Optim::adamax) {
    const float b1 = sub(1.f, a.beta1);
    const float m = add(*s0, mul(sub(g, *s0), b1));
    const float u = max_of(mul(a.beta2, *s1), fabsf(g));
    *s0 = m;
    *s1 = u;
    w = sub(w, dvd(mul(a.c1, m), add(u, a.epsilon)));
  } else {  // nadam
    const float b1 = sub(1.f, a.beta1), b2 = sub(1.f, a.beta2);
    const float m = add(*s0, mul(sub(g, *s0), b1));
    const float v = add(*s1, mul(sub(mul(g, g), *s1), b2));
    *s0 = m;
    *s1 = v;
    const float m_hat = add(mul(a.c1, m), mul(a.c2, g));
    w = sub(w, dvd(mul(m_hat, a.lr), add(root(mul(v, a.c3)), a.epsilon)));
  }
}

// Block b updates chunk b: clip the gradient, decay, update (pykern/optim.h's order).
template <Optim K, bool kClipValue>
__global__ void __launch_bounds__(kThreads)
    update_kernel(const TensorDesc* __restrict__ tensors, const ChunkDesc* __restrict__ chunks,
                  const float* const* __restrict__ grads, const float* __restrict__ scale,
                  OptimArgs a) {
  const ChunkDesc ch = chunks[blockIdx.x];
  const TensorDesc t = tensors[ch.tensor];
  const float* g = grads[ch.tensor];
  const float sc = scale ? scale[ch.tensor] : 1.0f;
  const float d = mul(t.decay, a.lr);
  const int64_t end = t.n < ch.start + kOptimChunk ? t.n : ch.start + kOptimChunk;
  for (int64_t j = ch.start + threadIdx.x; j < end; j += kThreads) {
    float gj = mul(g[j], sc);
    if (kClipValue) gj = min_of(max_of(gj, -a.clipvalue), a.clipvalue);
    float w = t.p[j];
    if (d != 0.f) w = sub(w, mul(w, d));
    update_one<K>(w, gj, t.s0 ? t.s0 + j : nullptr, t.s1 ? t.s1 + j : nullptr,
                  t.s2 ? t.s2 + j : nullptr, a);
    t.p[j] = w;
  }
}

// partial[b] = the sum of g^2 over chunk b in double: each thread sums its
// elements in order, then a fixed tree adds the threads' sums.
__global__ void __launch_bounds__(kThreads)
    sum_squares_kernel(const TensorDesc* __restrict__ tensors,
                       const ChunkDesc* __restrict__ chunks, const float* const* __restrict__ grads,
                       double* __restrict__ partial) {
  __shared__ double s[kThreads];
  const ChunkDesc ch = chunks[blockIdx.x];
  const float* g = grads[ch.tensor];
  const int64_t n = tensors[ch.tensor].n;
  const int64_t end = n < ch.start + kOptimChunk ? n : ch.start + kOptimChunk;
  double acc = 0.0;
  for (int64_t j = ch.start + threadIdx.x; j < end; j += kThreads)
    acc += static_cast<double>(g[j]) * g[j];
  s[threadIdx.x] = acc;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (static_cast<int>(threadIdx.x) < w) s[threadIdx.x] += s[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// One block: each tensor's squared norm (its chunks' partials in order), then
// Keras' factor c / max(norm, c), per tensor (clipnorm) or from the global norm
// (tensors' squares added in order by one thread).
__global__ void __launch_bounds__(kThreads)
    clip_scale_kernel(const int64_t* __restrict__ first, int64_t count,
                      const double* __restrict__ partial, double clipnorm, double global_clipnorm,
                      double* __restrict__ sq, float* __restrict__ scale) {
  __shared__ float global_factor;
  for (int64_t i = threadIdx.x; i < count; i += kThreads) {
    double s = 0.0;
    for (int64_t b = first[i]; b < first[i + 1]; ++b) s += partial[b];
    sq[i] = s;
    if (clipnorm > 0.0) {
      const double norm = sqrt(s);
      scale[i] = static_cast<float>(clipnorm / (norm < clipnorm ? clipnorm : norm));
    }
  }
  if (clipnorm > 0.0) return;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int64_t i = 0; i < count; ++i) total += sq[i];
    const double norm = sqrt(total);
    global_factor = static_cast<float>(global_clipnorm / (norm < global_clipnorm ? global_clipnorm
                                                                                : norm));
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < count; i += kThreads) scale[i] = global_factor;
}

template <Optim K>
void launch_update(int64_t blocks, bool clip_value, const TensorDesc* tensors,
                   const ChunkDesc* chunks, const float* const* grads, const float* scale,
                   const OptimArgs& a) {
  const dim3 grid(static_cast<unsigned>(blocks));
  if (clip_value)
    update_kernel<K, true><<<grid, kThreads>>>(tensors, chunks, grads, scale, a);
  else
    update_kernel<K, false><<<grid, kThreads>>>(tensors, chunks, grads, scale, a);
  PK_LAUNCH_CHECK("optim_step");
}

template <class T>
T* as(const std::unique_ptr<DeviceBuffer>& b) {
  return reinterpret_cast<T*>(b->f32());
}

template <class T>
std::unique_ptr<DeviceBuffer> upload(const std::vector<T>& host) {
  auto buf = std::make_unique<DeviceBuffer>(host.size() * sizeof(T));
  if (!host.empty())
    PK_CUDA_CHECK(cudaMemcpy(buf->f32(), host.data(), host.size() * sizeof(T),
                             cudaMemcpyHostToDevice));
  return buf;
}

}  // namespace

OptimDevicePlan::OptimDevicePlan(int device, const OptimArgs& hyper, std::vector<int64_t> size,
                                 std::vector<float*> param, const std::vector<float*> slot[3],
                                 std::vector<float> decay)
    : args_(hyper), device_(device), count_(static_cast<int64_t>(size.size())) {
  const char* op = "optim_step (cuda)";
  const int need = optim_slot_count(args_);
  if (static_cast<int64_t>(param.size()) != count_)
    throw std::invalid_argument(std::string(op) + ": as many parameters as sizes are needed");
  for (int k = 0; k < need; ++k)
    if (static_cast<int64_t>(slot[k].size()) != count_)
      throw std::invalid_argument(std::string(op) + ": missing state slot " + std::to_string(k));
  if (!decay.empty() && static_cast<int64_t>(decay.size()) != count_)
    throw std::invalid_argument(std::string(op) + ": one weight decay per tensor is needed");
  std::vector<TensorDesc> tensors(count_);
  std::vector<ChunkDesc> chunks;
  std::vector<int64_t> first(count_ + 1, 0);
  for (int64_t i = 0; i < count_; ++i) {
    if (size[i] < 0) throw std::invalid_argument(std::string(op) + ": negative size");
    TensorDesc& t = tensors[i];
    t.p = param[i];
    t.s0 = need > 0 ? slot[0][i] : nullptr;
    t.s1 = need > 1 ? slot[1][i] : nullptr;
    t.s2 = need > 2 ? slot[2][i] : nullptr;
    t.n = size[i];
    t.decay = decay.empty() ? 0.f : decay[i];
    first[i] = static_cast<int64_t>(chunks.size());
    for (int64_t s = 0; s < size[i]; s += kOptimChunk) chunks.push_back({i, s});
  }
  first[count_] = static_cast<int64_t>(chunks.size());
  blocks_ = first[count_];
  if (blocks_ > INT_MAX)
    throw std::invalid_argument(std::string(op) + ": too many elements for one launch");
  tensors_ = upload(tensors);
  chunks_ = upload(chunks);
  first_ = upload(first);
  grads_ = std::make_unique<DeviceBuffer>(count_ * sizeof(const float*));
  partial_ = std::make_unique<DeviceBuffer>(blocks_ * sizeof(double));
  sq_ = std::make_unique<DeviceBuffer>(count_ * sizeof(double));
  scale_ = std::make_unique<DeviceBuffer>(count_ * sizeof(float));
}

void OptimDevicePlan::step(const std::vector<const float*>& grads, float lr, float c1, float c2,
                           float c3) {
  if (static_cast<int64_t>(grads.size()) != count_)
    throw std::invalid_argument("optim_step (cuda): got " + std::to_string(grads.size()) +
                                " gradients for " + std::to_string(count_) + " parameters");
  if (blocks_ == 0) return;
  OptimArgs a = args_;
  a.lr = lr;
  a.c1 = c1;
  a.c2 = c2;
  a.c3 = c3;
  // From pageable memory the copy is staged before the call returns, without
  // waiting for the device, so `grads` may go as soon as we return.
  PK_CUDA_CHECK(cudaMemcpyAsync(grads_->f32(), grads.data(), count_ * sizeof(const float*),
                                cudaMemcpyHostToDevice, 0));
  const auto* tensors = as<TensorDesc>(tensors_);
  const auto* chunks = as<ChunkDesc>(chunks_);
  const auto* g = as<const float*>(grads_);
  const float* scale = nullptr;
  if (a.clipnorm > 0.f || a.global_clipnorm > 0.f) {
    sum_squares_kernel<<<static_cast<unsigned>(blocks_), kThreads>>>(tensors, chunks, g,
                                                                      as<double>(partial_));
    PK_LAUNCH_CHECK("optim_sum_squares");
    clip_scale_kernel<<<1, kThreads>>>(as<int64_t>(first_), count_, as<double>(partial_),
                                       a.clipnorm > 0.f ? double(a.clipnorm) : 0.0,
                                       double(a.global_clipnorm), as<double>(sq_),
                                       as<float>(scale_));
    PK_LAUNCH_CHECK("optim_clip_scale");
    scale = as<float>(scale_);
  }
  const bool cv = a.clipvalue > 0.f;
  switch (a.kind) {
    case Optim::sgd: return launch_update<Optim::sgd>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::rmsprop:
      return launch_update<Optim::rmsprop>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::adam:
      return launch_update<Optim::adam>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::adagrad:
      return launch_update<Optim::adagrad>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::adadelta:
      return launch_update<Optim::adadelta>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::adamax:
      return launch_update<Optim::adamax>(blocks_, cv, tensors, chunks, g, scale, a);
    case Optim::nadam:
      return launch_update<Optim::nadam>(blocks_, cv, tensors, chunks, g, scale, a);
  }
  throw std::invalid_argument("optim_step (cuda): unknown optimizer kind");
}

}  // namespace pykern::cuda
