// Philox4x32-10 over runs of blocks (contract: cpu/random_kernels.h), written as
// vectors of kLanes independent blocks (GCC vector extensions) that compile to the
// ISA of the including file (32x32->64 products: vpmuludq). Include
// inside that ISA's namespace, with PK_PHILOX_LANES defined.
#ifndef PK_PHILOX_LANES
#error "define PK_PHILOX_LANES before including philox_body.h"
#endif

typedef uint32_t philox_v32 __attribute__((vector_size(4 * PK_PHILOX_LANES)));
typedef uint64_t philox_v64 __attribute__((vector_size(8 * PK_PHILOX_LANES)));

static void philox_run(uint64_t seed, uint64_t first, int64_t count, uint32_t* words) {
  constexpr int kLanes = PK_PHILOX_LANES;
  const uint32_t key0 = uint32_t(seed), key1 = uint32_t(seed >> 32);
  for (int64_t b0 = 0; b0 < count; b0 += kLanes) {
    philox_v32 c0, c1, c2 = {}, c3 = {};
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t block = first + uint64_t(b0 + l);
      c0[l] = uint32_t(block);
      c1[l] = uint32_t(block >> 32);
    }
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; ++round) {
      if (round > 0) {  // as philox4x32_10: the key is bumped between rounds
        k0 += pykern::kPhiloxW0;
        k1 += pykern::kPhiloxW1;
      }
      // 32x32 -> 64-bit products of zero-extended lanes (vpmuludq)
      const philox_v64 p0 = __builtin_convertvector(c0, philox_v64) * uint64_t(pykern::kPhiloxM0);
      const philox_v64 p1 = __builtin_convertvector(c2, philox_v64) * uint64_t(pykern::kPhiloxM1);
      const philox_v32 hi0 = __builtin_convertvector(p0 >> 32, philox_v32);
      const philox_v32 hi1 = __builtin_convertvector(p1 >> 32, philox_v32);
      c0 = hi1 ^ c1 ^ k0;
      c1 = __builtin_convertvector(p1, philox_v32);
      c2 = hi0 ^ c3 ^ k1;
      c3 = __builtin_convertvector(p0, philox_v32);
    }
    const int64_t n = count - b0 < kLanes ? count - b0 : kLanes;
    for (int64_t l = 0; l < n; ++l) {
      uint32_t* w = words + 4 * (b0 + l);
      w[0] = c0[l];
      w[1] = c1[l];
      w[2] = c2[l];
      w[3] = c3[l];
    }
  }
}
