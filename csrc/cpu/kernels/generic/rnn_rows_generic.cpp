// The recurrent row passes (kernels/rnn_rows_body.h) for baseline (SSE2 at most).
#include <cstring>

#include "cpu/rnn_kernels.h"

namespace pykern::cpu::generic {
namespace {

#define PK_VEC_FLOATS 4
#include "cpu/kernels/activation_body.h"
#include "cpu/kernels/rnn_rows_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const RnnRowKernels& rnn_row_kernels() { return kRnnRowKernels; }

}  // namespace pykern::cpu::generic
