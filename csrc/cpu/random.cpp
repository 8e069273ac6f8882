// Random fills and fused dropout (contract in pykern/random.h).
//
// Work is split by Philox blocks of 4 elements with a static OpenMP partition;
// an element's value depends on (seed, offset, i) alone, so the split cannot
// change the result. Each block is generated once and feeds its 4 elements.
#include "pykern/random.h"

#include <omp.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "pykern/philox.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

// Rough operation counts per element, for threads_for: a block is 10 rounds of
// two 32x32->64 products and a few xors (~20 per element); Box-Muller adds a
// double log, sqrt, cos and sin per pair.
double work_per_element(RandomDist d) { return d == RandomDist::normal ? 80.0 : 20.0; }

// body(block, i0, count) for every block of the draw: elements [i0, i0+count).
template <class Body>
void for_each_block(int64_t n, uint64_t seed, uint64_t offset, double work, Body body) {
  const int64_t blocks = static_cast<int64_t>(random_blocks(n));
  const int nt = threads_for(work * static_cast<double>(n));
#pragma omp parallel num_threads(nt)
  {
    const int T = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t lo = blocks * id / T, hi = blocks * (id + 1) / T;
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t i0 = 4 * b;
      const int count = n - i0 < 4 ? static_cast<int>(n - i0) : 4;
      body(philox_stream_block(seed, offset + static_cast<uint64_t>(b)), i0, count);
    }
  }
}

template <RandomDist D>
void fill(float* out, int64_t n, const RandomArgs& a) {
  const float rate = a.rate, scale = dropout_scale(a.rate);
  for_each_block(n, a.seed, a.offset, work_per_element(D),
                 [&](const PhiloxBlock& blk, int64_t i0, int count) {
                   float v[4];
                   random_block_values<D>(blk, count, rate, scale, v);
                   for (int k = 0; k < count; ++k) out[i0 + k] = v[k];
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
  for_each_block(n, seed, offset, work_per_element(a.dist),
                 [&](const PhiloxBlock& blk, int64_t i0, int count) {
                   float v[4];
                   random_block_values<RandomDist::dropout_mask>(blk, count, rate, scale, v);
                   for (int k = 0; k < count; ++k) y[i0 + k] = x[i0 + k] * v[k];
                 });
}

}  // namespace pykern
