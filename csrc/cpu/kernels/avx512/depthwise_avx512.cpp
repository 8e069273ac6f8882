// The direct depthwise kernel compiled for AVX-512 (-mavx512f/dq/bw/vl); the loops are in
// cpu/kernels/depthwise_body.h.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "cpu/conv_geometry.h"
#include "cpu/depthwise_kernels.h"
#include "cpu/kernels/unroll.h"

namespace pykern::cpu::avx512 {
namespace {

#define PK_VEC_FLOATS 16
#include "cpu/kernels/depthwise_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const DepthwiseKernels& depthwise_kernels() { return kDepthwiseKernels; }

}  // namespace pykern::cpu::avx512
