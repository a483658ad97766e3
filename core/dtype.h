// Element types. Training runs in float32; gradient checks run the same kernels in float64; token ids,
// targets and masks are int32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace mad {

enum class DType : uint8_t { F32, F64, I32 };

constexpr size_t dtype_size(DType t) { return t == DType::F64 ? 8 : 4; }

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I32: return "int32";
  }
  return "?";
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }

// Calls fn.template operator()<T>() with T = float or double according to `t`; `op` names the caller for
// the error raised on an integer tensor. Kernels are written once as templates and dispatched here.
template <typename Fn>
decltype(auto) dispatch_float(DType t, std::string_view op, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn.template operator()<float>();
    case DType::F64: return fn.template operator()<double>();
    default: break;
  }
  fail(fmt::format("{}: expected a float32 or float64 tensor, got {}", op, dtype_name(t)));
}

}  // namespace mad
