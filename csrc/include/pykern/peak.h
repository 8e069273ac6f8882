// Machine fp32 peak, measured: every thread runs independent FMA chains in
// registers for about `seconds`. Used by bench/ to report % of peak.
#pragma once
#include <cstdint>

namespace pykern {

// GFLOP/s over `threads` threads (0: the current thread count) with the
// widest FMA the current ISA allows.
double fma_peak_gflops(double seconds, int threads);

namespace cpu {
// Each runs `iters` iterations of a fixed block of independent FMAs and
// returns the flops performed (the result feeds a sink so nothing is elided).
double fma_loop_avx512(int64_t iters);
double fma_loop_avx2(int64_t iters);
}  // namespace cpu

}  // namespace pykern
