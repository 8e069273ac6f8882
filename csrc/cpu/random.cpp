// Random fills and fused dropout (contract in pykern/random.h).
//
// Work is split by Philox blocks of 4 elements with a static OpenMP partition
// (each thread's blocks made in runs by the ISA's vector kernel, cpu/random_kernels.h,
// and turned into values by plain loops over a run);
// an element's value depends on (seed, offset, i) alone, so the split cannot
// change the result. Each block is generated once and feeds its 4 elements.
#include "pykern/random.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "cpu/random_kernels.h"
#include "pykern/isa.h"
#include "pykern/philox.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

// Rough operation counts per element, for threads_for: a block is 10 rounds of
// two 32x32->64 products and a few xors (~20 per element); Box-Muller adds a
// double log, sqrt, cos and sin per pair.
double work_per_element(RandomDist d) { return d == RandomDist::normal ? 80.0 : 20.0; }

cpu::PhiloxBlocks philox_kernel() {
  static const cpu::PhiloxBlocks k = [] {
    switch (cpu_isa()) {
      case Isa::avx512: return cpu::avx512::philox_blocks();
      case Isa::avx2: return cpu::avx2::philox_blocks();
      default: return cpu::generic::philox_blocks();
    }
  }();
  return k;
}

// body(words, i0, count) for every run of the draw: elements [i0, i0+count) are
// lanes words[0, count) (element i0 + k is word k; i0 is a multiple of 4). The
// blocks come from the ISA's vector Philox, kChunk at a time, and the bodies are
// plain loops over a run's elements. (One scalar block at a time, with a body
// call per block, cost ~1.8 ns per element on two threads: 2.7 ms of an MNIST
// CNN training step went to its two dropout layers.)
template <class Body>
void for_each_run(int64_t n, uint64_t seed, uint64_t offset, double work, Body body) {
  constexpr int64_t kChunk = 256;  // blocks per call: 4 KiB of words, in L1
  const int64_t blocks = static_cast<int64_t>(random_blocks(n));
  const int nt = threads_for(work * static_cast<double>(n));
  const cpu::PhiloxBlocks run = philox_kernel();
#pragma omp parallel num_threads(nt)
  {
    uint32_t words[4 * kChunk];
    const int T = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t lo = blocks * id / T, hi = blocks * (id + 1) / T;
    for (int64_t c = lo; c < hi; c += kChunk) {
      const int64_t count = std::min(kChunk, hi - c);
      run(seed, offset + static_cast<uint64_t>(c), count, words);
      const int64_t i0 = 4 * c;
      body(static_cast<const uint32_t*>(words), i0, std::min(4 * count, n - i0));
    }
  }
}

template <RandomDist D>
void fill(float* out, int64_t n, const RandomArgs& a) {
  const float rate = a.rate, scale = dropout_scale(a.rate);
  for_each_run(n, a.seed, a.offset, work_per_element(D),
               [&](const uint32_t* w, int64_t i0, int64_t count) {
    float* o = out + i0;
    if constexpr (D == RandomDist::normal) {
      for (int64_t k = 0; k < count; k += 2) {  // lane pairs (0,1), (2,3)
        float z[2];
        philox_normal_pair(w[k], w[k + 1], &z[0], &z[1]);
        o[k] = z[0];
        if (k + 1 < count) o[k + 1] = z[1];
      }
    } else {
      for (int64_t k = 0; k < count; ++k) {
        const float u = philox_uniform(w[k]);
        o[k] = D == RandomDist::uniform ? u : dropout_mask_value(u, rate, scale);
      }
    }
  });
}

}  // namespace

void validate_random(const char* op, int64_t n, const RandomArgs& a) {
  if (n < 0)
    throw std::invalid_argument(std::string(op) + ": need n >= 0, got " + std::to_string(n));
  if (a.dist == RandomDist::dropout_mask && !(a.rate >= 0.0f && a.rate < 1.0f))
    throw std::invalid_argument(std::string(op) + ": need 0 <= rate < 1, got " +
                                std::to_string(a.rate));
}

void random_fill(float* out, int64_t n, const RandomArgs& a) {
  validate_random("random_fill", n, a);
  switch (a.dist) {
    case RandomDist::uniform: return fill<RandomDist::uniform>(out, n, a);
    case RandomDist::normal: return fill<RandomDist::normal>(out, n, a);
    case RandomDist::dropout_mask: return fill<RandomDist::dropout_mask>(out, n, a);
  }
  throw std::invalid_argument("random_fill: unknown distribution");
}

void dropout_apply(const float* x, float* y, int64_t n, float rate, uint64_t seed,
                   uint64_t offset) {
  RandomArgs a;
  a.dist = RandomDist::dropout_mask;
  a.rate = rate;
  validate_random("dropout_apply", n, a);
  const float scale = dropout_scale(rate);
  for_each_run(n, seed, offset, work_per_element(a.dist),
               [&](const uint32_t* w, int64_t i0, int64_t count) {
    const float* xs = x + i0;
    float* ys = y + i0;
    for (int64_t k = 0; k < count; ++k)
      ys[k] = xs[k] * dropout_mask_value(philox_uniform(w[k]), rate, scale);
  });
}

}  // namespace pykern
