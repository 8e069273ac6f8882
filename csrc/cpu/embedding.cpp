// Embedding gather and scatter-add (contract: pykern/embedding.h). Memory-bound
// row copies; the backward partitions the table's rows over threads, each
// scanning every id in order and adding only the rows it owns, so no two
// threads touch one row and each row's sum runs in id order.
#include <algorithm>
#include <cstring>

#include <omp.h>

#include "pykern/embedding.h"
#include "pykern/threads.h"

namespace pykern {
void embedding_forward(const EmbeddingArgs& a, const float* table, float* out) {
  check_embedding_ids(a, "embedding_forward");
  if (a.D == 0) return;
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(double(a.N) * a.D), a.N));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t n = 0; n < a.N; ++n)
    std::memcpy(out + n * a.D, table + embedding_id(a, n) * a.D, a.D * sizeof(float));
}

void embedding_backward(const EmbeddingArgs& a, const float* d_out, float* d_table) {
  check_embedding_ids(a, "embedding_backward");
  if (a.D == 0 || a.V == 0) return;
  // Each thread rescans all N ids: worth it only while the adds dominate.
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(double(a.N) * a.D), a.V));
  auto rows = [&](int part, int parts) {
    const int64_t v0 = a.V * part / parts, v1 = a.V * (part + 1) / parts;
    std::memset(d_table + v0 * a.D, 0, (v1 - v0) * a.D * sizeof(float));
    for (int64_t n = 0; n < a.N; ++n) {
      const int64_t v = embedding_id(a, n);
      if (v < v0 || v >= v1) continue;
      float* dst = d_table + v * a.D;
      const float* src = d_out + n * a.D;
      for (int64_t j = 0; j < a.D; ++j) dst[j] += src[j];
    }
  };
  if (nt <= 1) return rows(0, 1);
#pragma omp parallel num_threads(nt)
  rows(omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace pykern
