// SGEMM and batched SGEMM on the tiled main loop of cuda/gemm_tile.cuh
// (kernels.md 8.3: 2-D block tiling + vectorised loads reach ~80% of cuBLAS
// fp32 on large squares), an opt-in TF32 tensor-core variant (WMMA m16n16k8),
// and the element-wise activation kernel.
#include <mma.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/check.h"
#include "cuda/gemm.h"
#include "cuda/gemm_tile.cuh"

namespace pykern::cuda {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The checks of validate_gemm (pykern/gemm.h), plus the kernels' int indexing.
void check_args(const GemmArgs& g, const GemmBatch& b) {
  auto bad = [&](const std::string& what) {
    throw std::invalid_argument("sgemm (cuda): " + what + " (M=" + std::to_string(g.M) +
                                ", N=" + std::to_string(g.N) + ", K=" + std::to_string(g.K) + ")");
  };
  if (g.M < 0 || g.N < 0 || g.K < 0) bad("negative size");
  // Tile indices (i0 + 127, k0 + 15) are ints: keep them from overflowing.
  constexpr int64_t kMaxSize = INT_MAX - 128;
  if (g.M > kMaxSize || g.N > kMaxSize || g.K > kMaxSize) bad("a size of 2^31 - 128 or more");
  if (b.ndim < 0 || b.ndim > kGemmMaxBatchDims)
    bad("at most " + std::to_string(kGemmMaxBatchDims) + " batch axes");
  for (int d = 0; d < b.ndim; ++d)
    if (b.dims[d] < 0) bad("negative batch size");
  if (g.M == 0 || g.N == 0) return;
  if (!g.C || g.ldc < g.N) bad("C is null or ldc < N");
  if (g.K == 0) return;
  if (!g.A || g.lda < (g.trans_a ? g.M : g.K)) bad("A is null or lda too small for op(A)");
  if (!g.B || g.ldb < (g.trans_b ? g.K : g.N)) bad("B is null or ldb too small for op(B)");
}

BatchIndex batch_index(const GemmBatch& b, const int64_t* stride) {
  BatchIndex i;
  i.ndim = b.ndim;
  for (int d = 0; d < b.ndim; ++d) {
    i.dims[d] = b.dims[d];
    i.stride[d] = stride[d];
  }
  return i;
}

bool strides_multiple_of_4(const GemmBatch& b, const int64_t* stride) {
  for (int d = 0; d < b.ndim; ++d)
    if (stride[d] % 4) return false;
  return true;
}

// ---- TF32 tensor cores ------------------------------------------------------
// The SIMT kernel's loaders and epilogue, with the inner product on WMMA
// fragments: 8 warps as 2 x 4, each computing 64 x 32 of the 128 x 128 tile as
// 4 x 2 accumulators of 16 x 16. The stages are padded to 132 floats per k row
// (a multiple of 4 floats, as WMMA's tf32 ldm must be, and fewer bank conflicts).
namespace wmma = nvcuda::wmma;
constexpr int kTfLd = 132;

template <class LA, class LB>
__global__ void __launch_bounds__(256) tf32_gemm_kernel(LA la, LB lb, Epilogue e, int tiles_n,
                                                        int K, BatchIndex za, BatchIndex zb) {
  using S = BigTile;
  __shared__ __align__(128) float As[2][S::BK][kTfLd];
  __shared__ __align__(128) float Bs[2][S::BK][kTfLd];
  const int tiles = int(ceil_div(e.M, S::BM)) * tiles_n;
  const int tile = int(blockIdx.x % unsigned(tiles));
  const int64_t z = blockIdx.x / unsigned(tiles);
  const int m0 = tile / tiles_n * S::BM, n0 = tile % tiles_n * S::BN;
  la.shift(za.offset(z));
  lb.shift(zb.offset(z));
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wm = warp / 4, wn = warp % 4;

  TileFeeder<S, LA, LB> feed(la, lb, m0, n0, tid);
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  feed.fetch(0);
  feed.store(As[0], Bs[0]);
  __syncthreads();
  int stage = 0;
  for (int k0 = 0; k0 < K; k0 += S::BK) {
    const bool more = k0 + S::BK < K;
    if (more) feed.fetch(k0 + S::BK);
#pragma unroll
    for (int kk = 0; kk < S::BK; kk += 8) {
      // As[k][i] holds op(A)(i, k): column-major A with ldm kTfLd; Bs[k][j] is row-major B.
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[4];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        wmma::load_matrix_sync(fa[i], &As[stage][kk][wm * 64 + i * 16], kTfLd);
#pragma unroll
        for (int t = 0; t < fa[i].num_elements; ++t) fa[i].x[t] = wmma::__float_to_tf32(fa[i].x[t]);
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::load_matrix_sync(fb[j], &Bs[stage][kk][wn * 32 + j * 16], kTfLd);
#pragma unroll
        for (int t = 0; t < fb[j].num_elements; ++t) fb[j].x[t] = wmma::__float_to_tf32(fb[j].x[t]);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (more) feed.store(As[stage ^ 1], Bs[stage ^ 1]);
    __syncthreads();
    stage ^= 1;
  }

  // Each warp moves its accumulators through a 16 x 16 patch of the (now idle)
  // A stages, then applies the epilogue 4 columns at a time: lane l takes row
  // l / 2 and columns 8 * (l % 2) .. + 7 of the patch.
  float* patch = &As[0][0][0] + warp * 256;
  float* c_z = e.C + z * e.c_step;
  const float* bias_z = e.bias ? e.bias + z * e.bias_step : nullptr;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(patch, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      const int r = lane / 2, c0 = (lane % 2) * 8;
      const int row = m0 + wm * 64 + i * 16 + r;
      for (int h = 0; h < 2; ++h) {
        const int col = n0 + wn * 32 + j * 16 + c0 + 4 * h;
        if (row < e.M && col < e.N) {
          const float* p = patch + r * 16 + c0 + 4 * h;
          float v[4] = {p[0], p[1], p[2], p[3]};
          epilogue_store4(e, c_z + int64_t(row) * e.ldc + col, bias_z, col, v);
        }
      }
      __syncwarp();
    }
}

template <class LA, class LB>
void run_tf32(const LA& la, const LB& lb, const Epilogue& e, int K, int64_t zcount,
              const BatchIndex& za, const BatchIndex& zb) {
  if (e.M == 0 || e.N == 0 || zcount == 0) return;
  const int64_t tiles_n = ceil_div(e.N, 128);
  const int64_t blocks = ceil_div(e.M, 128) * tiles_n * zcount;
  if (blocks > INT_MAX)
    throw std::invalid_argument(
        "sgemm (cuda): the problem needs more thread blocks than one grid holds");
  tf32_gemm_kernel<LA, LB><<<unsigned(blocks), 256>>>(la, lb, e, int(tiles_n), K, za, zb);
  PK_LAUNCH_CHECK("sgemm_tf32");
}

template <bool kContigA, bool kContigB>
void run_gemm(const GemmArgs& g, const GemmBatch& b, int64_t zcount, bool tf32) {
  const bool vec_a = g.lda % 4 == 0 && aligned16(g.A) && strides_multiple_of_4(b, b.a_stride);
  const bool vec_b = g.ldb % 4 == 0 && aligned16(g.B) && strides_multiple_of_4(b, b.b_stride);
  const Dense<kContigA> la{g.A, g.lda, int(g.M), int(g.K), vec_a};
  const Dense<kContigB> lb{g.B, g.ldb, int(g.N), int(g.K), vec_b};
  const BatchIndex za = batch_index(b, b.a_stride), zb = batch_index(b, b.b_stride);
  Epilogue e;
  e.C = g.C;
  e.ldc = g.ldc;
  e.c_step = b.ndim ? b.c_step : 0;
  e.M = int(g.M);
  e.N = int(g.N);
  e.alpha = g.alpha;
  e.beta = g.beta;
  e.bias = g.bias;
  e.act = g.act;
  e.vec = g.ldc % 4 == 0 && e.c_step % 4 == 0 && aligned16(g.C);
  if (tf32 && g.K > 0)
    run_tf32(la, lb, e, int(g.K), zcount, za, zb);
  else
    run_tiles(la, lb, e, int(g.K), zcount, za, zb, /*allow_split=*/true, "sgemm");
}

// ---- activation -------------------------------------------------------------
constexpr int kActThreads = 256;

__global__ void activation_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n,
                                  Act act) {
  for (int64_t i = blockIdx.x * int64_t(kActThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kActThreads)
    y[i] = act_apply(x[i], act);
}

// In place: x and y alias, so no __restrict__.
__global__ void activation_inplace_kernel(float* y, int64_t n, Act act) {
  for (int64_t i = blockIdx.x * int64_t(kActThreads) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * kActThreads)
    y[i] = act_apply(y[i], act);
}

}  // namespace

void sgemm_batched_device(const GemmArgs& g, const GemmBatch& b, bool tf32) {
  check_args(g, b);
  int64_t zcount = 1;
  for (int d = 0; d < b.ndim; ++d) zcount *= b.dims[d];
  if (g.M == 0 || g.N == 0 || zcount == 0) return;
  if (!g.trans_a && !g.trans_b)
    run_gemm<true, false>(g, b, zcount, tf32);
  else if (!g.trans_a && g.trans_b)
    run_gemm<true, true>(g, b, zcount, tf32);
  else if (g.trans_a && !g.trans_b)
    run_gemm<false, false>(g, b, zcount, tf32);
  else
    run_gemm<false, true>(g, b, zcount, tf32);
}

void sgemm_device(const GemmArgs& g, bool tf32) { sgemm_batched_device(g, GemmBatch{}, tf32); }

void activation_device(const float* x, float* y, int64_t n, Act act) {
  if (n <= 0) return;
  const unsigned grid = unsigned(std::min<int64_t>(ceil_div(n, kActThreads), 65535 * 8));
  if (x == y)
    activation_inplace_kernel<<<grid, kActThreads>>>(y, n, act);
  else
    activation_kernel<<<grid, kActThreads>>>(x, y, n, act);
  PK_LAUNCH_CHECK("activation");
}

}  // namespace pykern::cuda
