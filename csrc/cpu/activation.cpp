#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/gemm_kernels.h"
#include "pykern/activation.h"
#include "pykern/isa.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

const struct {
  const char* name;
  Act act;
} kActNames[] = {{"none", Act::none},          {"linear", Act::none},
                 {"relu", Act::relu},          {"sigmoid", Act::sigmoid},
                 {"tanh", Act::tanh},          {"hard_sigmoid", Act::hard_sigmoid},
                 {"elu", Act::elu},            {"selu", Act::selu},
                 {"softsign", Act::softsign},  {"softplus", Act::softplus},
                 {"silu", Act::silu},          {"swish", Act::silu},
                 {"exponential", Act::exponential}};

}  // namespace

bool parse_act(const char* name, Act* out) {
  for (const auto& e : kActNames)
    if (std::strcmp(name, e.name) == 0) {
      *out = e.act;
      return true;
    }
  return false;
}

const char* act_name(Act act) {
  for (const auto& e : kActNames)
    if (e.act == act) return e.name;
  return "none";
}

const char* act_names() {
  return "none, linear, relu, sigmoid, tanh, hard_sigmoid, elu, selu, softsign, softplus, "
         "silu, swish, exponential";
}

bool is_epilogue_act(Act act) {
  return act == Act::none || act == Act::relu || act == Act::sigmoid || act == Act::tanh;
}

void activation_grad_row(const float* x, const float* y, float* g, int64_t n, Act act) {
  static const cpu::ActGradRow row = cpu::kernels_for(cpu_isa()).act_grad_row;
  row(x, y, g, n, act);
}

void activation_row(float* y, int64_t n, Act act) {
  static const cpu::ActRow row = cpu::kernels_for(cpu_isa()).act_row;
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

void activation_grad(const float* x, float* g, int64_t n, Act act) {
  constexpr int64_t kChunk = 1024;  // y = act(x) for one chunk stays in L1
  float y[kChunk];
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t len = n - b < kChunk ? n - b : kChunk;
    std::memcpy(y, x + b, len * sizeof(float));
    activation_row(y, len, act);
    activation_grad_row(x + b, y, g + b, len, act);
  }
}

void bias_act_grad(const float* g, const float* y, float* dz, float* db, int64_t rows,
                   int64_t cols, Act act) {
  if (rows <= 0 || cols <= 0) {
    if (db) std::fill_n(db, cols > 0 ? cols : 0, 0.0f);
    return;
  }
  const bool grad = act != Act::none;
  // Blocks of about 16 K elements (whole rows): a block's g, y and dz stay in L1/L2.
  // The size depends on cols only, never on the thread count.
  const int64_t block_rows = std::max<int64_t>(1, 16384 / cols);
  const int64_t blocks = (rows + block_rows - 1) / block_rows;
  std::vector<float> partial(db ? blocks * cols : 0);
  const int nt = threads_for(4.0 * rows * cols);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = b * block_rows, r1 = std::min(rows, r0 + block_rows);
    const int64_t off = r0 * cols, n = (r1 - r0) * cols;
    const float* src = g + off;
    if (grad) {
      if (dz + off != g + off) std::memcpy(dz + off, g + off, n * sizeof(float));
      activation_grad_row(y + off, y + off, dz + off, n, act);
      src = dz + off;
    }
    if (db) {
      float* acc = partial.data() + b * cols;
      std::copy_n(src, cols, acc);
      for (int64_t r = 1; r < r1 - r0; ++r) {
        const float* row = src + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[c] += row[c];
      }
    }
  }
  if (!db) return;
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0.0;
    for (int64_t b = 0; b < blocks; ++b) s += partial[b * cols + c];
    db[c] = static_cast<float>(s);
  }
}

}  // namespace pykern
