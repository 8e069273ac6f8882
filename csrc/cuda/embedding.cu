// Embedding gather and its deterministic gradient (contract: cuda/embedding.h).
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/embedding.h"

namespace pykern::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;  // grid-stride loops cover larger sizes
// Table-row partitions of the backward: every row sums in id order whatever the
// count; each block rescans all ids, so more blocks cost more scanning, fewer
// leave SMs idle (1024: ~8 per SM of an H100).
constexpr int64_t kMaxParts = 1024;
constexpr unsigned long long kNoBadId = ULLONG_MAX;

dim3 grid_for(int64_t n) {
  return dim3(static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)));
}

__device__ __forceinline__ void note_bad(unsigned long long* bad, int64_t n) {
  atomicMin(bad, static_cast<unsigned long long>(n));
}

// out (N, D) = table[ids]; an out-of-range id writes zeros and notes its position.
template <class Id>
__global__ void __launch_bounds__(kThreads)
    gather_kernel(const Id* __restrict__ ids, int64_t N, int64_t V, int64_t D,
                  const float* __restrict__ table, float* __restrict__ out,
                  unsigned long long* bad) {
  const int64_t total = N * D, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t n = e / D, j = e - n * D;
    const int64_t v = static_cast<int64_t>(ids[n]);
    if (v < 0 || v >= V) {
      out[e] = 0.0f;
      if (j == 0) note_bad(bad, n);
      continue;
    }
    out[e] = table[v * D + j];
  }
}

// Only the id check (no rows to move: D == 0 or V == 0).
template <class Id>
__global__ void __launch_bounds__(kThreads)
    check_kernel(const Id* __restrict__ ids, int64_t N, int64_t V, unsigned long long* bad) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; n < N; n += stride) {
    const int64_t v = static_cast<int64_t>(ids[n]);
    if (v < 0 || v >= V) note_bad(bad, n);
  }
}

// Column j of the d_out rows n[q] added to table rows v[q], q < count, in order.
// The running sum of a row stays in a register while consecutive items share
// it (a frequent id, such as padding, is a long run), and kBatch rows are loaded
// ahead of the adds, so a run costs about one load latency per kBatch items.
constexpr int kBatch = 8;

__device__ __forceinline__ void add_rows(const int64_t* n, const int64_t* v, int count,
                                         int64_t D, int64_t j, const float* __restrict__ d_out,
                                         float* __restrict__ d_table) {
  int64_t row = -1;
  float acc = 0.0f;
  for (int q0 = 0; q0 < count; q0 += kBatch) {
    float val[kBatch];
#pragma unroll
    for (int k = 0; k < kBatch; ++k) val[k] = q0 + k < count ? d_out[n[q0 + k] * D + j] : 0.0f;
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      if (q0 + k >= count) break;
      const int64_t r = v[q0 + k];
      if (r != row) {
        if (row >= 0) d_table[row * D + j] = acc;
        row = r;
        acc = d_table[r * D + j];
      }
      acc += val[k];
    }
  }
  if (row >= 0) d_table[row * D + j] = acc;
}

// Block `part` of `parts` owns table rows [v0, v1): it zeroes them, then walks
// the ids kThreads at a time, compacts the positions whose id it owns (in
// increasing n, by a ballot prefix count), and adds those d_out rows in that
// order, thread j taking columns j, j + kThreads, ... (add_rows). So each table
// value is summed by one thread in increasing n, from the zero it was given: the
// CPU's sums, bit for bit. Block 0 also notes bad ids.
template <class Id>
__global__ void __launch_bounds__(kThreads)
    scatter_add_kernel(const Id* __restrict__ ids, int64_t N, int64_t V, int64_t D, int parts,
                       const float* __restrict__ d_out, float* __restrict__ d_table,
                       unsigned long long* bad) {
  constexpr int kWarps = kThreads / 32;
  __shared__ int64_t s_n[kThreads];
  __shared__ int64_t s_v[kThreads];
  __shared__ int s_count[kWarps];
  const int part = blockIdx.x;
  const int64_t v0 = V * part / parts, v1 = V * (part + 1) / parts;
  for (int64_t e = threadIdx.x; e < (v1 - v0) * D; e += kThreads) d_table[v0 * D + e] = 0.0f;
  __syncthreads();  // the zeros are visible to the threads that add to them
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t base = 0; base < N; base += kThreads) {
    const int64_t n = base + threadIdx.x;
    int64_t v = -1;
    bool own = false;
    if (n < N) {
      v = static_cast<int64_t>(ids[n]);
      if (v < 0 || v >= V) {
        if (part == 0) note_bad(bad, n);
      } else {
        own = v >= v0 && v < v1;
      }
    }
    const unsigned ballot = __ballot_sync(0xffffffffu, own);
    if (lane == 0) s_count[warp] = __popc(ballot);
    __syncthreads();
    int offset = 0, count = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (w < warp) offset += s_count[w];
      count += s_count[w];
    }
    if (own) {
      const int q = offset + __popc(ballot & ((1u << lane) - 1u));
      s_n[q] = n;
      s_v[q] = v;
    }
    __syncthreads();
    for (int64_t j = threadIdx.x; j < D; j += kThreads)
      add_rows(s_n, s_v, count, D, j, d_out, d_table);
    __syncthreads();  // s_count, s_n, s_v are rewritten by the next chunk
  }
}

// Reads the flag back (this waits for the queued work) and throws for a bad id.
void raise_if_bad(const EmbeddingArgs& a, const unsigned long long* bad_dev, const char* op) {
  unsigned long long pos = kNoBadId;
  PK_CUDA_CHECK(cudaMemcpy(&pos, bad_dev, sizeof pos, cudaMemcpyDeviceToHost));
  if (pos == kNoBadId) return;
  int64_t id = 0;
  if (a.ids64) {
    PK_CUDA_CHECK(cudaMemcpy(&id, static_cast<const int64_t*>(a.ids) + pos, sizeof id,
                             cudaMemcpyDeviceToHost));
  } else {
    int32_t v = 0;
    PK_CUDA_CHECK(cudaMemcpy(&v, static_cast<const int32_t*>(a.ids) + pos, sizeof v,
                             cudaMemcpyDeviceToHost));
    id = v;
  }
  throw std::invalid_argument(std::string(op) + ": index " + std::to_string(id) +
                              " (at flat position " + std::to_string(pos) +
                              ") is out of range for an embedding table of " +
                              std::to_string(a.V) + " rows (input_dim)");
}

// A device flag set to kNoBadId.
struct BadFlag {
  DeviceBuffer buf{sizeof(unsigned long long)};
  BadFlag() { PK_CUDA_CHECK(cudaMemsetAsync(ptr(), 0xff, sizeof(unsigned long long), 0)); }
  unsigned long long* ptr() const { return reinterpret_cast<unsigned long long*>(buf.f32()); }
};

void check_sizes(const EmbeddingArgs& a, const char* op) {
  if (a.V < 0 || a.D < 0 || a.N < 0)
    throw std::invalid_argument(std::string(op) + ": negative size");
  if (a.N > 0 && !a.ids) throw std::invalid_argument(std::string(op) + ": ids is null");
}

template <class Id>
void forward_ids(const EmbeddingArgs& a, const float* table, float* out, unsigned long long* bad) {
  const Id* ids = static_cast<const Id*>(a.ids);
  if (a.D > 0) {
    gather_kernel<Id><<<grid_for(a.N * a.D), kThreads>>>(ids, a.N, a.V, a.D, table, out, bad);
    PK_LAUNCH_CHECK("embedding_forward");
  } else {
    check_kernel<Id><<<grid_for(a.N), kThreads>>>(ids, a.N, a.V, bad);
    PK_LAUNCH_CHECK("embedding_check_ids");
  }
}

template <class Id>
void backward_ids(const EmbeddingArgs& a, const float* d_out, float* d_table,
                  unsigned long long* bad) {
  const Id* ids = static_cast<const Id*>(a.ids);
  if (a.V > 0 && a.D > 0) {
    const int parts = static_cast<int>(std::min(a.V, kMaxParts));
    scatter_add_kernel<Id><<<parts, kThreads>>>(ids, a.N, a.V, a.D, parts, d_out, d_table, bad);
    PK_LAUNCH_CHECK("embedding_backward");
  } else if (a.N > 0) {
    check_kernel<Id><<<grid_for(a.N), kThreads>>>(ids, a.N, a.V, bad);
    PK_LAUNCH_CHECK("embedding_check_ids");
  }
}

}  // namespace

void embedding_forward_device(const EmbeddingArgs& a, const float* table, float* out) {
  const char* op = "embedding_forward (cuda)";
  check_sizes(a, op);
  if (a.N == 0) return;
  BadFlag bad;
  if (a.ids64)
    forward_ids<int64_t>(a, table, out, bad.ptr());
  else
    forward_ids<int32_t>(a, table, out, bad.ptr());
  raise_if_bad(a, bad.ptr(), op);
}

void embedding_backward_device(const EmbeddingArgs& a, const float* d_out, float* d_table) {
  const char* op = "embedding_backward (cuda)";
  check_sizes(a, op);
  if (a.N == 0) {
    if (a.V * a.D > 0)
      PK_CUDA_CHECK(cudaMemsetAsync(d_table, 0, a.V * a.D * sizeof(float), 0));
    return;
  }
  BadFlag bad;
  if (a.ids64)
    backward_ids<int64_t>(a, d_out, d_table, bad.ptr());
  else
    backward_ids<int32_t>(a, d_out, d_table, bad.ptr());
  raise_if_bad(a, bad.ptr(), op);
}

}  // namespace pykern::cuda
