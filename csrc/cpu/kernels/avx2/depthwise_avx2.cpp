// The direct depthwise kernel compiled for AVX2 + FMA; the loops are in
// cpu/kernels/depthwise_body.h.
#include <algorithm>
#include <cstring>

#include "cpu/conv_geometry.h"
#include "cpu/depthwise_kernels.h"

namespace pykern::cpu::avx2 {
namespace {

#include "cpu/kernels/depthwise_body.h"

}  // namespace

const DepthwiseKernels& depthwise_kernels() { return kDepthwiseKernels; }

}  // namespace pykern::cpu::avx2
