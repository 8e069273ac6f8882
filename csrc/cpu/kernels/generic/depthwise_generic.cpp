// The direct depthwise kernel compiled for the portable baseline (no ISA flags); the loops are in
// cpu/kernels/depthwise_body.h.
#include <algorithm>
#include <cstring>

#include "cpu/conv_geometry.h"
#include "cpu/depthwise_kernels.h"

namespace pykern::cpu::generic {
namespace {

#include "cpu/kernels/depthwise_body.h"

}  // namespace

const DepthwiseKernels& depthwise_kernels() { return kDepthwiseKernels; }

}  // namespace pykern::cpu::generic
