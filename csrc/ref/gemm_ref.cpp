// The oracle every fast SGEMM path is tested against: three loops, double
// accumulation, no blocking, one thread.
#include <sstream>
#include <stdexcept>

#include "pykern/gemm.h"

namespace pykern {
namespace {

[[noreturn]] void bad(const GemmArgs& g, const char* what) {
  std::ostringstream s;
  s << "sgemm: " << what << " (M=" << g.M << ", N=" << g.N << ", K=" << g.K
    << ", trans_a=" << g.trans_a << ", trans_b=" << g.trans_b << ", lda=" << g.lda
    << ", ldb=" << g.ldb << ", ldc=" << g.ldc << ")";
  throw std::invalid_argument(s.str());
}

}  // namespace

void validate_gemm(const GemmArgs& g) {
  if (g.M < 0 || g.N < 0 || g.K < 0) bad(g, "negative size");
  if (g.M == 0 || g.N == 0) return;
  if (!g.C) bad(g, "C is null");
  if (g.ldc < g.N) bad(g, "ldc < N");
  if (g.K == 0) return;
  if (!g.A || !g.B) bad(g, "A or B is null");
  if (g.lda < (g.trans_a ? g.M : g.K)) bad(g, "lda too small for op(A)");
  if (g.ldb < (g.trans_b ? g.K : g.N)) bad(g, "ldb too small for op(B)");
}

void sgemm_ref(const GemmArgs& g) {
  validate_gemm(g);
  for (int64_t i = 0; i < g.M; ++i) {
    for (int64_t j = 0; j < g.N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < g.K; ++k) {
        const float a = g.trans_a ? g.A[k * g.lda + i] : g.A[i * g.lda + k];
        const float b = g.trans_b ? g.B[j * g.ldb + k] : g.B[k * g.ldb + j];
        acc += double(a) * double(b);
      }
      float* c = g.C + i * g.ldc + j;
      double v = double(g.alpha) * acc;
      if (g.beta != 0.0f) v += double(g.beta) * double(*c);
      if (g.bias) v += double(g.bias[j]);
      *c = static_cast<float>(activation_ref(v, g.act));
    }
  }
}

}  // namespace pykern
