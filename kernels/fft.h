// Radix-2 FFT plans for power-of-two sizes: a complex transform and a real-input transform, each for one
// signal (interleaved std::complex buffers) or for a batch of W signals at once (split re/im buffers,
// vectorised across the batch; what the channel-last long convolution uses).
//
// A plan is built once per size N (this allocates its twiddle and bit-reversal tables); executing it
// works in place on the caller's buffers and never allocates, so plans can sit inside a training step.
// Twiddles are computed in long double and rounded once to T, so a float plan carries no error from its
// tables beyond one rounding per entry (the float32 error of a transform grows like eps * sqrt(log2 N)
// in RMS; tests/kernels/test_fft.cpp measures it).
//
// Conventions (the usual ones, as in numpy.fft):
//   forward:  X[k] = sum_{j<N} x[j] * exp(-2*pi*i*j*k/N)        (unnormalised)
//   inverse:  x[j] = (1/N) sum_{k<N} X[k] * exp(+2*pi*i*j*k/N)  (so inverse(forward(x)) == x)
// Plans are immutable after construction; executing one is const and re-entrant (each call touches only
// the buffers it is given). T is float or double (explicitly instantiated in fft.cpp).
#pragma once

#include <complex>
#include <cstddef>
#include <utility>
#include <vector>

namespace mad::kernels {

// True when n is a power of two (n >= 1).
constexpr bool is_power_of_two(std::size_t n) { return n != 0 && (n & (n - 1)) == 0; }

// The smallest power of two >= n (n >= 1).
constexpr std::size_t next_power_of_two(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Complex FFT of size N (a power of two, N >= 1).
template <typename T>
class FftPlan {
 public:
  explicit FftPlan(std::size_t n);

  std::size_t size() const { return n_; }

  // One signal. data: [N] complex, transformed in place; inverse() scales by 1/N.
  void forward(std::complex<T>* data) const;
  void inverse(std::complex<T>* data) const;

  // W signals at once, split format: re and im are each [N, W] row-major, element j of signal c is
  // re[j*W + c] + i*im[j*W + c]. Transformed in place; inverse_batch() scales by 1/N.
  void forward_batch(T* re, T* im, std::size_t W) const;
  void inverse_batch(T* re, T* im, std::size_t W) const;

  // The general form behind all four: element j of signal c is at re[j*stride + c], im[j*stride + c]
  // for c < W (interleaved single signals use re = data, im = data + 1, W = 1, stride = 2). re and im
  // must address disjoint elements.
  void transform(T* re, T* im, std::size_t W, std::size_t stride, bool inverse) const;

 private:
  std::size_t n_;
  // Row swaps (i, j) with i < j = bit_reverse(i); fixed points are omitted.
  std::vector<std::pair<std::size_t, std::size_t>> swaps_;
  // Twiddles stage by stage, contiguous per stage so the butterfly loop reads them in order: the
  // stage with half-length h (h = 1, 2, 4, ..., N/2) uses entries [h-1, 2h-1) holding
  // exp(-2*pi*i*j/(2h)) for j < h. N-1 entries in all.
  std::vector<std::complex<T>> twiddles_;
};

// FFT of a real signal of size N (a power of two, N >= 2), computed with one complex FFT of size N/2 on
// z[j] = x[2j] + i*x[2j+1] followed by an O(N) split.
//
// One signal: in place on a buffer of N/2 + 1 complex values (N + 2 values of T), the layout of FFTW's
// in-place r2c:
//   real side:     the first N values of reinterpret_cast<T*>(buf) hold x[0..N)
//                  (std::complex<T> arrays may be read as arrays of T pairs, [complex.numbers]);
//                  the last two values are scratch and their content is ignored;
//   spectrum side: buf[k] = X[k] for k = 0..N/2 (the rest is conj(X[N-k]) and is not stored).
//
// W signals at once: re and im are each [N/2 + 1, W] row-major.
//   real side:     sample t of signal c is re[(t/2)*W + c] for even t and im[(t/2)*W + c] for odd t
//                  (sample_row() returns that row); row N/2 is scratch;
//   spectrum side: X_c[k] = re[k*W + c] + i*im[k*W + c] for k = 0..N/2.
template <typename T>
class RealFftPlan {
 public:
  explicit RealFftPlan(std::size_t n);

  // N, the number of real samples.
  std::size_t size() const { return n_; }
  // N/2 + 1, the number of complex values (rows) in a buffer.
  std::size_t spectrum_size() const { return n_ / 2 + 1; }

  // Real side -> spectrum side. buf: [N/2 + 1] complex.
  void forward(std::complex<T>* buf) const;
  // Spectrum side -> real side, scaled by 1/N. The imaginary parts of X[0] and X[N/2] are ignored (they
  // are zero for the spectrum of a real signal). buf: [N/2 + 1] complex.
  void inverse(std::complex<T>* buf) const;

  // The batched forms: re, im each [N/2 + 1, W].
  void forward_batch(T* re, T* im, std::size_t W) const;
  void inverse_batch(T* re, T* im, std::size_t W) const;

  // Where sample t (t < N) of a batch lives on the real side: a row of W values, one per signal.
  static T* sample_row(T* re, T* im, std::size_t t, std::size_t W) {
    return (t % 2 == 0 ? re : im) + (t / 2) * W;
  }

 private:
  void split(T* re, T* im, std::size_t W, std::size_t stride) const;
  void unsplit(T* re, T* im, std::size_t W, std::size_t stride) const;

  std::size_t n_;
  FftPlan<T> half_;  // complex FFT of size N/2
  // exp(-2*pi*i*k/N) for k = 0..N/4: the twiddles that split the half-size transform into the spectra
  // of the even and odd samples.
  std::vector<std::complex<T>> split_;
};

}  // namespace mad::kernels
