// One level of OpenMP parallelism; the thread count follows
// pykern.config.set_num_threads or OMP_NUM_THREADS.
#pragma once
#include <cstdint>

namespace pykern {

int num_threads();
void set_num_threads(int n);

// Threads worth using for `flops` of work: small problems stay serial because
// waking a team costs microseconds.
int threads_for(double flops);

}  // namespace pykern
