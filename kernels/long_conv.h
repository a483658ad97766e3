// Causal long convolution, one filter per channel (the "long conv" / Hyena-style global filter).
//
// Shapes (row-major, contiguous, channel-last):
//   x  [B, L, C]   input
//   h  [L, C]      filter: one filter of length L per channel c (h[k, c] is tap k of channel c)
//   y  [B, L, C]   output
//   y[b, t, c] = sum_{s=0..t} h[t-s, c] * x[b, s, c]
//
// Backward, given dy [B, L, C]; both gradients ACCUMULATE (+=) into the caller's buffers, never
// overwrite, so a filter shared by several ops (or a tied parameter) collects all its contributions:
//   dx[b, s, c] += sum_{t=s..L-1} h[t-s, c] * dy[b, t, c]
//   dh[k, c]    += sum_b sum_{t=k..L-1} dy[b, t, c] * x[b, t-k, c]
// dx or dh may be null to skip that gradient. x is read only for dh and h only for dx, so x may be null
// when dh is null and h may be null when dx is null. Backward needs only x, h and dy: nothing is saved
// by the forward.
//
// Two implementations give the same numbers up to rounding:
//   direct: O(B*C*L^2) multiply-adds, vectorised over contiguous channels; no scratch.
//   fft:    zero-pads each channel to N = next_power_of_two(2L) (so the circular convolution of length N
//           equals the linear one on t < L), real FFTs, pointwise product, inverse FFT;
//           O(B*C*N*log N), vectorised over blocks of channels. Needs a RealFftPlan of size N and
//           caller-provided scratch.
// long_conv_forward / long_conv_backward dispatch between them through a LongConvPlan, which picks
// whichever a measured cost model predicts to be faster for L (long_conv_default_method below).
//
// Aliasing: outputs (y, dx, dh) must not overlap any input or each other. Scratch must not overlap
// anything else. No function here allocates; all are single-threaded. T is float or double.
// Preconditions (sizes, plan size, required pointers) throw std::invalid_argument naming the function.
// Pointers that may be null are declared std::type_identity_t<T>* so that a literal nullptr can be
// passed (likewise scratch, which may be null when its size is 0): T is deduced from the pointers that
// are never null (x, h, y forward; dy backward) and the plan.
#pragma once

#include <cstddef>
#include <optional>
#include <type_traits>

#include "kernels/fft.h"

namespace mad::kernels {

enum class LongConvMethod { direct, fft };

// FFT size used for length L: next_power_of_two(2L), at least 2.
constexpr std::size_t long_conv_fft_size(std::size_t L) { return L <= 1 ? 2 : next_power_of_two(2 * L); }

// Which form is faster, from a cost model fitted to bench/bench_long_conv.cpp (B=4, C=64, one thread,
// -O3 -march=x86-64-v3, forward + backward timed together since training runs both). Per unit of B*C,
//   direct costs about a * L^2/2   and   fft costs about b * N*log2(N),  N = long_conv_fft_size(L),
// with b/a = 3.5 for float and 3 for double (float: a ~ 0.11-0.13, b ~ 0.35-0.44; double: a ~ 0.25-0.30,
// b ~ 0.75-0.92 microseconds per 1000 units). The FFT cost jumps at each power of two, so the choice is
// not one threshold:
//   float:  fft for L in [120, 128] and L >= 180 (except L in [257, 267]); direct otherwise.
//   double: fft for L in [111, 128] and L >= 167; direct otherwise.
// Near the switch points the two forms are within ~15% of each other.
template <typename T>
inline constexpr double long_conv_fft_cost_ratio = sizeof(T) == 4 ? 3.5 : 3.0;

template <typename T>
constexpr LongConvMethod long_conv_default_method(std::size_t L) {
  const std::size_t n = long_conv_fft_size(L);
  std::size_t log2n = 0;
  while ((std::size_t{1} << log2n) < n) ++log2n;
  const double direct_cost = 0.5 * static_cast<double>(L) * static_cast<double>(L);
  const double fft_cost = long_conv_fft_cost_ratio<T> * static_cast<double>(n * log2n);
  return direct_cost > fft_cost ? LongConvMethod::fft : LongConvMethod::direct;
}

// The FFT form transforms a block of up to this many channels at once (one 64-byte row of T per time
// step, so loads from x [B, L, C] are unit-stride and the butterflies vectorise across channels).
template <typename T>
inline constexpr std::size_t long_conv_fft_channel_block = 64 / sizeof(T);

// Scratch needed by long_conv_fft_forward / long_conv_fft_backward, in elements of T: 2 resp. 4 batched
// spectra of [N/2 + 1] rows x min(C, channel block) complex values. Independent of B.
template <typename T>
std::size_t long_conv_fft_forward_scratch_size(std::size_t L, std::size_t C);
template <typename T>
std::size_t long_conv_fft_backward_scratch_size(std::size_t L, std::size_t C);

// ---- direct form (no scratch) ---------------------------------------------------------------------

// y [B, L, C] = causal_conv(x [B, L, C], h [L, C]). Overwrites y.
template <typename T>
void long_conv_direct_forward(const T* x, const T* h, T* y, std::size_t B, std::size_t L, std::size_t C);

// dx [B, L, C] += ..., dh [L, C] += ... (see the top of this file). dx, dh nullable.
template <typename T>
void long_conv_direct_backward(const std::type_identity_t<T>* x, const std::type_identity_t<T>* h,
                               const T* dy, std::type_identity_t<T>* dx, std::type_identity_t<T>* dh,
                               std::size_t B, std::size_t L, std::size_t C);

// ---- FFT form --------------------------------------------------------------------------------------
// plan.size() must equal long_conv_fft_size(L); scratch must hold long_conv_fft_*_scratch_size<T>(L, C)
// elements of T (any alignment that suits T).

template <typename T>
void long_conv_fft_forward(const RealFftPlan<T>& plan, const T* x, const T* h, T* y, std::size_t B,
                           std::size_t L, std::size_t C, std::type_identity_t<T>* scratch);

template <typename T>
void long_conv_fft_backward(const RealFftPlan<T>& plan, const std::type_identity_t<T>* x,
                            const std::type_identity_t<T>* h, const T* dy, std::type_identity_t<T>* dx,
                            std::type_identity_t<T>* dh, std::size_t B, std::size_t L, std::size_t C,
                            std::type_identity_t<T>* scratch);

// ---- dispatcher ------------------------------------------------------------------------------------

// Everything long_conv_forward/backward need for one length L, built once (building allocates the FFT
// tables when the method is fft; using the plan does not allocate).
template <typename T>
class LongConvPlan {
 public:
  explicit LongConvPlan(std::size_t L) : LongConvPlan(L, long_conv_default_method<T>(L)) {}
  LongConvPlan(std::size_t L, LongConvMethod method);

  std::size_t length() const { return length_; }
  LongConvMethod method() const { return method_; }
  // Scratch (elements of T) for long_conv_forward / long_conv_backward with C channels; 0 for the
  // direct method.
  std::size_t forward_scratch_size(std::size_t C) const;
  std::size_t backward_scratch_size(std::size_t C) const;
  // The FFT plan; only valid when method() == LongConvMethod::fft.
  const RealFftPlan<T>& fft_plan() const { return *fft_; }

 private:
  std::size_t length_;
  LongConvMethod method_;
  std::optional<RealFftPlan<T>> fft_;
};

// y [B, L, C] = causal_conv(x, h) by the plan's method; L must equal plan.length(). scratch holds
// plan.forward_scratch_size(C) elements (may be null when that is 0). Overwrites y.
template <typename T>
void long_conv_forward(const LongConvPlan<T>& plan, const T* x, const T* h, T* y, std::size_t B,
                       std::size_t L, std::size_t C, std::type_identity_t<T>* scratch);

// dx [B, L, C] +=, dh [L, C] += by the plan's method (dx, dh nullable). scratch holds
// plan.backward_scratch_size(C) elements (may be null when that is 0).
template <typename T>
void long_conv_backward(const LongConvPlan<T>& plan, const std::type_identity_t<T>* x,
                        const std::type_identity_t<T>* h, const T* dy, std::type_identity_t<T>* dx,
                        std::type_identity_t<T>* dh, std::size_t B, std::size_t L, std::size_t C,
                        std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
