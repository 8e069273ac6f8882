// Random fills from the Philox4x32-10 stream (pykern/philox.h holds the
// generator and the keying/counter contract that every device follows).
//
//   out (n,) float32: element i is the draw of element i of the stream
//   (seed, offset): block offset + i/4, lane i%4. A call uses ceil(n/4) blocks;
//   the caller advances offset by that much before the next draw.
//
// The result depends on (seed, offset, i) alone: bitwise the same for any
// thread count, any split of a draw into pieces, and the CUDA kernels (uniform
// and dropout bitwise; normal up to a rare last-bit tie, see philox.h).
#pragma once
#include <cstdint>

#include "pykern/philox.h"

namespace pykern {

enum class RandomDist : int {
  uniform = 0,       // [0, 1)
  normal = 1,        // standard normal (Box-Muller)
  dropout_mask = 2,  // 1/(1-rate) where uniform >= rate, else 0
};

struct RandomArgs {
  RandomDist dist = RandomDist::uniform;
  uint64_t seed = 0;
  uint64_t offset = 0;
  float rate = 0.0f;  // dropout_mask only; 0 <= rate < 1
};

// The first `count` (1..4) values of one block of a draw of distribution D,
// shared by the CPU and CUDA kernels. A last block of 1 or 2 elements skips
// the second Box-Muller pair.
template <RandomDist D>
PYKERN_HD inline void random_block_values(const PhiloxBlock& blk, int count, float rate,
                                          float scale, float v[4]) {
  if constexpr (D == RandomDist::normal) {
    philox_normal_pair(blk.x[0], blk.x[1], &v[0], &v[1]);
    if (count > 2) philox_normal_pair(blk.x[2], blk.x[3], &v[2], &v[3]);
  } else {
    for (int k = 0; k < 4; ++k) {
      const float u = philox_uniform(blk.x[k]);
      v[k] = D == RandomDist::uniform ? u : dropout_mask_value(u, rate, scale);
    }
  }
}

// Blocks a draw of n elements uses: ceil(n/4).
PYKERN_HD inline uint64_t random_blocks(int64_t n) { return (uint64_t(n) + 3) / 4; }

// Throws std::invalid_argument naming `op` unless n >= 0 and, for dropout,
// 0 <= rate < 1.
void validate_random(const char* op, int64_t n, const RandomArgs& a);

// out[0, n) filled with the draw; OpenMP over blocks of 4.
void random_fill(float* out, int64_t n, const RandomArgs& a);

// Fused inverted dropout: y[i] = x[i] * mask_i with mask_i the dropout_mask
// draw of element i (so NaN/Inf in a dropped x stay NaN, as x * 0). y may be x.
// The backward pass is the same call on the gradient with the same seed and
// offset: nothing needs to be saved.
void dropout_apply(const float* x, float* y, int64_t n, float rate, uint64_t seed,
                   uint64_t offset);

// The plain twins: one thread, each element computed on its own from its block.
void random_fill_ref(float* out, int64_t n, const RandomArgs& a);
void dropout_apply_ref(const float* x, float* y, int64_t n, float rate, uint64_t seed,
                       uint64_t offset);

}  // namespace pykern
