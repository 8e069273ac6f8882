// The pooling bindings' argument checks, shared by pykern._cpu
// (bindings/register_pool.cpp) and pykern._cuda (cuda/register_nn_pool_norm.cpp):
// x shapes (N, *spatial, C) with 1 to 3 spatial dims and the per-dim pool,
// strides and pads turned into the PoolGeometry of pykern/pool.h (leading
// spatial dims 1), with ValueErrors that name the op and quote the values.
#pragma once
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/array_view.h"
#include "pykern/pool.h"

namespace pykern::bind {

// N, spatial dims and C of an x shape of rank 3, 4 or 5 (leading spatial dims 1).
inline PoolGeometry geometry_of(const std::vector<int64_t>& x_shape, const char* op,
                                const char* arg) {
  const int64_t rank = static_cast<int64_t>(x_shape.size());
  if (rank < 3 || rank > 5)
    fail(op, std::string(arg) + " of shape " + shape_str(x_shape) +
                 " must have rank 3, 4 or 5: (N, spatial..., C) with 1 to 3 spatial dims");
  for (int64_t v : x_shape)
    if (v < 0) fail(op, std::string(arg) + " " + shape_str(x_shape) + " has a negative size");
  PoolGeometry g;
  g.rank = static_cast<int>(rank - 2);
  g.N = x_shape.front();
  g.C = x_shape.back();
  for (int k = 0; k < g.rank; ++k) g.in[3 - g.rank + k] = x_shape[1 + k];
  return g;
}

// One int per spatial dim of g, stored in v[3 - rank ...].
inline void spatial_arg(py::handle seq, const PoolGeometry& g,
                        const std::vector<int64_t>& x_shape, const char* op, const char* arg,
                        int64_t* v) {
  std::vector<int64_t> vals;
  try {
    vals = seq.cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    fail(op, std::string(arg) + " must be a sequence of ints, got " + std::string(py::repr(seq)));
  }
  if (static_cast<int>(vals.size()) != g.rank)
    fail(op, std::string(arg) + " " + shape_str(vals) + " must have " + std::to_string(g.rank) +
                 " entries, one per spatial dim of x of shape " + shape_str(x_shape));
  for (int k = 0; k < g.rank; ++k) v[3 - g.rank + k] = vals[k];
}

inline PoolGeometry pool_geometry(const std::vector<int64_t>& x_shape, py::handle pool,
                                  py::handle strides, py::handle pad_begin, py::handle pad_end,
                                  const char* op, const char* arg) {
  PoolGeometry g = geometry_of(x_shape, op, arg);
  spatial_arg(pool, g, x_shape, op, "pool", g.pool);
  spatial_arg(strides, g, x_shape, op, "strides", g.stride);
  spatial_arg(pad_begin, g, x_shape, op, "pad_begin", g.pad_begin);
  spatial_arg(pad_end, g, x_shape, op, "pad_end", g.pad_end);
  validate_pool(g, op);
  return g;
}

inline std::vector<int64_t> pool_y_shape(const PoolGeometry& g) {
  std::vector<int64_t> s{g.N};
  for (int k = 3 - g.rank; k < 3; ++k) s.push_back(g.out[k]);
  s.push_back(g.C);
  return s;
}

inline std::vector<int64_t> int_shape(py::handle obj, const char* op, const char* arg) {
  try {
    return obj.cast<std::vector<int64_t>>();
  } catch (const py::cast_error&) {
    fail(op, std::string(arg) + " must be a sequence of ints, got " + std::string(py::repr(obj)));
  }
}

}  // namespace pykern::bind
