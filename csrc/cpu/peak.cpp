#include "pykern/peak.h"

#include <omp.h>

#include <chrono>

#include "pykern/isa.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

double run(int64_t iters, int threads, double* seconds) {
  const Isa isa = cpu_isa();
  double flops = 0.0;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  {
    flops += isa == Isa::avx512 ? cpu::fma_loop_avx512(iters)
             : isa == Isa::avx2 ? cpu::fma_loop_avx2(iters)
                                : 0.0;
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return flops;
}

}  // namespace

double fma_peak_gflops(double seconds, int threads) {
  if (threads <= 0) threads = num_threads();
  if (cpu_isa() == Isa::scalar) return 0.0;
  double t = 0.0;
  int64_t iters = 1 << 16;
  run(iters, threads, &t);  // wake the team and the clocks
  while (t < seconds / 4) {
    iters *= 2;
    run(iters, threads, &t);
  }
  double best = 0.0;
  for (int rep = 0; rep < 3; ++rep) {
    const double flops = run(iters, threads, &t);
    if (flops / t > best) best = flops / t;
  }
  return best * 1e-9;
}

}  // namespace pykern
