// The oracles every fast convolution path is tested against: the formula of
// pykern/conv.h as loops, double accumulation, one thread. The backward ones
// scatter every product of the forward sum into a double buffer, so they are
// the forward loop nest read backwards and nothing else.
#include <vector>

#include "pykern/conv.h"

namespace pykern {
namespace {

// Calls f(x_index, w_index, y_index) for every product term of the forward
// sum, in a fixed order; padded positions are skipped.
template <class F>
void for_each_term(const ConvShape& s, F&& f) {
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups;
  const int64_t D = s.in[0], H = s.in[1], W = s.in[2];
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t od = 0; od < s.out[0]; ++od)
      for (int64_t oh = 0; oh < s.out[1]; ++oh)
        for (int64_t ow = 0; ow < s.out[2]; ++ow) {
          const int64_t yrow = (((n * s.out[0] + od) * s.out[1] + oh) * s.out[2] + ow) * s.K;
          for (int64_t kd = 0; kd < s.k[0]; ++kd)
            for (int64_t kh = 0; kh < s.k[1]; ++kh)
              for (int64_t kw = 0; kw < s.k[2]; ++kw) {
                const int64_t id = od * s.stride[0] - s.pad_begin[0] + kd * s.dil[0];
                const int64_t ih = oh * s.stride[1] - s.pad_begin[1] + kh * s.dil[1];
                const int64_t iw = ow * s.stride[2] - s.pad_begin[2] + kw * s.dil[2];
                if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xrow = (((n * D + id) * H + ih) * W + iw) * s.C;
                const int64_t tap = (kd * s.k[1] + kh) * s.k[2] + kw;
                for (int64_t k = 0; k < s.K; ++k) {
                  const int64_t g = k / Kg;
                  for (int64_t c = 0; c < Cg; ++c)
                    f(xrow + g * Cg + c, (tap * Cg + c) * s.K + k, yrow + k);
                }
              }
        }
}

int64_t x_size(const ConvShape& s) { return s.N * s.in[0] * s.in[1] * s.in[2] * s.C; }
int64_t y_size(const ConvShape& s) { return s.N * s.out[0] * s.out[1] * s.out[2] * s.K; }
int64_t w_size(const ConvShape& s) { return s.k[0] * s.k[1] * s.k[2] * (s.C / s.groups) * s.K; }

void store(const std::vector<double>& acc, float* out) {
  for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<float>(acc[i]);
}

}  // namespace

void conv_forward_ref(const ConvShape& s, const float* x, const float* w, const float* bias,
                      Act act, float* y) {
  std::vector<double> acc(y_size(s), 0.0);
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[yi] += double(x[xi]) * w[wi]; });
  for (size_t i = 0; i < acc.size(); ++i) {
    const double b = bias ? double(bias[i % s.K]) : 0.0;
    y[i] = static_cast<float>(activation_ref(acc[i] + b, act));
  }
}

void conv_backward_data_ref(const ConvShape& s, const float* dy, const float* w, float* dx) {
  std::vector<double> acc(x_size(s), 0.0);
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[xi] += double(dy[yi]) * w[wi]; });
  store(acc, dx);
}

void conv_backward_filter_ref(const ConvShape& s, const float* x, const float* dy, float* dw) {
  std::vector<double> acc(w_size(s), 0.0);
  for_each_term(s, [&](int64_t xi, int64_t wi, int64_t yi) { acc[wi] += double(x[xi]) * dy[yi]; });
  store(acc, dw);
}

}  // namespace pykern
