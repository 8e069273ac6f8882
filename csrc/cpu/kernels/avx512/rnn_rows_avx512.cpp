// The recurrent row passes (kernels/rnn_rows_body.h) for AVX-512 (zmm).
#include <cstring>

#include "cpu/rnn_kernels.h"

namespace pykern::cpu::avx512 {
namespace {

#define PK_VEC_FLOATS 16
#include "cpu/kernels/activation_body.h"
#include "cpu/kernels/rnn_rows_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const RnnRowKernels& rnn_row_kernels() { return kRnnRowKernels; }

}  // namespace pykern::cpu::avx512
