// Depthwise causal 1-D convolution with a short filter (the "short conv" in front of Hyena/Mamba mixers).
//
// Shapes (row-major, contiguous, channel-last):
//   x     [B, L, C]  input
//   w     [C, K]     weight: K taps per channel; w[c, K-1] multiplies the current input x[b, t, c]
//   bias  [C]        nullable (no bias)
//   y     [B, L, C]  output
//   y[b, t, c] = bias[c] + sum_{j=0..K-1} w[c, j] * x[b, t-K+1+j, c],   with x[b, s, c] = 0 for s < 0
//
// Backward, given dy [B, L, C]; every gradient ACCUMULATES (+=) into the caller's buffer, never
// overwrites (so shared weights collect all contributions), and each of dx, dw, db may be null:
//   dx[b, s, c] += sum_j w[c, j] * dy[b, s+K-1-j, c]          (terms with s+K-1-j >= L are 0)
//   dw[c, j]    += sum_{b,t} dy[b, t, c] * x[b, t-K+1+j, c]   (terms with t-K+1+j < 0 are 0)
//   db[c]       += sum_{b,t} dy[b, t, c]
// x is read only for dw and w only for dx (either may be null when not needed). Nothing is saved by the
// forward.
//
// Why scratch: w is stored [C, K] but the loops run over contiguous channels, so the kernels first copy
// w into a [K, C] scratch (and accumulate dw in a [K, C] scratch) to keep the inner loop unit-stride.
// Aliasing: outputs must not overlap inputs, each other or the scratch. No allocation, single-threaded.
// T is float or double. Preconditions throw std::invalid_argument naming the function.
// Pointers that may be null are declared std::type_identity_t<T>* so that a literal nullptr can be
// passed (likewise scratch): T is deduced from the pointers that are never null (x, w, y forward; dy
// backward).
#pragma once

#include <cstddef>
#include <type_traits>

namespace mad::kernels {

// Scratch (elements of T) needed by depthwise_conv_forward / depthwise_conv_backward: K*C and 2*K*C.
std::size_t depthwise_conv_forward_scratch_size(std::size_t C, std::size_t K);
std::size_t depthwise_conv_backward_scratch_size(std::size_t C, std::size_t K);

// y [B, L, C] = causal depthwise conv of x with w [C, K] plus bias [C] (nullable). Overwrites y.
template <typename T>
void depthwise_conv_forward(const T* x, const T* w, const std::type_identity_t<T>* bias, T* y, std::size_t B,
                            std::size_t L, std::size_t C, std::size_t K, std::type_identity_t<T>* scratch);

// dx [B, L, C] +=, dw [C, K] +=, db [C] += (each nullable); see the top of this file.
template <typename T>
void depthwise_conv_backward(const std::type_identity_t<T>* x, const std::type_identity_t<T>* w, const T* dy,
                             std::type_identity_t<T>* dx, std::type_identity_t<T>* dw,
                             std::type_identity_t<T>* db, std::size_t B, std::size_t L, std::size_t C,
                             std::size_t K, std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
