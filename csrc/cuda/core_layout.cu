// The layout workhorse: one strided copy between two views of device buffers.
// transpose, broadcast_to, basic getitem, concat, stack, pad and the basic
// scatter of getitem's gradient are all this kernel with different strides.
#include <cstdint>

#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"

namespace pykern::cuda {
namespace {

// Elements are moved as raw words of their size (1, 4 or 8 bytes).
template <class W>
__global__ void strided_copy_kernel(W* __restrict__ dst, int64_t dst_off,
                                    const W* __restrict__ src, int64_t src_off, int64_t n,
                                    Strides<2> s) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    int64_t off[2];
    offsets_of(s, i, off);
    dst[dst_off + off[0]] = src[src_off + off[1]];
  }
}

template <class W>
void launch_copy(const Array& dst, const View& dv, const Array& src, const View& sv, int64_t n,
                 const Strides<2>& s) {
  strided_copy_kernel<W><<<grid_for(n), kBlock>>>(static_cast<W*>(dst.raw()), dv.offset,
                                                  static_cast<const W*>(src.raw()), sv.offset, n,
                                                  s);
}

}  // namespace

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size(), 1);
  int64_t step = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = step;
    step *= shape[i];
  }
  return st;
}

void strided_copy(const Array& dst, const View& dv, const Array& src, const View& sv,
                  const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n == 0) return;
  DeviceGuard g(dst.device());
  const auto s = make_strides<2>(shape, {dv.strides, sv.strides}, "strided copy");
  switch (dtype_size(dst.dtype())) {
    case 1: launch_copy<uint8_t>(dst, dv, src, sv, n, s); break;
    case 4: launch_copy<uint32_t>(dst, dv, src, sv, n, s); break;
    default: launch_copy<uint64_t>(dst, dv, src, sv, n, s); break;
  }
  PK_LAUNCH_CHECK("strided_copy");
}

}  // namespace pykern::cuda
