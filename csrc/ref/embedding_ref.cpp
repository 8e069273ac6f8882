// The oracle for the embedding kernels: plain loops, one thread, the gradient
// summed in double. Also the id check both paths share.
#include <stdexcept>
#include <string>
#include <vector>

#include "pykern/embedding.h"

namespace pykern {

void check_embedding_ids(const EmbeddingArgs& a, const char* op) {
  if (a.V < 0 || a.D < 0 || a.N < 0)
    throw std::invalid_argument(std::string(op) + ": negative size");
  for (int64_t n = 0; n < a.N; ++n) {
    const int64_t v = embedding_id(a, n);
    if (v < 0 || v >= a.V)
      throw std::invalid_argument(std::string(op) + ": index " + std::to_string(v) +
                                  " (at flat position " + std::to_string(n) +
                                  ") is out of range for an embedding table of " +
                                  std::to_string(a.V) + " rows (input_dim)");
  }
}

void embedding_forward_ref(const EmbeddingArgs& a, const float* table, float* out) {
  check_embedding_ids(a, "embedding_forward_ref");
  for (int64_t n = 0; n < a.N; ++n)
    for (int64_t j = 0; j < a.D; ++j) out[n * a.D + j] = table[embedding_id(a, n) * a.D + j];
}

void embedding_backward_ref(const EmbeddingArgs& a, const float* d_out, float* d_table) {
  check_embedding_ids(a, "embedding_backward_ref");
  std::vector<double> acc(a.V * a.D, 0.0);
  for (int64_t n = 0; n < a.N; ++n)
    for (int64_t j = 0; j < a.D; ++j) acc[embedding_id(a, n) * a.D + j] += d_out[n * a.D + j];
  for (int64_t i = 0; i < a.V * a.D; ++i) d_table[i] = static_cast<float>(acc[i]);
}

}  // namespace pykern
