// Helpers shared by the op implementations (core/ops_*.cpp); not part of the public API.
#pragma once

#include "core/broadcast.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace mad::detail {

inline Tape& tape_of(Var v, const char* op) {
  MAD_CHECK(v.defined(), "{}: an input is undefined", op);
  return v.tape();
}

inline void check_same_dtype(Var a, Var b, const char* op) {
  MAD_CHECK(a.dtype() == b.dtype(), "{}: inputs have different dtypes ({} {} and {} {}); convert one with Tensor::to",
            op, dtype_name(a.dtype()), a.shape().str(), dtype_name(b.dtype()), b.shape().str());
}

// Elementwise loops over this many elements or more are split across threads.
inline constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace mad::detail
