// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy
// as 1, 2, 3", SC11; the Random123 library): a counter-based generator. Each
// output block is a pure function of a 128-bit counter and a 64-bit key, so any
// element of a stream can be computed on its own, by any thread, on any device.
// Header-only, usable from C++ and CUDA device code.
//
// The contract every device follows (CPU fast and ref kernels, CUDA kernels,
// the NumPy oracle in tests/reference.py):
//   * A stream is keyed by a 64-bit seed: key = {lo32(seed), hi32(seed)}.
//   * Element i of a draw that starts at the 64-bit `offset` comes from block
//     c = (offset + i/4) mod 2^64, counter = {lo32(c), hi32(c), 0, 0},
//     lane i%4 of philox4x32_10(counter, key).
//   * A draw of n elements uses ceil(n/4) blocks; the caller advances `offset`
//     by ceil(n/4) before the next draw, so draws never share a block.
//   * uniform  u = (bits >> 8) * 2^-24, in [0, 1) on a grid of 2^-24 (exact in
//     float32).
//   * normal   Box-Muller on the block's lane pairs (0,1) and (2,3): with
//     u1 = 1 - uniform(bits[2j]) in (0, 1] (never log 0), u2 = uniform(bits[2j+1]),
//       r = sqrt(-2 ln u1),  z[2j] = r cos(2 pi u2),  z[2j+1] = r sin(2 pi u2),
//     evaluated in double and rounded once to float32: the libm of each device
//     (glibc, CUDA) is then accurate well past float32, so devices agree but for
//     a rare last-bit tie of the final rounding.
//   * dropout  keep element i iff uniform_i >= rate (float32 compare); a kept
//     element is scaled by 1/(1 - rate), computed in float32.
#pragma once
#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define PYKERN_HD __host__ __device__
#else
#define PYKERN_HD
#endif

namespace pykern {

struct PhiloxBlock {
  uint32_t x[4];
};

// The multipliers and Weyl key increments of Philox4x32 (Random123 philox.h).
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

// The 10-round block function: counter (4 words), key (2 words) -> 4 words.
PYKERN_HD inline PhiloxBlock philox4x32_10(PhiloxBlock c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {  // the key is bumped between rounds, never before the first
      k0 += kPhiloxW0;
      k1 += kPhiloxW1;
    }
    const uint64_t p0 = uint64_t(kPhiloxM0) * c.x[0];
    const uint64_t p1 = uint64_t(kPhiloxM1) * c.x[2];
    c = PhiloxBlock{{uint32_t(p1 >> 32) ^ c.x[1] ^ k0, uint32_t(p1),
                     uint32_t(p0 >> 32) ^ c.x[3] ^ k1, uint32_t(p0)}};
  }
  return c;
}

// Block `block` of the stream keyed by `seed` (the keying/counter convention above).
PYKERN_HD inline PhiloxBlock philox_stream_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(PhiloxBlock{{uint32_t(block), uint32_t(block >> 32), 0u, 0u}},
                       uint32_t(seed), uint32_t(seed >> 32));
}

// The top 24 bits as a float32 in [0, 1): every value is exact.
PYKERN_HD inline float philox_uniform(uint32_t bits) {
  return float(bits >> 8) * (1.0f / 16777216.0f);
}

// Box-Muller on one lane pair (a, b) -> (z0, z1), standard normal float32.
PYKERN_HD inline void philox_normal_pair(uint32_t a, uint32_t b, float* z0, float* z1) {
  const double kTwoPi = 6.283185307179586476925286766559;
  const double u1 = 1.0 - double(philox_uniform(a));  // (0, 1]
  const double theta = kTwoPi * double(philox_uniform(b));
  const double r = sqrt(-2.0 * log(u1));
  *z0 = float(r * cos(theta));
  *z1 = float(r * sin(theta));
}

// Lane `lane` (0..3) of a block, as a standard normal.
PYKERN_HD inline float philox_normal_lane(const PhiloxBlock& b, int lane) {
  float z[2];
  const int pair = lane & 2;
  philox_normal_pair(b.x[pair], b.x[pair + 1], &z[0], &z[1]);
  return z[lane & 1];
}

// Inverted dropout: the mask value of an element whose uniform is u.
PYKERN_HD inline float dropout_scale(float rate) { return 1.0f / (1.0f - rate); }
PYKERN_HD inline float dropout_mask_value(float u, float rate, float scale) {
  return u >= rate ? scale : 0.0f;
}

}  // namespace pykern
