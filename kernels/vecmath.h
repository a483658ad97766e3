// Elementwise transcendental functions that the compiler can vectorise.
//
// glibc's expf/tanhf are scalar calls (GCC only vectorises them under -ffast-math, which we never use), and
// they dominated the activations and softmaxes of a training step. These are branch-free polynomial
// versions for float (relative error below 3e-7, about 2 ulp; tests/kernels/test_vecmath.cpp); for double
// they are the exact library functions, so float64 gradient checks keep full precision.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/isa/isa_namespace.h"

namespace mad::kernels {
// Each instruction set's copy apart (kernels/isa/isa_namespace.h).
inline namespace MAD_ISA_NS {

// e^x. Below -87.3 the result is 0 (so exp(-inf) = 0, as masks need); above 88 it saturates at e^88.
// F is float or a GCC/Clang vector of floats (where comparisons, ?: and arithmetic act lane by lane), so
// the scalar loops the compiler vectorises and the hand-written vector kernels
// (kernels/attention_narrow_heads.h) compute the same polynomial with the same operations.
template <typename F>
inline F exp_f32_lanes(F x) {
  const F lo = F{} + -87.33654f, hi = F{} + 88.0f;  // F{} + c: c in every lane (or c itself for float)
  const auto underflow = x < lo;
  // Plain comparisons, not fmin/fmax: those are library calls that stop vectorisation without -ffast-math.
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;  // n <= 127: a finite power of two
  // x = n ln2 + r with |r| <= ln2/2; n rounded to nearest by the 1.5 * 2^23 trick (pure arithmetic).
  const float shifter = 12582912.0f;
  const F n = (x * 1.44269504088896341f + shifter) - shifter;
  F r = x - n * 0.693359375f;  // ln2 split in a high part exact in float and a low part
  r = r - n * -2.12194440e-4f;
  // Cephes' minimax polynomial for e^r on [-ln2/2, ln2/2].
  F p = F{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F y = p * r * r + r + 1.0f;
  F scale;
  if constexpr (std::is_same_v<F, float>) {
    scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  } else {
    using Int = decltype(n < n);  // the vector of int32 lanes of F's width
    scale = std::bit_cast<F>((__builtin_convertvector(n, Int) + 127) << 23);
  }
  return underflow ? F{} : y * scale;
}
inline float exp_f32(float x) { return exp_f32_lanes(x); }

template <typename T> inline T vexp(T x) { return std::exp(x); }
template <> inline float vexp<float>(float x) { return exp_f32(x); }

// 1 / (1 + e^-x)
template <typename T> inline T vsigmoid(T x) { return T(1) / (T(1) + vexp<T>(-x)); }

// tanh: for |x| < 0.625 Cephes' odd minimax polynomial x + x^3 P(x^2) (where 1 - e^{-2|x|} would lose
// precision), else sign(x) (1 - e^{-2|x|}) / (1 + e^{-2|x|}).
template <typename T> inline T vtanh(T x) { return std::tanh(x); }
template <> inline float vtanh<float>(float x) {
  const float a = std::fabs(x);
  const float e = exp_f32(-2.0f * a);
  const float large = std::copysign((1.0f - e) / (1.0f + e), x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  return a < 0.625f ? small : large;
}

}  // namespace MAD_ISA_NS
}  // namespace mad::kernels
