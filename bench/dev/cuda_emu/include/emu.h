// Runs CUDA kernels on the CPU for checking their index arithmetic and
// synchronisation: each thread of a block is an OS thread, __syncthreads is a
// std::barrier, __shared__ arrays are statics (blocks run one at a time), warp
// shuffles go through a per-warp slot array. Force-included (-include emu.h)
// into .cu files whose <<<...>>> launches translate.py has rewritten.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 {  // as on the GPU: UBSan flags a misaligned float4 access
  float x, y, z, w;
};
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }

namespace emu {
inline thread_local uint3 thread_idx, block_idx;
inline dim3 block_dim, grid_dim;
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline double warp_slots[1024];
inline std::mutex atomic_mu;

inline void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z;
  block_dim = block;
  grid_dim = grid;
  std::barrier<> bar(threads);
  block_barrier = &bar;
  warp_barriers.clear();
  for (unsigned w = 0; w < (threads + 31) / 32; ++w)
    warp_barriers.push_back(std::make_unique<std::barrier<>>(std::min(32u, threads - 32 * w)));
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t)
          pool.emplace_back([&, t] {
            thread_idx = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
            block_idx = {bx, by, bz};
            body();
          });
        for (auto& th : pool) th.join();
      }
  block_barrier = nullptr;
}

inline unsigned linear_tid() {
  return thread_idx.x + block_dim.x * (thread_idx.y + block_dim.y * thread_idx.z);
}
}  // namespace emu

#define threadIdx (::emu::thread_idx)
#define blockIdx (::emu::block_idx)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
  emu::warp_barriers[emu::linear_tid() / 32]->arrive_and_wait();
}
inline double __shfl_xor_sync(unsigned, double v, int offset) {
  const unsigned t = emu::linear_tid(), base = t & ~31u;
  __syncwarp();
  emu::warp_slots[t] = v;
  __syncwarp();
  const double r = emu::warp_slots[base + ((t - base) ^ unsigned(offset))];
  __syncwarp();
  return r;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::lock_guard<std::mutex> lock(emu::atomic_mu);
  const unsigned long long old = *p;
  if (v < old) *p = v;
  return old;
}
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
using std::isnan;  // expf, tanhf, ... come from <math.h> in the global namespace
using std::sqrt;

template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
  return a < b ? a : b;
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}

#define EMU_LAUNCH(grid, block, call) ::emu::launch(dim3(grid), dim3(block), [&] { call; })
