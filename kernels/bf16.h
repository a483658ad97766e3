// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 8 significant bits).
//
// The bf16 compute mode (kernels/precision.h) rounds the inputs of matrix products to bf16 with round to
// nearest even and accumulates in float32, as PyTorch's bf16 autocast and VDPBF16PS do. The product of two
// bf16 numbers is exact in float32, so only the accumulation rounds.
#pragma once

#include <bit>
#include <cstdint>

#include "kernels/isa/isa_namespace.h"

namespace mad::kernels {
inline namespace MAD_ISA_NS {

// Round to nearest even; NaN stays a (quiet) NaN, infinities stay infinite.
// A select rather than a branch, so that loops over arrays vectorise.
inline uint16_t bf16_bits(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x0040u;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

inline float bf16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

// x rounded to the nearest bf16, as a float.
inline float round_to_bf16(float x) { return bf16_to_float(bf16_bits(x)); }

// y[i] = round_to_bf16(x[i]) for i < n; y may be x.
inline void round_array_to_bf16(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = round_to_bf16(x[i]);
}

}  // namespace MAD_ISA_NS
}  // namespace mad::kernels
