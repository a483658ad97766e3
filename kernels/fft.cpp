#include "kernels/fft.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/check.h"

// All loops below work on split (re, im) rows of W values with a row stride and do plain real
// arithmetic: the innermost loop runs over the W signals of a batch, which the compiler vectorises, and
// std::complex's operator* (which adds an Annex G NaN-recovery branch to every product when we do not
// build with -ffast-math) never appears.

namespace mad::kernels {

namespace {

// exp(-2*pi*i*k/n) evaluated in long double and rounded once to T.
template <typename T>
std::complex<T> unit_root(std::size_t k, std::size_t n) {
  const long double angle =
      -2.0L * std::numbers::pi_v<long double> * static_cast<long double>(k) / static_cast<long double>(n);
  return {static_cast<T>(std::cos(angle)), static_cast<T>(std::sin(angle))};
}

std::size_t bit_reverse(std::size_t i, unsigned bits) {
  std::size_t r = 0;
  for (unsigned b = 0; b < bits; ++b) {
    r = (r << 1) | (i & 1);
    i >>= 1;
  }
  return r;
}

// One radix-2 stage: for every block of 2h rows, rows a = start+j and b = start+j+h become
// a + w_j*b and a - w_j*b, with w_j = exp(-+2*pi*i*j/(2h)) (conjugated for the inverse).
template <typename T, bool Inverse, typename Width>
void butterfly_stage(T* re, T* im, Width W, std::size_t stride, const std::complex<T>* w, std::size_t n,
                     std::size_t h) {
  for (std::size_t start = 0; start < n; start += 2 * h) {
    for (std::size_t j = 0; j < h; ++j) {
      const T wr = w[j].real();
      const T wi = Inverse ? -w[j].imag() : w[j].imag();
      T* __restrict ar = re + (start + j) * stride;
      T* __restrict ai = im + (start + j) * stride;
      T* __restrict br = re + (start + j + h) * stride;
      T* __restrict bi = im + (start + j + h) * stride;
      for (std::size_t c = 0; c < W; ++c) {
        const T tr = br[c] * wr - bi[c] * wi;
        const T ti = br[c] * wi + bi[c] * wr;
        br[c] = ar[c] - tr;
        bi[c] = ai[c] - ti;
        ar[c] = ar[c] + tr;
        ai[c] = ai[c] + ti;
      }
    }
  }
}

// The first stage (h = 1) has the twiddle 1: sums and differences of neighbouring rows.
template <typename T, typename Width>
void first_stage(T* re, T* im, Width W, std::size_t stride, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 2) {
    T* __restrict ar = re + i * stride;
    T* __restrict ai = im + i * stride;
    T* __restrict br = ar + stride;
    T* __restrict bi = ai + stride;
    for (std::size_t c = 0; c < W; ++c) {
      const T tr = br[c], ti = bi[c];
      br[c] = ar[c] - tr;
      bi[c] = ai[c] - ti;
      ar[c] = ar[c] + tr;
      ai[c] = ai[c] + ti;
    }
  }
}

// Row k = M/2 is its own partner (k == M-k). Its split twiddle is exp(-i*pi/2) = -i, and both split()
// and unsplit() reduce to complex conjugation, X[M/2] = conj(Z[M/2]) and back; doing it apart keeps the
// pair loops free of aliasing rows. Nothing to do when M = 1 (the row would be row 0, handled with X[0]
// and X[M]).
template <typename T>
void conjugate_middle_row(T* im, std::size_t W, std::size_t stride, std::size_t m) {
  if (m < 2) return;
  T* row = im + (m / 2) * stride;
  for (std::size_t c = 0; c < W; ++c) row[c] = -row[c];
}

template <typename T, typename Width>
void swap_rows(T* a, T* b, Width W) {
  for (std::size_t c = 0; c < W; ++c) std::swap(a[c], b[c]);
}

// The whole complex transform on rows of W values (see FftPlan::transform). Width is std::size_t, or
// std::integral_constant<std::size_t, 1> for one signal, which lets the compiler drop the loop over
// signals. (A compile-time width for the long convolution's channel block measured slower than the
// runtime loop, so there is none.)
template <typename T, typename Width>
void transform_rows(T* re, T* im, Width W, std::size_t stride, bool inverse, std::size_t n,
                    const std::vector<std::pair<std::size_t, std::size_t>>& swaps,
                    const std::vector<std::complex<T>>& twiddles) {
  for (const auto& [i, j] : swaps) {
    swap_rows(re + i * stride, re + j * stride, W);
    swap_rows(im + i * stride, im + j * stride, W);
  }
  // Cache blocking: the stages with 2h <= R only combine rows inside aligned blocks of R rows, so each
  // block of R rows (about 16 KiB, well inside L1) goes through all of them before the next block is
  // touched. Only the remaining log2(N/R) stages stream over the whole buffer.
  const std::size_t row_bytes = 2 * W * sizeof(T);
  std::size_t R = 2;
  while (R < n && 2 * R * row_bytes <= 16384) R *= 2;
  R = std::min(R, n);
  const auto stage = [&](std::size_t first_row, std::size_t rows, std::size_t h) {
    T* r = re + first_row * stride;
    T* i = im + first_row * stride;
    if (h == 1) {
      first_stage(r, i, W, stride, rows);
    } else if (inverse) {
      butterfly_stage<T, true>(r, i, W, stride, twiddles.data() + (h - 1), rows, h);
    } else {
      butterfly_stage<T, false>(r, i, W, stride, twiddles.data() + (h - 1), rows, h);
    }
  };
  for (std::size_t block = 0; block < n && n >= 2; block += R) {
    for (std::size_t h = 1; 2 * h <= R; h *= 2) stage(block, R, h);
  }
  for (std::size_t h = R; h < n; h *= 2) stage(0, n, h);
  if (inverse) {
    const T scale = T(1) / static_cast<T>(n);  // exact: n is a power of two
    for (std::size_t j = 0; j < n; ++j) {
      T* __restrict r = re + j * stride;
      T* __restrict i = im + j * stride;
      for (std::size_t c = 0; c < W; ++c) {
        r[c] *= scale;
        i[c] *= scale;
      }
    }
  }
}

}  // namespace

// ---- FftPlan ---------------------------------------------------------------------------------------

template <typename T>
FftPlan<T>::FftPlan(std::size_t n) : n_(n) {
  MAD_KERNEL_CHECK(is_power_of_two(n), "FftPlan: size N=" + std::to_string(n) +
                                           " is not a power of two (radix-2 plans only; "
                                           "zero-pad the signal to next_power_of_two(N))");
  unsigned bits = 0;
  while ((std::size_t{1} << bits) < n) ++bits;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t j = bit_reverse(i, bits);
    if (i < j) swaps_.emplace_back(i, j);
  }
  twiddles_.reserve(n - 1);
  for (std::size_t h = 1; h < n; h *= 2) {
    for (std::size_t j = 0; j < h; ++j) twiddles_.push_back(unit_root<T>(j, 2 * h));
  }
}

template <typename T>
void FftPlan<T>::transform(T* re, T* im, std::size_t W, std::size_t stride, bool inverse) const {
  if (W == 1) {
    transform_rows(re, im, std::integral_constant<std::size_t, 1>{}, stride, inverse, n_, swaps_, twiddles_);
  } else {
    transform_rows(re, im, W, stride, inverse, n_, swaps_, twiddles_);
  }
}

template <typename T>
void FftPlan<T>::forward(std::complex<T>* data) const {
  T* d = reinterpret_cast<T*>(data);
  transform(d, d + 1, 1, 2, false);
}

template <typename T>
void FftPlan<T>::inverse(std::complex<T>* data) const {
  T* d = reinterpret_cast<T*>(data);
  transform(d, d + 1, 1, 2, true);
}

template <typename T>
void FftPlan<T>::forward_batch(T* re, T* im, std::size_t W) const {
  transform(re, im, W, W, false);
}

template <typename T>
void FftPlan<T>::inverse_batch(T* re, T* im, std::size_t W) const {
  transform(re, im, W, W, true);
}

// ---- RealFftPlan -----------------------------------------------------------------------------------
//
// With M = N/2 and z[j] = x[2j] + i*x[2j+1], Z = FFT_M(z) = E + i*O where E and O are the M-point
// spectra of the even and odd samples. Since those are real signals, E[k] = (Z[k] + conj(Z[M-k]))/2 and
// O[k] = (Z[k] - conj(Z[M-k]))/(2i), and X[k] = E[k] + W^k O[k] with W = exp(-2*pi*i/N). The pair
// (k, M-k) is processed together, which makes the split (and its inverse) work in place; for the
// partner, E[M-k] = conj(E[k]), O[M-k] = conj(O[k]) and W^(M-k) = -conj(W^k), so
// X[M-k] = conj(E[k] - W^k O[k]).

template <typename T>
RealFftPlan<T>::RealFftPlan(std::size_t n) : n_(n), half_(is_power_of_two(n) && n >= 2 ? n / 2 : 1) {
  MAD_KERNEL_CHECK(is_power_of_two(n) && n >= 2,
                   "RealFftPlan: size N=" + std::to_string(n) + " must be a power of two >= 2");
  split_.reserve(n / 4 + 1);
  for (std::size_t k = 0; k <= n / 4; ++k) split_.push_back(unit_root<T>(k, n));
}

// Z (rows 0..M-1) -> X (rows 0..M), in place.
template <typename T>
void RealFftPlan<T>::split(T* re, T* im, std::size_t W, std::size_t stride) const {
  const std::size_t m = n_ / 2;
  {
    // X[0] = E[0] + O[0] and X[M] = E[0] - O[0], with E[0] = Re Z[0] and O[0] = Im Z[0].
    T* __restrict r0 = re;
    T* __restrict i0 = im;
    T* __restrict rm = re + m * stride;
    T* __restrict im_ = im + m * stride;
    for (std::size_t c = 0; c < W; ++c) {
      const T zr = r0[c], zi = i0[c];
      r0[c] = zr + zi;
      i0[c] = T(0);
      rm[c] = zr - zi;
      im_[c] = T(0);
    }
  }
  for (std::size_t k = 1; 2 * k < m; ++k) {
    const T wr = split_[k].real(), wi = split_[k].imag();
    T* __restrict kr = re + k * stride;
    T* __restrict ki = im + k * stride;
    T* __restrict mr = re + (m - k) * stride;
    T* __restrict mi = im + (m - k) * stride;
    for (std::size_t c = 0; c < W; ++c) {
      const T zkr = kr[c], zki = ki[c], zmr = mr[c], zmi = mi[c];
      const T er = T(0.5) * (zkr + zmr);  // E = (Z[k] + conj(Z[M-k])) / 2
      const T ei = T(0.5) * (zki - zmi);
      const T or_ = T(0.5) * (zki + zmi);  // O = (Z[k] - conj(Z[M-k])) / (2i)
      const T oi = T(-0.5) * (zkr - zmr);
      const T pr = wr * or_ - wi * oi;  // W^k * O
      const T pi = wr * oi + wi * or_;
      kr[c] = er + pr;  // X[k] = E + W^k O
      ki[c] = ei + pi;
      mr[c] = er - pr;  // X[M-k] = conj(E - W^k O)
      mi[c] = pi - ei;
    }
  }
  conjugate_middle_row(im, W, stride, m);
}

// X (rows 0..M) -> Z (rows 0..M-1), in place: the exact inverse of split().
template <typename T>
void RealFftPlan<T>::unsplit(T* re, T* im, std::size_t W, std::size_t stride) const {
  const std::size_t m = n_ / 2;
  {
    // Z[0] = E[0] + i*O[0] with E[0] = (X[0] + X[M])/2, O[0] = (X[0] - X[M])/2.
    T* __restrict r0 = re;
    T* __restrict i0 = im;
    const T* __restrict rm = re + m * stride;
    for (std::size_t c = 0; c < W; ++c) {
      const T x0 = r0[c], xm = rm[c];
      r0[c] = T(0.5) * (x0 + xm);
      i0[c] = T(0.5) * (x0 - xm);
    }
  }
  for (std::size_t k = 1; 2 * k < m; ++k) {
    const T wr = split_[k].real(), wi = -split_[k].imag();  // conj(W^k)
    T* __restrict kr = re + k * stride;
    T* __restrict ki = im + k * stride;
    T* __restrict mr = re + (m - k) * stride;
    T* __restrict mi = im + (m - k) * stride;
    for (std::size_t c = 0; c < W; ++c) {
      const T xkr = kr[c], xki = ki[c], xmr = mr[c], xmi = mi[c];
      const T er = T(0.5) * (xkr + xmr);  // E = (X[k] + conj(X[M-k])) / 2
      const T ei = T(0.5) * (xki - xmi);
      const T dr = T(0.5) * (xkr - xmr);  // O = (X[k] - conj(X[M-k])) * conj(W^k) / 2
      const T di = T(0.5) * (xki + xmi);
      const T or_ = dr * wr - di * wi;
      const T oi = dr * wi + di * wr;
      kr[c] = er - oi;  // Z[k] = E + i*O
      ki[c] = ei + or_;
      mr[c] = er + oi;  // Z[M-k] = conj(E - i*O)
      mi[c] = or_ - ei;
    }
  }
  conjugate_middle_row(im, W, stride, m);
}

template <typename T>
void RealFftPlan<T>::forward(std::complex<T>* buf) const {
  T* d = reinterpret_cast<T*>(buf);
  half_.transform(d, d + 1, 1, 2, false);
  split(d, d + 1, 1, 2);
}

template <typename T>
void RealFftPlan<T>::inverse(std::complex<T>* buf) const {
  T* d = reinterpret_cast<T*>(buf);
  unsplit(d, d + 1, 1, 2);
  half_.transform(d, d + 1, 1, 2, true);  // scales by 1/M; with the factor 1/2 in unsplit, 1/N overall
}

template <typename T>
void RealFftPlan<T>::forward_batch(T* re, T* im, std::size_t W) const {
  half_.transform(re, im, W, W, false);
  split(re, im, W, W);
}

template <typename T>
void RealFftPlan<T>::inverse_batch(T* re, T* im, std::size_t W) const {
  unsplit(re, im, W, W);
  half_.transform(re, im, W, W, true);
}

template class FftPlan<float>;
template class FftPlan<double>;
template class RealFftPlan<float>;
template class RealFftPlan<double>;

}  // namespace mad::kernels
