#include "pykern/threads.h"

#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <string>

namespace pykern {
namespace {

// Held here rather than in OpenMP's per-thread ICV so that a count set from one
// Python thread applies to kernels called from any other.
std::atomic<int>& thread_count() {
  static std::atomic<int> n{omp_get_max_threads()};  // honours OMP_NUM_THREADS
  return n;
}

}  // namespace

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_num_threads: need n >= 1, got " + std::to_string(n));
  thread_count().store(n, std::memory_order_relaxed);
}

int threads_for(double flops) {
  // Waking an OpenMP team costs a few microseconds; below ~2 MFLOP (about
  // 20 us on one core here) a second thread cannot pay for itself.
  constexpr double kFlopsPerExtraThread = 2.0e6;
  const int nt = num_threads();
  const double useful = flops / kFlopsPerExtraThread + 1.0;
  return useful < nt ? static_cast<int>(useful) : nt;
}

}  // namespace pykern
