// The recurrent row passes (kernels/rnn_rows_body.h) for AVX2 + FMA (ymm).
#include <cstring>

#include "cpu/rnn_kernels.h"

namespace pykern::cpu::avx2 {
namespace {

#define PK_VEC_FLOATS 8
#include "cpu/kernels/activation_body.h"
#include "cpu/kernels/rnn_rows_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const RnnRowKernels& rnn_row_kernels() { return kRnnRowKernels; }

}  // namespace pykern::cpu::avx2
