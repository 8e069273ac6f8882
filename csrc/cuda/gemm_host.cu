// sgemm on host arrays: upload, launch, download, all on the legacy default
// stream (the final cudaMemcpy waits for the kernel and reports its errors).
#include <algorithm>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/gemm.h"

namespace pykern::cuda {
namespace {

// A (rows, cols) host matrix with row stride ld -> packed device rows.
void upload(float* dst, const float* src, int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return;
  const size_t row_bytes = size_t(cols) * sizeof(float);
  if (ld == cols || rows == 1)
    PK_CUDA_CHECK(cudaMemcpy(dst, src, row_bytes * rows, cudaMemcpyHostToDevice));
  else
    PK_CUDA_CHECK(cudaMemcpy2D(dst, row_bytes, src, size_t(ld) * sizeof(float), row_bytes,
                               size_t(rows), cudaMemcpyHostToDevice));
}

// Packed device rows -> a (rows, cols) host matrix with row stride ld.
void download(float* dst, int64_t ld, const float* src, int64_t rows, int64_t cols) {
  const size_t row_bytes = size_t(cols) * sizeof(float);
  if (ld == cols || rows == 1)
    PK_CUDA_CHECK(cudaMemcpy(dst, src, row_bytes * rows, cudaMemcpyDeviceToHost));
  else
    PK_CUDA_CHECK(cudaMemcpy2D(dst, size_t(ld) * sizeof(float), src, row_bytes, row_bytes,
                               size_t(rows), cudaMemcpyDeviceToHost));
}

size_t floats(int64_t n) { return size_t(n) * sizeof(float); }

}  // namespace

void sgemm_host(const GemmArgs& h) {
  require_device();
  if (h.M == 0 || h.N == 0) return;
  // Stored shapes: A is (M,K) or, with trans_a, (K,M); B is (K,N) or (N,K).
  const int64_t a_rows = h.trans_a ? h.K : h.M, a_cols = h.trans_a ? h.M : h.K;
  const int64_t b_rows = h.trans_b ? h.N : h.K, b_cols = h.trans_b ? h.K : h.N;
  DeviceBuffer a(floats(a_rows * a_cols)), b(floats(b_rows * b_cols));
  DeviceBuffer c(floats(h.M * h.N)), bias(h.bias ? floats(h.N) : 0);

  GemmArgs d = h;
  d.A = a.f32();
  d.lda = std::max<int64_t>(a_cols, 1);
  d.B = b.f32();
  d.ldb = std::max<int64_t>(b_cols, 1);
  d.C = c.f32();
  d.ldc = h.N;
  d.bias = bias.f32();
  upload(a.f32(), h.A, a_rows, a_cols, h.lda);
  upload(b.f32(), h.B, b_rows, b_cols, h.ldb);
  if (h.beta != 0.0f) upload(c.f32(), h.C, h.M, h.N, h.ldc);  // beta == 0 never reads C
  if (h.bias) upload(bias.f32(), h.bias, 1, h.N, h.N);
  sgemm_device(d);
  download(h.C, h.ldc, c.f32(), h.M, h.N);
}

}  // namespace pykern::cuda
