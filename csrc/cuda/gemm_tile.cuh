// The tiled fp32 GEMM main loop that SGEMM, batched matmul and the three
// implicit-GEMM convolution passes share. Only the operand loaders differ: a
// loader turns (row of the tile, k) into 4 floats of op(A) or op(B)^T, read
// from a dense matrix (Dense) or gathered from an image (cuda/conv_gemm.cu).
//
// One CTA computes a BM x BN tile of C over the k range [k_begin, k_end):
// operand tiles of BK = 16 columns go through shared memory, stored k-major
// (s[k][i]) so the inner product reads 4 consecutive rows with one float4;
// each thread keeps TM x TN accumulators (register blocking) and FMAs in fp32.
// Double buffering: while the CTA computes on one shared-memory stage, every
// thread has already issued its global loads of the next tile into registers,
// and stores them into the other stage afterwards: one __syncthreads per tile.
//
// The grid is 1-D: block = (z * splits + split) * tiles + tile, z a batch
// entry or convolution group, tiles row-major (consecutive CTAs share a panel
// of A). Split-K (splits > 1) writes raw partial tiles to a workspace that
// splitk_reduce sums in split order: deterministic, no atomics.
//
// Included by .cu files only; everything is in an anonymous namespace so each
// file gets its own instantiations.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/act_device.cuh"
#include "cuda/allocator.h"
#include "cuda/check.h"

namespace pykern::cuda {
namespace {

template <int BM_, int BN_, int TM_, int TN_>
struct TileShape {
  static constexpr int BM = BM_, BN = BN_, BK = 16, TM = TM_, TN = TN_;
  static constexpr int kThreadsM = BM / TM, kThreadsN = BN / TN;
  static constexpr int kThreads = kThreadsM * kThreadsN;
  static constexpr int kAChunks = BM * BK / 4 / kThreads;  // float4 chunks per thread and tile
  static constexpr int kBChunks = BN * BK / 4 / kThreads;
  static_assert(TM % 4 == 0 && TN % 4 == 0, "rows and columns are owned 4 at a time");
  static_assert(kAChunks * kThreads * 4 == BM * BK && kBChunks * kThreads * 4 == BN * BK,
                "every thread loads whole chunks");
};
// 256 threads each: 8x8 outputs per thread for large problems; 4x4 when the
// large tiles would leave most SMs idle.
using BigTile = TileShape<128, 128, 8, 8>;
using SmallTile = TileShape<64, 64, 4, 4>;

// Tile row (or column) r < T of the thread at position t along that axis:
// groups of 4 consecutive rows, B*4/T apart, so the float4 reads of a warp from
// shared memory are conflict-free and its stores cover consecutive columns.
template <int B, int T>
__device__ __forceinline__ int owned(int t, int r) {
  return (r / 4) * (B * 4 / T) + t * 4 + (r % 4);
}

// Where chunk c of a tile with E rows sits: kKContig chunks are 4 consecutive
// k of one row (a warp takes 32 consecutive rows at one k, so its transposing
// stores hit 32 banks); the others 4 consecutive rows at one k.
template <int E, bool kKContig>
__device__ __forceinline__ int chunk_i(int c) {
  return kKContig ? c % E : (c % (E / 4)) * 4;
}
template <int E, bool kKContig>
__device__ __forceinline__ int chunk_k(int c) {
  return kKContig ? (c / E) * 4 : c / (E / 4);
}

// s is the k-major stage s[k][i] with rows of LD floats (>= the tile extent).
template <int LD, bool kKContig>
__device__ __forceinline__ void store_chunk(float (*s)[LD], int i, int k, float4 v) {
  if (kKContig) {
    s[k][i] = v.x;
    s[k + 1][i] = v.y;
    s[k + 2][i] = v.z;
    s[k + 3][i] = v.w;
  } else {
    *reinterpret_cast<float4*>(&s[k][i]) = v;
  }
}

__device__ __forceinline__ float4 zero4() { return make_float4(0.f, 0.f, 0.f, 0.f); }

// Offsets of batch entry z in up to kMaxBatchDims broadcast batch axes (stride 0
// on a broadcast axis); ndim == 0 means one entry at offset 0.
constexpr int kMaxBatchDims = 6;
struct BatchIndex {
  int ndim = 0;
  int64_t dims[kMaxBatchDims] = {};
  int64_t stride[kMaxBatchDims] = {};
  // Fixed trip count with constant indices: no dynamic indexing, so the
  // arrays stay in the kernel's parameter space instead of a local copy.
  __device__ int64_t offset(int64_t z) const {
    int64_t off = 0;
#pragma unroll
    for (int d = kMaxBatchDims - 1; d >= 0; --d)
      if (d < ndim) {
        off += (z % dims[d]) * stride[d];
        z /= dims[d];
      }
    return off;
  }
};

// A loader's interface: kKContig (chunk layout, see chunk_i), Row (what
// stays fixed for one chunk across k steps), row(i), load(row, k) (4 floats,
// zero outside the operand) and shift(offset) (moves the base pointer to a
// batch entry or group).
//
// A dense row-major operand as the loader of `extent` tile rows by K: op(A)
// (rows M) or op(B)^T (rows N). kKContig: element (i, k) at p[i*ld + k] (A not
// transposed, B transposed); otherwise at p[k*ld + i]. vec: p is 16-byte
// aligned for every batch entry and ld % 4 == 0, so a chunk wholly inside the
// matrix is one float4 load.
template <bool kKContig_>
struct Dense {
  static constexpr bool kKContig = kKContig_;
  const float* p;
  int64_t ld;
  int extent, K;
  bool vec;

  struct Row {
    const float* p;
    int i;
  };
  __device__ void shift(int64_t offset) { p += offset; }
  __device__ Row row(int i) const {
    if (kKContig) return {i < extent ? p + int64_t(i) * ld : p, i};
    return {p + i, i};
  }
  __device__ float4 load(const Row& r, int k) const {
    if (kKContig) {
      if (r.i >= extent) return zero4();
      if (vec && k + 3 < K) return *reinterpret_cast<const float4*>(r.p + k);
      float v[4];
      for (int j = 0; j < 4; ++j) v[j] = k + j < K ? r.p[k + j] : 0.0f;
      return make_float4(v[0], v[1], v[2], v[3]);
    }
    if (k >= K) return zero4();
    const float* q = r.p + int64_t(k) * ld;
    if (vec && r.i + 3 < extent) return *reinterpret_cast<const float4*>(q);
    float v[4];
    for (int j = 0; j < 4; ++j) v[j] = r.i + j < extent ? q[j] : 0.0f;
    return make_float4(v[0], v[1], v[2], v[3]);
  }
};

// C (M, N) of entry z at C + z*c_step with row stride ldc:
//   C = act(alpha * acc + beta * C + bias), beta == 0 never reads C.
// vec: every row start of every entry is 16-byte aligned.
struct Epilogue {
  float* C = nullptr;
  int64_t ldc = 0, c_step = 0;
  int M = 0, N = 0;
  float alpha = 1.0f, beta = 0.0f;
  const float* bias = nullptr;
  int64_t bias_step = 0;
  Act act = Act::none;
  bool vec = false;
};

// Applies e to v[0..3], the values of columns col..col+3 of row pointer c
// (columns past N are skipped); bias is entry z's bias or null.
__device__ __forceinline__ void epilogue_store4(const Epilogue& e, float* c, const float* bias,
                                                int col, float (&v)[4]) {
  const bool whole = e.vec && col + 3 < e.N;
  for (int j = 0; j < 4; ++j) v[j] *= e.alpha;
  if (e.beta != 0.0f) {
    float old[4];
    if (whole) {
      const float4 q = *reinterpret_cast<const float4*>(c);
      old[0] = q.x, old[1] = q.y, old[2] = q.z, old[3] = q.w;
    } else {
      for (int j = 0; j < 4; ++j) old[j] = col + j < e.N ? c[j] : 0.0f;
    }
    for (int j = 0; j < 4; ++j) v[j] += e.beta * old[j];
  }
  if (bias)
    for (int j = 0; j < 4; ++j) v[j] += col + j < e.N ? bias[col + j] : 0.0f;
  for (int j = 0; j < 4; ++j) v[j] = act_apply(v[j], e.act);
  if (whole) {
    *reinterpret_cast<float4*>(c) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    for (int j = 0; j < 4; ++j)
      if (col + j < e.N) c[j] = v[j];
  }
}

struct TileGrid {
  int tiles_m = 1, tiles_n = 1, splits = 1;
  int k_split = 0;  // k columns per split, a multiple of BK (K when splits == 1)
  int K = 0;
  float* partial = nullptr;  // splits > 1: (zcount, splits, M, N) raw sums
  BatchIndex za, zb;         // entry z's offsets into the A and B loaders' operands
};

// One thread's share of the operand tiles: its chunks of A and B (rows fixed
// for the whole k loop), fetched from global memory into registers for the
// next tile while the current one is computed, then stored into a stage.
template <class S, class LA, class LB>
struct TileFeeder {
  const LA& la;
  const LB& lb;
  int tid;
  typename LA::Row ra[S::kAChunks];
  typename LB::Row rb[S::kBChunks];
  float4 va[S::kAChunks], vb[S::kBChunks];

  __device__ static int ai(int c) { return chunk_i<S::BM, LA::kKContig>(c); }
  __device__ static int ak(int c) { return chunk_k<S::BM, LA::kKContig>(c); }
  __device__ static int bi(int c) { return chunk_i<S::BN, LB::kKContig>(c); }
  __device__ static int bk(int c) { return chunk_k<S::BN, LB::kKContig>(c); }
  __device__ int chunk(int j) const { return tid + j * S::kThreads; }

  __device__ TileFeeder(const LA& a, const LB& b, int m0, int n0, int t) : la(a), lb(b), tid(t) {
#pragma unroll
    for (int j = 0; j < S::kAChunks; ++j) ra[j] = la.row(m0 + ai(chunk(j)));
#pragma unroll
    for (int j = 0; j < S::kBChunks; ++j) rb[j] = lb.row(n0 + bi(chunk(j)));
  }
  // The tile of k columns [k0, k0 + BK) into registers.
  __device__ void fetch(int k0) {
#pragma unroll
    for (int j = 0; j < S::kAChunks; ++j) va[j] = la.load(ra[j], k0 + ak(chunk(j)));
#pragma unroll
    for (int j = 0; j < S::kBChunks; ++j) vb[j] = lb.load(rb[j], k0 + bk(chunk(j)));
  }
  // The registers into a stage whose k rows hold LD floats.
  template <int LD>
  __device__ void store(float (*as)[LD], float (*bs)[LD]) const {
#pragma unroll
    for (int j = 0; j < S::kAChunks; ++j)
      store_chunk<LD, LA::kKContig>(as, ai(chunk(j)), ak(chunk(j)), va[j]);
#pragma unroll
    for (int j = 0; j < S::kBChunks; ++j)
      store_chunk<LD, LB::kKContig>(bs, bi(chunk(j)), bk(chunk(j)), vb[j]);
  }
};

// Calls f(row, col) for the first column of each group of 4 a thread owns in
// its TM x TN block, rows inside M and columns inside N only.
template <class S, class F>
__device__ __forceinline__ void for_each_owned(int m0, int n0, int ty, int tx, int M, int N,
                                               const F& f) {
#pragma unroll
  for (int r = 0; r < S::TM; ++r) {
    const int row = m0 + owned<S::BM, S::TM>(ty, r);
    if (row >= M) continue;
#pragma unroll
    for (int h = 0; h < S::TN / 4; ++h) {
      const int col = n0 + owned<S::BN, S::TN>(tx, 4 * h);
      if (col < N) f(r, h, row, col);
    }
  }
}

template <class S, class LA, class LB>
__global__ void __launch_bounds__(S::kThreads)
    tile_gemm_kernel(LA la, LB lb, Epilogue e, TileGrid grid) {
  __shared__ __align__(16) float As[2][S::BK][S::BM];
  __shared__ __align__(16) float Bs[2][S::BK][S::BN];
  const int tiles = grid.tiles_m * grid.tiles_n;
  const int tile = int(blockIdx.x % unsigned(tiles));
  const int rest = int(blockIdx.x / unsigned(tiles));
  const int split = rest % grid.splits;
  const int64_t z = rest / grid.splits;
  const int m0 = tile / grid.tiles_n * S::BM, n0 = tile % grid.tiles_n * S::BN;
  const int k_begin = split * grid.k_split;
  const int k_end = min(grid.K, k_begin + grid.k_split);
  la.shift(grid.za.offset(z));
  lb.shift(grid.zb.offset(z));

  const int tid = threadIdx.x;
  const int ty = tid / S::kThreadsN, tx = tid % S::kThreadsN;
  TileFeeder<S, LA, LB> feed(la, lb, m0, n0, tid);
  float acc[S::TM][S::TN] = {};
  if (k_begin < k_end) {
    feed.fetch(k_begin);
    feed.store(As[0], Bs[0]);
    __syncthreads();
    int stage = 0;
    for (int k0 = k_begin; k0 < k_end; k0 += S::BK) {
      const bool more = k0 + S::BK < k_end;
      if (more) feed.fetch(k0 + S::BK);
#pragma unroll
      for (int kk = 0; kk < S::BK; ++kk) {
        float a[S::TM], b[S::TN];
#pragma unroll
        for (int g = 0; g < S::TM / 4; ++g) {
          const float* p = &As[stage][kk][owned<S::BM, S::TM>(ty, 4 * g)];
          const float4 q = *reinterpret_cast<const float4*>(p);
          a[4 * g] = q.x, a[4 * g + 1] = q.y, a[4 * g + 2] = q.z, a[4 * g + 3] = q.w;
        }
#pragma unroll
        for (int g = 0; g < S::TN / 4; ++g) {
          const float* p = &Bs[stage][kk][owned<S::BN, S::TN>(tx, 4 * g)];
          const float4 q = *reinterpret_cast<const float4*>(p);
          b[4 * g] = q.x, b[4 * g + 1] = q.y, b[4 * g + 2] = q.z, b[4 * g + 3] = q.w;
        }
#pragma unroll
        for (int r = 0; r < S::TM; ++r)
#pragma unroll
          for (int c = 0; c < S::TN; ++c) acc[r][c] = fmaf(a[r], b[c], acc[r][c]);
      }
      if (more) feed.store(As[stage ^ 1], Bs[stage ^ 1]);
      __syncthreads();
      stage ^= 1;
    }
  }

  if (grid.splits > 1) {
    // Raw partial sums, reduced (and the epilogue applied) by splitk_reduce.
    float* part = grid.partial + (z * grid.splits + split) * int64_t(e.M) * e.N;
    for_each_owned<S>(m0, n0, ty, tx, e.M, e.N, [&](int r, int h, int row, int col) {
      for (int j = 0; j < 4; ++j)
        if (col + j < e.N) part[int64_t(row) * e.N + col + j] = acc[r][4 * h + j];
    });
    return;
  }
  float* c_z = e.C + z * e.c_step;
  const float* bias_z = e.bias ? e.bias + z * e.bias_step : nullptr;
  for_each_owned<S>(m0, n0, ty, tx, e.M, e.N, [&](int r, int h, int row, int col) {
    float v[4] = {acc[r][4 * h], acc[r][4 * h + 1], acc[r][4 * h + 2], acc[r][4 * h + 3]};
    epilogue_store4(e, c_z + int64_t(row) * e.ldc + col, bias_z, col, v);
  });
}

// C = epilogue(sum over splits of partial), the splits added in order. One
// thread per 4 consecutive columns of a row (the epilogue's unit).
__global__ void splitk_reduce_kernel(const float* __restrict__ partial, int splits, int64_t zcount,
                                     Epilogue e) {
  const int quads = (e.N + 3) / 4;
  const int64_t total = zcount * e.M * quads;
  const int64_t plane = int64_t(e.M) * e.N;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int col = int(t % quads) * 4;
    const int row = int(t / quads % e.M);
    const int64_t z = t / (int64_t(quads) * e.M);
    float v[4] = {0.f, 0.f, 0.f, 0.f};
    const float* p = partial + z * splits * plane + int64_t(row) * e.N + col;
    for (int s = 0; s < splits; ++s, p += plane)
      for (int j = 0; j < 4; ++j) v[j] += col + j < e.N ? p[j] : 0.0f;
    float* c = e.C + z * e.c_step + int64_t(row) * e.ldc + col;
    const float* bias = e.bias ? e.bias + z * e.bias_step : nullptr;
    epilogue_store4(e, c, bias, col, v);
  }
}

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How a problem is cut: the tile shape and the split-K factor, from the shape
// alone (so a result is bitwise repeatable on any GPU). Large tiles when they
// make enough CTAs to fill a GPU (about 100-150 SMs); split-K when even the
// small tiles are too few for the work along K.
struct TilePlan {
  bool big = true;
  int splits = 1, k_split = 0;
};

inline TilePlan plan_tiles(int64_t M, int64_t N, int64_t K, int64_t zcount, bool allow_split) {
  constexpr int64_t kFillCtas = 128, kMinSplitK = 512;
  TilePlan p;
  // Large tiles only where they are mostly full: a 7 x 7 product in a 128 x 128
  // tile would idle 99% of its threads however many entries the batch has.
  p.big = M >= 96 && N >= 96 && ceil_div(M, 128) * ceil_div(N, 128) * zcount >= kFillCtas;
  const int64_t tiles = p.big ? ceil_div(M, 128) * ceil_div(N, 128) * zcount
                              : ceil_div(M, 64) * ceil_div(N, 64) * zcount;
  int64_t splits = 1;
  if (allow_split && tiles < kFillCtas && K >= 2 * kMinSplitK)
    splits = std::min<int64_t>(ceil_div(K, kMinSplitK), ceil_div(2 * kFillCtas, tiles));
  // The workspace holds splits * M * N * zcount floats: at most 2^26 (256 MiB).
  const int64_t plane = std::max<int64_t>(M * N * zcount, 1);
  splits = std::max<int64_t>(std::min<int64_t>(splits, (int64_t(1) << 26) / plane), 1);
  const int64_t k_split = ceil_div(ceil_div(K, splits), 16) * 16;
  p.k_split = int(std::max<int64_t>(k_split, 16));
  p.splits = int(std::max<int64_t>(ceil_div(K, p.k_split), 1));
  return p;
}

// Launches the tiled GEMM of C (M, N) += op(A) op(B) over K for zcount
// entries. The caller has checked that M, N, K fit the kernel's ints.
template <class S, class LA, class LB>
void launch_tiles(const LA& la, const LB& lb, const Epilogue& e, int K, int64_t zcount,
                  const BatchIndex& za, const BatchIndex& zb, const TilePlan& plan,
                  const char* op) {
  TileGrid g;
  g.za = za;
  g.zb = zb;
  g.tiles_m = int(ceil_div(e.M, S::BM));
  g.tiles_n = int(ceil_div(e.N, S::BN));
  g.splits = plan.splits;
  g.k_split = plan.splits > 1 ? plan.k_split : std::max(K, 1);
  g.K = K;
  const int64_t blocks = int64_t(g.tiles_m) * g.tiles_n * g.splits * zcount;
  if (blocks > INT_MAX)
    throw std::invalid_argument(std::string(op) + " (cuda): the problem needs " +
                                std::to_string(blocks) +
                                " thread blocks, more than one grid holds");
  DeviceBuffer ws(g.splits > 1 ? size_t(zcount) * g.splits * size_t(e.M) * e.N * sizeof(float) : 0);
  g.partial = ws.f32();
  tile_gemm_kernel<S, LA, LB><<<unsigned(blocks), S::kThreads>>>(la, lb, e, g);
  PK_LAUNCH_CHECK(op);
  if (g.splits > 1) {
    const int64_t work = zcount * e.M * ceil_div(e.N, 4);
    const unsigned grid = unsigned(std::min<int64_t>(ceil_div(work, 256), 65535));
    splitk_reduce_kernel<<<grid, 256>>>(g.partial, g.splits, zcount, e);
    PK_LAUNCH_CHECK("splitk_reduce");
  }
  // ws goes back to the cache now: the next owner's work queues behind these
  // kernels on the same (legacy default) stream.
}

// za, zb: the offsets of entry z < zcount into la's and lb's operands.
template <class LA, class LB>
void run_tiles(const LA& la, const LB& lb, const Epilogue& e, int K, int64_t zcount,
               const BatchIndex& za, const BatchIndex& zb, bool allow_split, const char* op) {
  if (e.M == 0 || e.N == 0 || zcount == 0) return;
  const TilePlan plan = plan_tiles(e.M, e.N, K, zcount, allow_split);
  if (plan.big)
    launch_tiles<BigTile>(la, lb, e, K, zcount, za, zb, plan, op);
  else
    launch_tiles<SmallTile>(la, lb, e, K, zcount, za, zb, plan, op);
}

// One offset per group: entry g at g * step.
inline BatchIndex group_index(int64_t groups, int64_t step) {
  BatchIndex b;
  b.ndim = 1;
  b.dims[0] = groups;
  b.stride[0] = step;
  return b;
}

}  // namespace
}  // namespace pykern::cuda
