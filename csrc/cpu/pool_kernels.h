// The slots one ISA fills for the pooling driver (cpu/pool.cpp): the loops over
// the channels of one output cell, written once in kernels/pool_body.h and
// compiled per ISA. A window is given as the offsets of its real cells; each
// keeps a block of channel vectors in registers while it walks them.
#pragma once
#include <cstdint>

namespace pykern::cpu {

// Max over the cells x + off[k], k < cells (cells >= 1), of C channels each:
// y[c] = the maximum (the first NaN if there is one), at[c] = tag[k] + c for the
// first k that holds it.
using MaxCell = void (*)(const float* x, const int64_t* off, const int32_t* tag, int64_t cells,
                         int64_t C, float* y, int32_t* at);

// y[c] = (sum over k < cells of w[k] * x[off[k] + c]) / divisor, summed in k order;
// w == null means every w[k] is 1 (and no multiply); divisor 1 means no division.
using SumCell = void (*)(const float* x, const int64_t* off, const float* w, int64_t cells,
                         int64_t C, float divisor, float* y);

struct PoolKernels {
  MaxCell max_cell;
  SumCell sum_cell;
};

namespace avx512 { const PoolKernels& pool_kernels(); }
namespace avx2 { const PoolKernels& pool_kernels(); }
namespace generic { const PoolKernels& pool_kernels(); }

}  // namespace pykern::cpu
