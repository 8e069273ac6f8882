// The sgemm binding shared by pykern._cpu and pykern._cuda: one signature, one
// set of argument checks and error messages, any backend behind it.
#pragma once
#include <pybind11/pybind11.h>

#include "pykern/gemm.h"

namespace pykern::bind {

// Defines `name`(a, b, c=None, *, trans_a, trans_b, alpha, beta, bias,
// activation) on `m`. Arguments are checked and converted (errors name `op`),
// then `run` is called with the GIL released.
void def_sgemm(pybind11::module_& m, const char* name, const char* op,
               void (*run)(const GemmArgs&), const char* doc);

// Parses an activation name; ValueError naming `op` if unknown. With
// `epilogue`, only the activations a GEMM epilogue applies are accepted.
Act activation_arg(const std::string& name, const char* op, bool epilogue = true);

}  // namespace pykern::bind
