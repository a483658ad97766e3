// Naive references for the kernels in kernels/: the defining formulas as plain loops, for tests only.
//
// Each function is a literal transcription of the formula in the matching kernel header (same shapes,
// same += contract for gradients), with no attempt at speed or loop reordering, so a reader can check it
// against the math at a glance. Tests compare the fast kernels with these.
#pragma once

#include <cmath>
#include <complex>
#include <cstddef>
#include <numbers>
#include <vector>

namespace mad::kernels::reference {

// out[k] = sum_j in[j] * exp(-+2*pi*i*j*k/n), scaled by 1/n when inverse. O(n^2). in and out distinct.
// The n roots of unity are evaluated in long double and indexed by (j*k) mod n, and sums are kept in
// long double, so the reference is more accurate than any fast transform it checks. Allocates.
template <typename T>
void dft(const std::complex<T>* in, std::complex<T>* out, std::size_t n, bool inverse) {
  const long double sign = inverse ? 1.0L : -1.0L;
  std::vector<std::complex<long double>> root(n);
  for (std::size_t m = 0; m < n; ++m) {
    const long double angle = sign * 2.0L * std::numbers::pi_v<long double> * static_cast<long double>(m) /
                              static_cast<long double>(n);
    root[m] = {std::cos(angle), std::sin(angle)};
  }
  for (std::size_t k = 0; k < n; ++k) {
    std::complex<long double> sum = 0;
    for (std::size_t j = 0; j < n; ++j) {
      sum += std::complex<long double>(in[j].real(), in[j].imag()) * root[(j * k) % n];
    }
    if (inverse) sum /= static_cast<long double>(n);
    out[k] = {static_cast<T>(sum.real()), static_cast<T>(sum.imag())};
  }
}

// y[b,t,c] = sum_{s=0..t} h[t-s,c] * x[b,s,c].   x, y [B, L, C]; h [L, C].
template <typename T>
void long_conv_forward(const T* x, const T* h, T* y, std::size_t B, std::size_t L, std::size_t C) {
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t t = 0; t < L; ++t)
      for (std::size_t c = 0; c < C; ++c) {
        T sum = 0;
        for (std::size_t s = 0; s <= t; ++s) sum += h[(t - s) * C + c] * x[(b * L + s) * C + c];
        y[(b * L + t) * C + c] = sum;
      }
}

// dx[b,s,c] += sum_{t>=s} h[t-s,c] dy[b,t,c];  dh[k,c] += sum_b sum_{t>=k} dy[b,t,c] x[b,t-k,c].
template <typename T>
void long_conv_backward(const T* x, const T* h, const T* dy, T* dx, T* dh, std::size_t B, std::size_t L,
                        std::size_t C) {
  if (dx != nullptr)
    for (std::size_t b = 0; b < B; ++b)
      for (std::size_t s = 0; s < L; ++s)
        for (std::size_t c = 0; c < C; ++c) {
          T sum = 0;
          for (std::size_t t = s; t < L; ++t) sum += h[(t - s) * C + c] * dy[(b * L + t) * C + c];
          dx[(b * L + s) * C + c] += sum;
        }
  if (dh != nullptr)
    for (std::size_t k = 0; k < L; ++k)
      for (std::size_t c = 0; c < C; ++c) {
        T sum = 0;
        for (std::size_t b = 0; b < B; ++b)
          for (std::size_t t = k; t < L; ++t) sum += dy[(b * L + t) * C + c] * x[(b * L + t - k) * C + c];
        dh[k * C + c] += sum;
      }
}

// y[b,t,c] = bias[c] + sum_j w[c,j] * x[b, t-K+1+j, c], x[<0] = 0.   x, y [B, L, C]; w [C, K]; bias [C].
template <typename T>
void depthwise_conv_forward(const T* x, const T* w, const T* bias, T* y, std::size_t B, std::size_t L,
                            std::size_t C, std::size_t K) {
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t t = 0; t < L; ++t)
      for (std::size_t c = 0; c < C; ++c) {
        T sum = bias != nullptr ? bias[c] : T(0);
        for (std::size_t j = 0; j < K; ++j) {
          const long s = static_cast<long>(t) - static_cast<long>(K) + 1 + static_cast<long>(j);
          if (s >= 0) sum += w[c * K + j] * x[(b * L + static_cast<std::size_t>(s)) * C + c];
        }
        y[(b * L + t) * C + c] = sum;
      }
}

// dx[b,s,c] += sum_j w[c,j] dy[b,s+K-1-j,c];  dw[c,j] += sum_{b,t} dy[b,t,c] x[b,t-K+1+j,c];
// db[c] += sum_{b,t} dy[b,t,c].
template <typename T>
void depthwise_conv_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::size_t B,
                             std::size_t L, std::size_t C, std::size_t K) {
  for (std::size_t b = 0; b < B; ++b)
    for (std::size_t c = 0; c < C; ++c) {
      if (dx != nullptr)
        for (std::size_t s = 0; s < L; ++s)
          for (std::size_t j = 0; j < K; ++j) {
            const std::size_t t = s + K - 1 - j;
            if (t < L) dx[(b * L + s) * C + c] += w[c * K + j] * dy[(b * L + t) * C + c];
          }
      if (dw != nullptr)
        for (std::size_t t = 0; t < L; ++t)
          for (std::size_t j = 0; j < K; ++j) {
            const long s = static_cast<long>(t) - static_cast<long>(K) + 1 + static_cast<long>(j);
            if (s >= 0)
              dw[c * K + j] += dy[(b * L + t) * C + c] * x[(b * L + static_cast<std::size_t>(s)) * C + c];
          }
      if (db != nullptr)
        for (std::size_t t = 0; t < L; ++t) db[c] += dy[(b * L + t) * C + c];
    }
}

}  // namespace mad::kernels::reference
