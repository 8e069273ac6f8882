// Depthwise convolution driver: threads and the ISA choice around the direct
// line kernels of cpu/kernels/<isa>/depthwise_<isa>.cpp (contract in
// pykern/conv.h, groups == C). A depthwise product has only taps*M
// multiply-adds per output value, too few to pay for an im2col copy, so the
// kernel reads x where it lies.
//
//   forward, backward_data: each thread writes whole lines of y or dx.
//   backward_filter: the output lines are cut into a fixed number of chunks
//     (a function of the shape, not of the thread count), each summed into its
//     own partial dw, and the partials are added in chunk order.
#include <algorithm>
#include <cstring>

#include "cpu/depthwise_kernels.h"
#include "pykern/arena.h"
#include "pykern/conv.h"
#include "pykern/isa.h"
#include "pykern/threads.h"

namespace pykern {
namespace {

// Partial sums of dw live in slot 1 (as the conv driver's col blocks: the two never overlap).
constexpr int kPartialSlot = 1;

// At most this many partial dw's; enough to feed a few threads evenly.
constexpr int64_t kFilterChunks = 16;

const cpu::DepthwiseKernels& kernels() {
  switch (cpu_isa()) {
    case Isa::avx512: return cpu::avx512::depthwise_kernels();
    case Isa::avx2: return cpu::avx2::depthwise_kernels();
    default: return cpu::generic::depthwise_kernels();
  }
}

// Multiply-adds per output value, times two: the flops of one output.
double flops_per_output(const ConvShape& s) { return 2.0 * s.k[0] * s.k[1] * s.k[2]; }

}  // namespace

void depthwise_forward(const ConvShape& s, const float* x, const float* w, const float* bias,
                       Act act, float* y) {
  const cpu::DepthwiseKernels& ks = kernels();
  const int64_t lines = s.N * s.out[0] * s.out[1], line_floats = s.out[2] * s.K;
  const int nt = threads_for(flops_per_output(s) * lines * line_floats);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t l = 0; l < lines; ++l) {
    ks.forward_line(s, x, w, bias, l, y);
    activation_row(y + l * line_floats, line_floats, act);
  }
}

void depthwise_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  const cpu::DepthwiseKernels& ks = kernels();
  const int64_t lines = s.N * s.in[0] * s.in[1];
  const int nt = threads_for(flops_per_output(s) * s.N * s.out[0] * s.out[1] * s.out[2] * s.K);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t il = 0; il < lines; ++il) ks.backward_data_line(s, dy, w, il, dx);
}

void depthwise_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  const cpu::DepthwiseKernels& ks = kernels();
  const int64_t lines = s.N * s.out[0] * s.out[1];
  const int64_t wsize = s.k[0] * s.k[1] * s.k[2] * s.K;
  const int64_t chunks = std::max<int64_t>(1, std::min(lines, kFilterChunks));
  float* part = thread_scratch(kPartialSlot, size_t(chunks * wsize) * sizeof(float));
  const int nt = static_cast<int>(std::min<int64_t>(
      threads_for(flops_per_output(s) * lines * s.out[2] * s.K), chunks));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; ++c)
      ks.backward_filter_lines(s, x, dy, lines * c / chunks, lines * (c + 1) / chunks,
                               part + c * wsize);
#pragma omp for schedule(static)
    for (int64_t j = 0; j < wsize; ++j) {
      float acc = part[j];
      for (int64_t c = 1; c < chunks; ++c) acc += part[c * wsize + j];
      dw[j] = acc;
    }
  }
}

}  // namespace pykern
