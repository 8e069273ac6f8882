// Deterministic column sums in double, the reduction under batch norm's
// statistics, layer norm's dgamma/dbeta and the depthwise filter gradient:
//
//   total(p, c)[v] = sum over rows r < R, b < B of term(p, r, c*B + b)[v]
//
// for P independent problems of R rows by W = C*B columns and NV values per
// term (NV = 2 sums two quantities in one pass). Two kernels, no atomics:
//  1. colsum_partial: a CTA of 32 columns x 8 row lanes sums one block of rows
//     (lane y takes rows y, y+8, ...), then adds the 8 lanes in a fixed tree:
//     partial(p, chunk, v, col).
//  2. colsum_fold: a CTA per (p, c) adds its chunks x B partials (thread t
//     takes entries t, t+128, ... in order, then a fixed tree) and hands the
//     totals to `finish`.
// The row blocks depend on the shape alone, so results are bitwise repeatable.
// Included by .cu files only.
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/allocator.h"
#include "cuda/check.h"

namespace pykern::cuda {
namespace {

constexpr int kColsumCols = 32, kColsumLanes = 8, kFoldThreads = 128;

struct ColsumPlan {
  int64_t chunks = 1, rows_per_chunk = 1, col_blocks = 1;
};

// About 1024 CTAs in the partial pass, at least 64 rows per block of rows.
inline ColsumPlan plan_colsum(int64_t P, int64_t rows, int64_t cols) {
  ColsumPlan p;
  p.col_blocks = std::max<int64_t>((cols + kColsumCols - 1) / kColsumCols, 1);
  const int64_t want = (1024 + p.col_blocks * P - 1) / (p.col_blocks * P);
  const int64_t most = std::max<int64_t>((rows + 63) / 64, 1);
  const int64_t chunks = std::clamp<int64_t>(want, 1, std::min<int64_t>(most, 65535));
  p.rows_per_chunk = std::max<int64_t>((rows + chunks - 1) / chunks, 1);
  p.chunks = std::max<int64_t>((rows + p.rows_per_chunk - 1) / p.rows_per_chunk, 1);
  return p;
}

// term(p, r, col, s) adds term (p, r, col)'s NV values into s.
template <int NV, class Term>
__global__ void __launch_bounds__(kColsumCols* kColsumLanes)
    colsum_partial_kernel(Term term, int64_t rows, int64_t cols, int64_t rows_per_chunk,
                          double* __restrict__ partial) {
  __shared__ double sh[NV][kColsumLanes][kColsumCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t col = int64_t(blockIdx.x) * kColsumCols + tx;
  const int64_t chunk = blockIdx.y, p = blockIdx.z, chunks = gridDim.y;
  double s[NV];
  for (int v = 0; v < NV; ++v) s[v] = 0.0;
  if (col < cols) {
    const int64_t r0 = chunk * rows_per_chunk, r1 = min(rows, r0 + rows_per_chunk);
    for (int64_t r = r0 + ty; r < r1; r += kColsumLanes) term(p, r, col, s);
  }
  for (int v = 0; v < NV; ++v) sh[v][ty][tx] = s[v];
  __syncthreads();
  for (int h = kColsumLanes / 2; h >= 1; h /= 2) {
    if (ty < h)
      for (int v = 0; v < NV; ++v) sh[v][ty][tx] += sh[v][ty + h][tx];
    __syncthreads();
  }
  if (ty == 0 && col < cols)
    for (int v = 0; v < NV; ++v)
      partial[((p * chunks + chunk) * NV + v) * cols + col] = sh[v][0][tx];
}

// finish(p, c, totals) runs on thread 0 of the CTA of (p, c).
template <int NV, class Finish>
__global__ void __launch_bounds__(kFoldThreads)
    colsum_fold_kernel(const double* __restrict__ partial, int64_t chunks, int64_t C, int64_t B,
                       Finish finish) {
  __shared__ double sh[NV][kFoldThreads];
  const int64_t c = blockIdx.x, p = blockIdx.y, cols = C * B, entries = chunks * B;
  double s[NV];
  for (int v = 0; v < NV; ++v) s[v] = 0.0;
  for (int64_t q = threadIdx.x; q < entries; q += kFoldThreads) {
    const int64_t chunk = q / B, col = c * B + q % B;
    for (int v = 0; v < NV; ++v) s[v] += partial[((p * chunks + chunk) * NV + v) * cols + col];
  }
  for (int v = 0; v < NV; ++v) sh[v][threadIdx.x] = s[v];
  __syncthreads();
  for (int h = kFoldThreads / 2; h >= 1; h /= 2) {
    if (int(threadIdx.x) < h)
      for (int v = 0; v < NV; ++v) sh[v][threadIdx.x] += sh[v][threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    double t[NV];
    for (int v = 0; v < NV; ++v) t[v] = sh[v][0];
    finish(p, c, t);
  }
}

// Runs both passes for P problems of `rows` rows by C*B columns (finish runs
// for every (p, c), with zeros when there is nothing to sum). `op` names the
// caller in launch errors.
template <int NV, class Term, class Finish>
void column_sums(int64_t P, int64_t rows, int64_t C, int64_t B, const Term& term,
                 const Finish& finish, const char* op) {
  const int64_t cols = C * B;
  if (P == 0 || C == 0) return;
  if (P > 65535 || C > INT_MAX)
    throw std::invalid_argument(std::string(op) + " (cuda): more than 65535 independent "
                                "statistics groups or 2^31 columns (P = " + std::to_string(P) +
                                ", C = " + std::to_string(C) + ")");
  const ColsumPlan plan = plan_colsum(P, rows, cols);
  DeviceBuffer partial(size_t(P * plan.chunks * NV * cols) * sizeof(double));
  double* part = static_cast<double*>(partial.ptr());
  if (cols > 0) {  // B == 0 leaves nothing to sum: the fold hands out zeros
    const dim3 grid1{unsigned(plan.col_blocks), unsigned(plan.chunks), unsigned(P)};
    colsum_partial_kernel<NV><<<grid1, dim3(kColsumCols, kColsumLanes)>>>(
        term, rows, cols, plan.rows_per_chunk, part);
    PK_LAUNCH_CHECK(op);
  }
  const dim3 grid2{unsigned(C), unsigned(P)};
  colsum_fold_kernel<NV><<<grid2, kFoldThreads>>>(part, plan.chunks, C, B, finish);
  PK_LAUNCH_CHECK(op);
}

}  // namespace
}  // namespace pykern::cuda
