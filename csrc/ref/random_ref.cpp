// The plain twins of csrc/cpu/random.cpp: one thread, and every element drawn
// on its own from its block (offset + i/4) and lane (i%4), straight from the
// contract in pykern/philox.h.
#include "pykern/philox.h"
#include "pykern/random.h"

namespace pykern {
namespace {

float element(const RandomArgs& a, int64_t i) {
  const PhiloxBlock blk = philox_stream_block(a.seed, a.offset + static_cast<uint64_t>(i / 4));
  const int lane = static_cast<int>(i % 4);
  switch (a.dist) {
    case RandomDist::normal: return philox_normal_lane(blk, lane);
    case RandomDist::dropout_mask:
      return dropout_mask_value(philox_uniform(blk.x[lane]), a.rate, dropout_scale(a.rate));
    default: return philox_uniform(blk.x[lane]);
  }
}

}  // namespace

void random_fill_ref(float* out, int64_t n, const RandomArgs& a) {
  validate_random("random_fill_ref", n, a);
  for (int64_t i = 0; i < n; ++i) out[i] = element(a, i);
}

void dropout_apply_ref(const float* x, float* y, int64_t n, float rate, uint64_t seed,
                       uint64_t offset) {
  RandomArgs a;
  a.dist = RandomDist::dropout_mask;
  a.rate = rate;
  a.seed = seed;
  a.offset = offset;
  validate_random("dropout_apply_ref", n, a);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * element(a, i);
}

}  // namespace pykern
