// Reductions over the middle axis of x viewed as (A, R, B), deterministic:
// every output is combined in an order fixed by the shape alone (never by
// the GPU's SM count, never by atomics), so runs are bitwise repeatable.
//
//   B == 1, R > 32: a block per (row, chunk of R): per-thread strided partials
//                   then a fixed shared-memory tree.
//   otherwise:      a thread per (a, chunk of R, b), sequential along R (adjacent
//                   threads read adjacent b: coalesced).
// Few outputs and a long R split R into chunks whose partials (A, P, B) are
// reduced again by the same kernels until one chunk remains.
#include <cfloat>
#include <climits>
#include <cstdint>

#include "cuda/allocator.h"
#include "cuda/check.h"
#include "cuda/core.h"
#include "cuda/core_launch.cuh"
#include "cuda/core_math.cuh"

namespace pykern::cuda {
namespace {

constexpr int64_t kTreeChunk = 8192;    // R per block when rows are few
constexpr int64_t kTreeManyRows = 1024;  // this many rows fill the GPU without splitting R
constexpr int64_t kSeqChunk = 256;       // R per thread when outputs are few
constexpr int64_t kSeqManyOutputs = 65536;
constexpr int64_t kSeqMaxR = 32;         // B == 1 rows this short: a thread per row

// The identities of max and min (host constants: numeric_limits is host-only).
template <class T>
__device__ __forceinline__ T lowest() {
  if constexpr (std::is_same_v<T, float>) return -INFINITY;
  else if constexpr (std::is_same_v<T, double>) return -double(INFINITY);
  else if constexpr (std::is_same_v<T, int32_t>) return INT32_MIN;
  else if constexpr (std::is_same_v<T, int64_t>) return INT64_MIN;
  else if constexpr (std::is_same_v<T, uint8_t>) return 0;
  else return false;
}
template <class T>
__device__ __forceinline__ T highest() {
  if constexpr (std::is_same_v<T, float>) return INFINITY;
  else if constexpr (std::is_same_v<T, double>) return double(INFINITY);
  else if constexpr (std::is_same_v<T, int32_t>) return INT32_MAX;
  else if constexpr (std::is_same_v<T, int64_t>) return INT64_MAX;
  else if constexpr (std::is_same_v<T, uint8_t>) return 255;
  else return true;
}

// A reducer: Acc, init(), load(v, r) (r: the index along R), combine(a, b).
template <class In, class A>
struct Sum {
  using Acc = A;
  __device__ static Acc init() { return Acc(0); }
  __device__ static Acc load(In v, int64_t) { return Acc(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
};
template <class In, class A>
struct Prod {
  using Acc = A;
  __device__ static Acc init() { return Acc(1); }
  __device__ static Acc load(In v, int64_t) { return Acc(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a * b; }
};
// NumPy's maximum/minimum reductions: NaN wins.
template <class In>
struct Max {
  using Acc = In;
  __device__ static Acc init() { return lowest<In>(); }
  __device__ static Acc load(In v, int64_t) { return v; }
  __device__ static Acc combine(Acc a, Acc b) { return max_nan(a, b); }
};
template <class In>
struct Min {
  using Acc = In;
  __device__ static Acc init() { return highest<In>(); }
  __device__ static Acc load(In v, int64_t) { return v; }
  __device__ static Acc combine(Acc a, Acc b) { return min_nan(a, b); }
};
template <class In>
struct Any {
  using Acc = bool;
  __device__ static Acc init() { return false; }
  __device__ static Acc load(In v, int64_t) { return convert<bool>(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a || b; }
};
template <class In>
struct All {
  using Acc = bool;
  __device__ static Acc init() { return true; }
  __device__ static Acc load(In v, int64_t) { return convert<bool>(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a && b; }
};

// argmax/argmin: the value and its index along R; the first index wins ties
// and NaN wins (NumPy), whatever order the pairs are combined in.
template <class In>
struct ValueIndex {
  In v;
  int64_t i;  // -1: empty
};
template <class In, bool kMax>
struct Arg {
  using Acc = ValueIndex<In>;
  __device__ static Acc init() { return {In(0), -1}; }
  __device__ static Acc load(In v, int64_t r) { return {v, r}; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    if constexpr (std::is_floating_point_v<In>) {
      const bool na = is_nan(a.v), nb = is_nan(b.v);
      if (na || nb) return na && nb ? (a.i < b.i ? a : b) : (na ? a : b);
    }
    if (kMax ? a.v > b.v : a.v < b.v) return a;
    if (kMax ? b.v > a.v : b.v < a.v) return b;
    return a.i < b.i ? a : b;
  }
};

// Later passes read the partials (type Acc) and combine them as they are.
template <class Red>
struct Partial {
  using Acc = typename Red::Acc;
  __device__ static Acc init() { return Red::init(); }
  __device__ static Acc load(Acc v, int64_t) { return v; }
  __device__ static Acc combine(Acc a, Acc b) { return Red::combine(a, b); }
};

// Finishers: what an output cell holds.
template <class Acc>
struct KeepPartial {
  __device__ Acc operator()(Acc a) const { return a; }
};
template <class Out>
struct ToOut {
  template <class Acc>
  __device__ Out operator()(Acc a) const { return convert<Out>(a); }
};
template <class Out>
struct MeanOut {
  int64_t count;
  template <class Acc>
  __device__ Out operator()(Acc a) const { return convert<Out>(a / Acc(count)); }
};
struct IndexOut {
  template <class Acc>
  __device__ int32_t operator()(Acc a) const { return int32_t(a.i < 0 ? 0 : a.i); }
};

// Thread per (a, p, b): x (A, R, B) -> out (A, P, B) over chunks of R.
template <class Red, class In, class Out, class Fin>
__global__ void reduce_seq_kernel(const In* __restrict__ x, Out* __restrict__ out, int64_t A,
                                  int64_t R, int64_t B, int64_t chunk, int64_t P, Fin fin) {
  const int64_t n = A * P * B;
  for (int64_t idx = global_index(); idx < n; idx += grid_stride()) {
    const int64_t b = idx % B, t = idx / B, p = t % P, a = t / P;
    const int64_t r0 = p * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
    typename Red::Acc acc = Red::init();
    const In* row = x + a * R * B + b;
    for (int64_t r = r0; r < r1; ++r) acc = Red::combine(acc, Red::load(row[r * B], r));
    out[idx] = fin(acc);
  }
}

// Block per (a, p), B == 1: x (A, R) -> out (A, P).
template <class Red, class In, class Out, class Fin>
__global__ void __launch_bounds__(kBlock)
    reduce_tree_kernel(const In* __restrict__ x, Out* __restrict__ out, int64_t A, int64_t R,
                       int64_t chunk, int64_t P, Fin fin) {
  __shared__ typename Red::Acc s[kBlock];
  const int tid = threadIdx.x;
  for (int64_t row = blockIdx.x; row < A * P; row += gridDim.x) {
    const int64_t a = row / P, p = row % P;
    const int64_t r0 = p * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
    typename Red::Acc acc = Red::init();
    const In* xa = x + a * R;
    for (int64_t r = r0 + tid; r < r1; r += kBlock) acc = Red::combine(acc, Red::load(xa[r], r));
    s[tid] = acc;
    __syncthreads();
#pragma unroll
    for (int w = kBlock / 2; w > 0; w >>= 1) {
      if (tid < w) s[tid] = Red::combine(s[tid], s[tid + w]);
      __syncthreads();
    }
    if (tid == 0) out[row] = fin(s[0]);
    __syncthreads();
  }
}

bool use_tree(int64_t R, int64_t B) { return B == 1 && R > kSeqMaxR; }

// Chunks the R axis is split into for one pass (1: the pass is final).
int64_t chunks(int64_t A, int64_t R, int64_t B) {
  if (use_tree(R, B)) return A >= kTreeManyRows || R <= kTreeChunk ? 1 : (R + kTreeChunk - 1) / kTreeChunk;
  return A * B >= kSeqManyOutputs || R <= kSeqChunk ? 1 : (R + kSeqChunk - 1) / kSeqChunk;
}

template <class Red, class In, class Out, class Fin>
void launch_pass(const In* x, Out* out, int64_t A, int64_t R, int64_t B, int64_t P, Fin fin) {
  const int64_t chunk = P == 1 ? (R > 0 ? R : 1) : (R + P - 1) / P;
  if (use_tree(R, B)) {
    reduce_tree_kernel<Red, In, Out, Fin><<<grid_for(A * P, 1), kBlock>>>(x, out, A, R, chunk, P, fin);
  } else {
    reduce_seq_kernel<Red, In, Out, Fin><<<grid_for(A * P * B), kBlock>>>(x, out, A, R, B, chunk, P, fin);
  }
  PK_LAUNCH_CHECK("reduce");
}

// The whole reduction: split passes into partial buffers, then the final one.
template <class Red, class In, class Out, class Fin>
void run_reduce(const In* x, Out* out, int64_t A, int64_t R, int64_t B, Fin fin) {
  using Acc = typename Red::Acc;
  if (A * B == 0) return;
  int64_t P = chunks(A, R, B);
  if (P == 1) return launch_pass<Red>(x, out, A, R, B, 1, fin);
  auto part = std::make_shared<DeviceBuffer>(size_t(A * P * B) * sizeof(Acc));
  launch_pass<Red>(x, static_cast<Acc*>(part->ptr()), A, R, B, P, KeepPartial<Acc>{});
  R = P;
  while ((P = chunks(A, R, B)) > 1) {
    auto next = std::make_shared<DeviceBuffer>(size_t(A * P * B) * sizeof(Acc));
    launch_pass<Partial<Red>>(static_cast<const Acc*>(part->ptr()), static_cast<Acc*>(next->ptr()),
                              A, R, B, P, KeepPartial<Acc>{});
    part = next;  // the old buffer returns to the cache; stream order keeps it intact until read
    R = P;
  }
  launch_pass<Partial<Red>>(static_cast<const Acc*>(part->ptr()), out, A, R, B, 1, fin);
}

// Accumulator of sum/prod/mean: float stays float (double when precise),
// integers and bools accumulate in int64 (mean in double).
template <class In, class F>
void with_sum_acc(bool precise, bool mean, F&& f) {
  if constexpr (std::is_same_v<In, float>) {
    if (precise) f(double{});
    else f(float{});
  } else if constexpr (std::is_same_v<In, double>) {
    f(double{});
  } else {
    if (mean || precise) f(double{});
    else f(int64_t{});
  }
}

template <class In>
void reduce_typed(ReduceOp op, const Array& x, const Array& out, int64_t A, int64_t R, int64_t B,
                  bool precise) {
  const In* xp = x.data<In>();
  switch (op) {
    case ReduceOp::sum: case ReduceOp::mean: case ReduceOp::prod: {
      const bool mean = op == ReduceOp::mean;
      // The output dtype (reduce_dtype) is the accumulator's.
      with_sum_acc<In>(precise, mean, [&](auto acc_tag) {
        using Acc = decltype(acc_tag);
        Acc* o = out.data<Acc>();
        if (op == ReduceOp::prod) run_reduce<Prod<In, Acc>>(xp, o, A, R, B, ToOut<Acc>{});
        else if (mean) run_reduce<Sum<In, Acc>>(xp, o, A, R, B, MeanOut<Acc>{R});
        else run_reduce<Sum<In, Acc>>(xp, o, A, R, B, ToOut<Acc>{});
      });
      return;
    }
    case ReduceOp::max: return run_reduce<Max<In>>(xp, out.data<In>(), A, R, B, ToOut<In>{});
    case ReduceOp::min: return run_reduce<Min<In>>(xp, out.data<In>(), A, R, B, ToOut<In>{});
    case ReduceOp::any: return run_reduce<Any<In>>(xp, out.data<bool>(), A, R, B, ToOut<bool>{});
    case ReduceOp::all: return run_reduce<All<In>>(xp, out.data<bool>(), A, R, B, ToOut<bool>{});
  }
}

}  // namespace

DType reduce_dtype(ReduceOp op, DType x, bool precise) {
  switch (op) {
    case ReduceOp::any: case ReduceOp::all: return DType::b8;
    case ReduceOp::max: case ReduceOp::min: return x;
    case ReduceOp::mean:
      if (precise || x == DType::f64) return DType::f64;
      return x == DType::f32 ? DType::f32 : DType::f64;
    default:  // sum, prod
      if (precise) return DType::f64;
      return is_float(x) ? x : DType::i64;
  }
}

Array reduce(ReduceOp op, const Array& x, int64_t A, int64_t R, int64_t B, bool precise,
             const std::vector<int64_t>& out_shape) {
  DeviceGuard g(x.device());
  Array out(out_shape, reduce_dtype(op, x.dtype(), precise), x.device());
  if (out.size() == 0) return out;
  dispatch_dtype(x.dtype(), [&](auto t) { reduce_typed<decltype(t)>(op, x, out, A, R, B, precise); });
  return out;
}

Array arg_reduce(bool is_max, const Array& x, int64_t A, int64_t R, int64_t B,
                 const std::vector<int64_t>& out_shape) {
  DeviceGuard g(x.device());
  Array out(out_shape, DType::i32, x.device());
  if (out.size() == 0) return out;
  dispatch_dtype(x.dtype(), [&](auto t) {
    using In = decltype(t);
    if (is_max)
      run_reduce<Arg<In, true>>(x.data<In>(), out.data<int32_t>(), A, R, B, IndexOut{});
    else
      run_reduce<Arg<In, false>>(x.data<In>(), out.data<int32_t>(), A, R, B, IndexOut{});
  });
  return out;
}

}  // namespace pykern::cuda
