// The direct depthwise kernel compiled for AVX2 + FMA; the loops are in
// cpu/kernels/depthwise_body.h.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "cpu/conv_geometry.h"
#include "cpu/depthwise_kernels.h"
#include "cpu/kernels/unroll.h"

namespace pykern::cpu::avx2 {
namespace {

#define PK_VEC_FLOATS 8
#include "cpu/kernels/depthwise_body.h"
#undef PK_VEC_FLOATS

}  // namespace

const DepthwiseKernels& depthwise_kernels() { return kDepthwiseKernels; }

}  // namespace pykern::cpu::avx2
