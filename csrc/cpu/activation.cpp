#include <cstring>

#include "cpu/gemm_kernels.h"
#include "pykern/activation.h"
#include "pykern/isa.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

cpu::ActRow act_row_for_isa() {
  switch (cpu_isa()) {
    case Isa::avx512: return cpu::avx512::kernels().act_row;
    case Isa::avx2: return cpu::avx2::kernels().act_row;
    default: return cpu::generic::kernels().act_row;
  }
}

}  // namespace

bool parse_act(const char* name, Act* out) {
  static const struct { const char* name; Act act; } table[] = {
      {"none", Act::none}, {"linear", Act::none}, {"relu", Act::relu},
      {"sigmoid", Act::sigmoid}, {"tanh", Act::tanh}};
  for (const auto& e : table)
    if (std::strcmp(name, e.name) == 0) {
      *out = e.act;
      return true;
    }
  return false;
}

const char* act_name(Act act) {
  switch (act) {
    case Act::relu: return "relu";
    case Act::sigmoid: return "sigmoid";
    case Act::tanh: return "tanh";
    default: return "none";
  }
}

void activation_row(float* y, int64_t n, Act act) {
  static const cpu::ActRow row = act_row_for_isa();
  if (act != Act::none) row(y, n, act);
}

void activation_inplace(float* y, int64_t n, Act act) {
  if (act == Act::none || n <= 0) return;
  // About 20 flops per element for the exp-based activations.
  const int nt = threads_for(20.0 * n);
  constexpr int64_t kChunk = 4096;  // a multiple of every vector width
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * kChunk, e = b + kChunk < n ? b + kChunk : n;
    activation_row(y + b, e - b, act);
  }
}

}  // namespace pykern
