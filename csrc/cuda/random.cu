// Philox random fills: one thread per Philox block of 4 elements (grid-stride),
// with the block function, conversions and Box-Muller of pykern/philox.h shared
// with the CPU kernels, so both devices draw the same numbers.
#include <algorithm>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/random.h"
#include "pykern/philox.h"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGrid = 65535;  // enough CTAs to fill any GPU; the loop strides past it

template <RandomDist D>
__global__ void __launch_bounds__(kThreads)
    fill_kernel(float* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, float rate,
                float scale) {
  const int64_t blocks = int64_t(random_blocks(n));
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  for (int64_t b = int64_t(blockIdx.x) * kThreads + threadIdx.x; b < blocks; b += stride) {
    const PhiloxBlock blk = philox_stream_block(seed, offset + uint64_t(b));
    const int64_t i0 = 4 * b;
    const int count = n - i0 < 4 ? int(n - i0) : 4;
    float v[4];
    random_block_values<D>(blk, count, rate, scale, v);
    if (count == 4) {  // out comes from cudaMalloc (256-byte aligned): out + 4b is float4-aligned
      *reinterpret_cast<float4*>(out + i0) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      for (int k = 0; k < count; ++k) out[i0 + k] = v[k];
    }
  }
}

}  // namespace

void random_fill_device(float* out, int64_t n, const RandomArgs& a) {
  validate_random("random_fill (cuda)", n, a);
  if (n == 0) return;
  const int64_t blocks = static_cast<int64_t>(random_blocks(n));
  const dim3 grid(static_cast<unsigned>(std::min((blocks + kThreads - 1) / kThreads, kMaxGrid)));
  const float scale = dropout_scale(a.rate);
  switch (a.dist) {
    case RandomDist::uniform:
      fill_kernel<RandomDist::uniform><<<grid, kThreads>>>(out, n, a.seed, a.offset, a.rate, scale);
      break;
    case RandomDist::normal:
      fill_kernel<RandomDist::normal><<<grid, kThreads>>>(out, n, a.seed, a.offset, a.rate, scale);
      break;
    case RandomDist::dropout_mask:
      fill_kernel<RandomDist::dropout_mask>
          <<<grid, kThreads>>>(out, n, a.seed, a.offset, a.rate, scale);
      break;
  }
  PK_CUDA_CHECK(cudaGetLastError());
}

void random_fill_host(float* out, int64_t n, const RandomArgs& a) {
  require_device();
  validate_random("random_fill (cuda)", n, a);
  if (n == 0) return;
  DeviceBuffer buf(size_t(n) * sizeof(float));
  random_fill_device(buf.f32(), n, a);
  // The copy waits for the kernel on the default stream and reports its errors.
  PK_CUDA_CHECK(cudaMemcpy(out, buf.f32(), size_t(n) * sizeof(float), cudaMemcpyDeviceToHost));
}

}  // namespace pykern::cuda
