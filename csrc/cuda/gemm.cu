// SGEMM kernel: shared-memory tiles with 2-D register blocking (siboehm's
// kernel 5/6 and llm.c's matmul_forward kernel 4 in kernels.md section 2:
// about 70-80% of cuBLAS fp32 on large squares). One CTA of 256 threads
// computes a 128x128 tile of C, stepping K by 16; each thread holds 8x8
// accumulators.
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/gemm.h"

namespace pykern::cuda {
namespace {

constexpr int kTile = 128;  // CTA tile in M and in N
constexpr int kBK = 16;     // K step per shared-memory tile
constexpr int kThreads = 256;
static_assert(kThreads == (kTile / 8) * (kTile / 8), "one thread per 8x8 block of the tile");

// Loads op(X)[i0 : i0+128, k0 : k0+kBK] into s[k][i] (k-major, so the inner
// product loop reads 4 consecutive i with one float4), zero-filling past
// `extent` rows and past K. op(X)[i][k] is x[i*ld + k] when kContig (k runs
// along memory), else x[k*ld + i]. `vec`: x is 16-byte aligned and ld % 4 == 0,
// so a chunk of 4 along the contiguous axis starting at a multiple of 4 can be
// read with one float4 when it is wholly inside the matrix.
template <bool kContig>
__device__ __forceinline__ void load_tile(float (*s)[kTile], const float* __restrict__ x,
                                          int64_t ld, int extent, int K, int i0, int k0,
                                          bool vec) {
  constexpr int kChunks = kBK * kTile / 4;  // float4 chunks per tile
  for (int c = threadIdx.x; c < kChunks; c += kThreads) {
    // kContig: a warp takes 32 consecutive i at one k, so its transposing
    // stores s[k+j][i] hit 32 different banks.
    const int i = kContig ? c % kTile : (c % (kTile / 4)) * 4;
    const int k = kContig ? (c / kTile) * 4 : c / (kTile / 4);
    const int gi = i0 + i, gk = k0 + k;
    float v[4];
    if (kContig) {
      const bool row_in = gi < extent;
      const int64_t off = int64_t(gi) * ld + gk;
      if (vec && row_in && gk + 3 < K) {
        const float4 q = *reinterpret_cast<const float4*>(x + off);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
      } else {
        for (int j = 0; j < 4; ++j) v[j] = row_in && gk + j < K ? x[off + j] : 0.0f;
      }
      for (int j = 0; j < 4; ++j) s[k + j][i] = v[j];
    } else {
      const bool row_in = gk < K;
      const int64_t off = int64_t(gk) * ld + gi;
      if (vec && row_in && gi + 3 < extent) {
        const float4 q = *reinterpret_cast<const float4*>(x + off);
        v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
      } else {
        for (int j = 0; j < 4; ++j) v[j] = row_in && gi + j < extent ? x[off + j] : 0.0f;
      }
      *reinterpret_cast<float4*>(&s[k][i]) = make_float4(v[0], v[1], v[2], v[3]);
    }
  }
}

__device__ __forceinline__ float activate(float v, Act act) {
  switch (act) {
    case Act::relu: return v > 0.0f ? v : 0.0f;
    case Act::sigmoid: return 1.0f / (1.0f + expf(-v));
    case Act::tanh: return tanhf(v);
    default: return v;
  }
}

// Thread (ty, tx) of the 16x16 grid owns tile rows {ty*4 + r, 64 + ty*4 + r}
// and columns {tx*4 + j, 64 + tx*4 + j}, r, j < 4: its shared-memory float4
// reads are then conflict-free (16 lanes read 64 consecutive floats) and its
// stores of C cover 64 consecutive columns per half-warp.
__device__ __forceinline__ int owned(int t, int r) { return (r < 4 ? 0 : 64) + t * 4 + (r & 3); }

// kContigA: A stored (M,K) (not trans_a). kContigB: B stored (N,K) (trans_b).
// The grid is 1-D over tiles, row-major: consecutive CTAs share a panel of A.
template <bool kContigA, bool kContigB>
__global__ void __launch_bounds__(kThreads)
    sgemm_kernel(GemmArgs g, int tiles_n, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float As[kBK][kTile];
  __shared__ __align__(16) float Bs[kBK][kTile];
  const int M = int(g.M), N = int(g.N), K = int(g.K);
  const int m0 = int(blockIdx.x) / tiles_n * kTile, n0 = int(blockIdx.x) % tiles_n * kTile;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;

  float acc[8][8] = {};
  for (int k0 = 0; k0 < K; k0 += kBK) {
    load_tile<kContigA>(As, g.A, g.lda, M, K, m0, k0, vec_a);
    load_tile<kContigB>(Bs, g.B, g.ldb, N, K, n0, k0, vec_b);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      alignas(16) float a[8], b[8];
      *reinterpret_cast<float4*>(a) = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
      *reinterpret_cast<float4*>(a + 4) = *reinterpret_cast<const float4*>(&As[kk][64 + ty * 4]);
      *reinterpret_cast<float4*>(b) = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
      *reinterpret_cast<float4*>(b + 4) = *reinterpret_cast<const float4*>(&Bs[kk][64 + tx * 4]);
#pragma unroll
      for (int r = 0; r < 8; ++r)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[r][j] = fmaf(a[r], b[j], acc[r][j]);
    }
    __syncthreads();
  }

  // Epilogue on 4 consecutive columns at a time: float4 when they are all
  // inside C and C's rows are 16-byte aligned, element by element otherwise.
#pragma unroll
  for (int r = 0; r < 8; ++r) {
    const int row = m0 + owned(ty, r);
    if (row >= M) continue;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int col = n0 + owned(tx, h * 4);
      if (col >= N) continue;
      float* c = g.C + int64_t(row) * g.ldc + col;
      const bool whole = vec_c && col + 3 < N;
      alignas(16) float v[4];
      for (int j = 0; j < 4; ++j) v[j] = g.alpha * acc[r][h * 4 + j];
      if (g.beta != 0.0f) {
        alignas(16) float old[4];
        if (whole) {
          *reinterpret_cast<float4*>(old) = *reinterpret_cast<const float4*>(c);
        } else {
          for (int j = 0; j < 4; ++j) old[j] = col + j < N ? c[j] : 0.0f;
        }
        for (int j = 0; j < 4; ++j) v[j] += g.beta * old[j];
      }
      if (g.bias)
        for (int j = 0; j < 4; ++j) v[j] += col + j < N ? g.bias[col + j] : 0.0f;
      for (int j = 0; j < 4; ++j) v[j] = activate(v[j], g.act);
      if (whole) {
        *reinterpret_cast<float4*>(c) = *reinterpret_cast<const float4*>(v);
      } else {
        for (int j = 0; j < 4; ++j)
          if (col + j < N) c[j] = v[j];
      }
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The checks of validate_gemm (pykern/gemm.h), plus the kernel's int indexing.
void check_args(const GemmArgs& g) {
  auto bad = [&](const char* what) {
    throw std::invalid_argument(std::string("sgemm (cuda): ") + what + " (M=" +
                                std::to_string(g.M) + ", N=" + std::to_string(g.N) +
                                ", K=" + std::to_string(g.K) + ")");
  };
  if (g.M < 0 || g.N < 0 || g.K < 0) bad("negative size");
  // Tile indices (i0 + 127, k0 + kBK) are ints: keep them from overflowing.
  constexpr int64_t kMaxSize = INT_MAX - kTile;
  if (g.M > kMaxSize || g.N > kMaxSize || g.K > kMaxSize) bad("a size of 2^31 - 128 or more");
  if (g.M == 0 || g.N == 0) return;
  if (!g.C || g.ldc < g.N) bad("C is null or ldc < N");
  if (g.K == 0) return;
  if (!g.A || g.lda < (g.trans_a ? g.M : g.K)) bad("A is null or lda too small for op(A)");
  if (!g.B || g.ldb < (g.trans_b ? g.K : g.N)) bad("B is null or ldb too small for op(B)");
}

}  // namespace

void sgemm_device(const GemmArgs& g) {
  check_args(g);
  if (g.M == 0 || g.N == 0) return;
  const int64_t tiles_m = (g.M + kTile - 1) / kTile, tiles_n = (g.N + kTile - 1) / kTile;
  if (tiles_m * tiles_n > INT_MAX)
    throw std::invalid_argument("sgemm (cuda): too many tiles for one grid (M=" +
                                std::to_string(g.M) + ", N=" + std::to_string(g.N) + ")");
  const bool vec_a = g.lda % 4 == 0 && aligned16(g.A);
  const bool vec_b = g.ldb % 4 == 0 && aligned16(g.B);
  const bool vec_c = g.ldc % 4 == 0 && aligned16(g.C);
  const dim3 grid(static_cast<unsigned>(tiles_m * tiles_n)), block(kThreads);
  const int tn = static_cast<int>(tiles_n);
  if (!g.trans_a && !g.trans_b)
    sgemm_kernel<true, false><<<grid, block>>>(g, tn, vec_a, vec_b, vec_c);
  else if (!g.trans_a && g.trans_b)
    sgemm_kernel<true, true><<<grid, block>>>(g, tn, vec_a, vec_b, vec_c);
  else if (g.trans_a && !g.trans_b)
    sgemm_kernel<false, false><<<grid, block>>>(g, tn, vec_a, vec_b, vec_c);
  else
    sgemm_kernel<false, true><<<grid, block>>>(g, tn, vec_a, vec_b, vec_c);
  PK_CUDA_CHECK(cudaGetLastError());
}

}  // namespace pykern::cuda
