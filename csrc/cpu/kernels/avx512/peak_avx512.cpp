// FMA-throughput probe: 16 independent zmm chains hide the FMA latency on every
// current core (4 cycles x up to 2 issues per cycle needs 8).
#include <immintrin.h>

#include "pykern/peak.h"

namespace pykern::cpu {

double fma_loop_avx512(int64_t iters) {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float out[16];
  _mm512_store_ps(out, s);
  volatile float sink = out[0] + out[15];  // (_mm512_reduce_add_ps trips a GCC 12 warning)
  (void)sink;
  return double(iters) * kChains * 16 * 2;
}

}  // namespace pykern::cpu
