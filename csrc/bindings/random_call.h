// The random-fill bindings shared by pykern._cpu and pykern._cuda: one
// signature, one set of argument checks and error messages, any backend.
#pragma once
#include <pybind11/pybind11.h>

#include <cstdint>

#include "pykern/random.h"

namespace pykern::bind {

// A Python int in [0, 2**bits) (numpy integers accepted); ValueError naming
// `op` and `what` otherwise, TypeError if it is not an integer.
uint64_t uint_arg(pybind11::handle v, int bits, const char* op, const char* what);

// Defines random_uniform<suffix>(n, seed, offset), random_normal<suffix>(n,
// seed, offset) and dropout_mask<suffix>(n, rate, seed, offset) on `m`, each
// returning a new float32 (n,) array. Arguments are checked (errors name the
// op, with `op_tag` appended, e.g. " (cuda)") before `fill` runs with the GIL
// released.
void def_random_fills(pybind11::module_& m, const char* suffix, const char* op_tag,
                      void (*fill)(float*, int64_t, const RandomArgs&), const char* where);

}  // namespace pykern::bind
