#include "kernels/depthwise_conv.h"

#include <algorithm>
#include <string>

#include "kernels/check.h"

namespace mad::kernels {

namespace {

std::string shape_text(std::size_t B, std::size_t L, std::size_t C, std::size_t K) {
  return "B=" + std::to_string(B) + ", L=" + std::to_string(L) + ", C=" + std::to_string(C) +
         ", K=" + std::to_string(K);
}

// wt [K, C] = transpose(w [C, K]).
template <typename T>
void transpose_weight(const T* w, T* wt, std::size_t C, std::size_t K) {
  for (std::size_t c = 0; c < C; ++c) {
    for (std::size_t j = 0; j < K; ++j) wt[j * C + c] = w[c * K + j];
  }
}

}  // namespace

std::size_t depthwise_conv_forward_scratch_size(std::size_t C, std::size_t K) { return K * C; }
std::size_t depthwise_conv_backward_scratch_size(std::size_t C, std::size_t K) { return 2 * K * C; }

template <typename T>
void depthwise_conv_forward(const T* x, const T* w, const std::type_identity_t<T>* bias, T* y, std::size_t B,
                            std::size_t L, std::size_t C, std::size_t K, std::type_identity_t<T>* scratch) {
  MAD_KERNEL_CHECK(scratch != nullptr || K * C == 0,
                   "depthwise_conv_forward: scratch is null (" + shape_text(B, L, C, K) +
                       "); pass depthwise_conv_forward_scratch_size(C, K) elements");
  T* wt = scratch;  // [K, C]
  transpose_weight(w, wt, C, K);
  for (std::size_t b = 0; b < B; ++b) {
    const T* xb = x + b * L * C;
    for (std::size_t t = 0; t < L; ++t) {
      T* __restrict yrow = y + (b * L + t) * C;
      if (bias != nullptr) {
        std::copy(bias, bias + C, yrow);
      } else {
        std::fill(yrow, yrow + C, T(0));
      }
      // Tap j reads x[t - (K-1) + j]; taps before the start of the sequence read zeros and are skipped.
      const std::size_t first_j = t + 1 >= K ? 0 : K - 1 - t;
      for (std::size_t j = first_j; j < K; ++j) {
        const T* __restrict xrow = xb + (t + 1 + j - K) * C;
        const T* __restrict wrow = wt + j * C;
        for (std::size_t c = 0; c < C; ++c) yrow[c] += wrow[c] * xrow[c];
      }
    }
  }
}

template <typename T>
void depthwise_conv_backward(const std::type_identity_t<T>* x, const std::type_identity_t<T>* w, const T* dy,
                             std::type_identity_t<T>* dx, std::type_identity_t<T>* dw,
                             std::type_identity_t<T>* db, std::size_t B, std::size_t L, std::size_t C,
                             std::size_t K, std::type_identity_t<T>* scratch) {
  MAD_KERNEL_CHECK(scratch != nullptr || K * C == 0 || (dx == nullptr && dw == nullptr),
                   "depthwise_conv_backward: scratch is null (" + shape_text(B, L, C, K) +
                       "); pass depthwise_conv_backward_scratch_size(C, K) elements");
  MAD_KERNEL_CHECK(dx == nullptr || w != nullptr,
                   "depthwise_conv_backward: dx requested but w is null (" + shape_text(B, L, C, K) + ")");
  MAD_KERNEL_CHECK(dw == nullptr || x != nullptr,
                   "depthwise_conv_backward: dw requested but x is null (" + shape_text(B, L, C, K) + ")");
  T* wt = scratch;           // [K, C] transposed weight (for dx)
  T* dwt = scratch + K * C;  // [K, C] this call's dw, transposed (for dw)

  if (dx != nullptr) {
    transpose_weight(w, wt, C, K);
    for (std::size_t b = 0; b < B; ++b) {
      const T* dyb = dy + b * L * C;
      for (std::size_t s = 0; s < L; ++s) {
        T* __restrict dxrow = dx + (b * L + s) * C;
        // Tap j carries x[s] to y[s + K-1-j]; outputs past the end of the sequence do not exist.
        const std::size_t first_j = s + K <= L ? 0 : s + K - L;
        for (std::size_t j = first_j; j < K; ++j) {
          const T* __restrict dyrow = dyb + (s + K - 1 - j) * C;
          const T* __restrict wrow = wt + j * C;
          for (std::size_t c = 0; c < C; ++c) dxrow[c] += wrow[c] * dyrow[c];
        }
      }
    }
  }

  if (dw != nullptr) {
    std::fill(dwt, dwt + K * C, T(0));
    for (std::size_t b = 0; b < B; ++b) {
      const T* xb = x + b * L * C;
      for (std::size_t t = 0; t < L; ++t) {
        const T* __restrict dyrow = dy + (b * L + t) * C;
        const std::size_t first_j = t + 1 >= K ? 0 : K - 1 - t;
        for (std::size_t j = first_j; j < K; ++j) {
          const T* __restrict xrow = xb + (t + 1 + j - K) * C;
          T* __restrict dwrow = dwt + j * C;
          for (std::size_t c = 0; c < C; ++c) dwrow[c] += dyrow[c] * xrow[c];
        }
      }
    }
    for (std::size_t c = 0; c < C; ++c) {
      for (std::size_t j = 0; j < K; ++j) dw[c * K + j] += dwt[j * C + c];
    }
  }

  if (db != nullptr) {
    for (std::size_t r = 0; r < B * L; ++r) {
      const T* __restrict dyrow = dy + r * C;
      for (std::size_t c = 0; c < C; ++c) db[c] += dyrow[c];
    }
  }
}

template void depthwise_conv_forward<float>(const float*, const float*, const float*, float*, std::size_t,
                                            std::size_t, std::size_t, std::size_t, float*);
template void depthwise_conv_forward<double>(const double*, const double*, const double*, double*,
                                             std::size_t, std::size_t, std::size_t, std::size_t, double*);
template void depthwise_conv_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                             std::size_t, std::size_t, std::size_t, std::size_t, float*);
template void depthwise_conv_backward<double>(const double*, const double*, const double*, double*, double*,
                                              double*, std::size_t, std::size_t, std::size_t, std::size_t,
                                              double*);

}  // namespace mad::kernels
