// Embedding lookup and its gradient (the kernel contract).
//
//   forward:   out (N, D) = table (V, D) [ids[n]]        for n < N
//   backward:  d_table (V, D) = sum over n with ids[n] == v of d_out[n]
//
// ids is the flattened index array (any shape, N elements), int32 or int64.
// Every id must lie in [0, V): otherwise std::invalid_argument names the op,
// the first bad id (lowest position), its position and V, and nothing is read
// or written. The backward sums each table row's contributions in increasing
// n, whatever the thread count (threads own disjoint table rows), so results
// are bitwise reproducible.
#pragma once
#include <cstdint>

namespace pykern {

struct EmbeddingArgs {
  int64_t V = 0, D = 0, N = 0;
  const void* ids = nullptr;
  bool ids64 = false;  // int64 ids, else int32
};

// The n-th id of the flattened index array.
inline int64_t embedding_id(const EmbeddingArgs& a, int64_t n) {
  return a.ids64 ? static_cast<const int64_t*>(a.ids)[n] : static_cast<const int32_t*>(a.ids)[n];
}

// Throws std::invalid_argument "<op>: ..." for a negative size or an id outside [0, V).
void check_embedding_ids(const EmbeddingArgs& a, const char* op);

void embedding_forward(const EmbeddingArgs& a, const float* table, float* out);
void embedding_backward(const EmbeddingArgs& a, const float* d_out, float* d_table);

// The plain twins (one thread; the backward accumulates in double).
void embedding_forward_ref(const EmbeddingArgs& a, const float* table, float* out);
void embedding_backward_ref(const EmbeddingArgs& a, const float* d_out, float* d_table);

}  // namespace pykern
