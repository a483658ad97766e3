#include "kernels/long_conv.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>

#include "kernels/check.h"

namespace mad::kernels {

namespace {

std::string shape_text(std::size_t B, std::size_t L, std::size_t C) {
  return "B=" + std::to_string(B) + ", L=" + std::to_string(L) + ", C=" + std::to_string(C);
}

// ---- direct: one loop for all three formulas --------------------------------------------------------
//
// Forward, dx and dh are all "a row of C values += sum over m of (row of a) * (row of b)", with rows
// stepping through [L, C] matrices. Channels go in blocks of V (128 bytes) whose partial sums stay in
// registers for the whole m loop, so each multiply-add costs two loads instead of two loads and a
// load/store of the output.

// out[c] += sum_{m < count} a[m*a_step + c] * b[m*b_step + c] for c < V.
template <typename T, std::size_t V>
void add_row_products_block(T* out, const T* a, std::ptrdiff_t a_step, const T* b, std::ptrdiff_t b_step,
                            std::size_t count) {
  T acc[V];
  for (std::size_t c = 0; c < V; ++c) acc[c] = out[c];
  for (std::size_t m = 0; m < count; ++m) {
    const T* __restrict ar = a + static_cast<std::ptrdiff_t>(m) * a_step;
    const T* __restrict br = b + static_cast<std::ptrdiff_t>(m) * b_step;
    for (std::size_t c = 0; c < V; ++c) acc[c] += ar[c] * br[c];
  }
  for (std::size_t c = 0; c < V; ++c) out[c] = acc[c];
}

// The same for c < C (any C): full blocks of V, then the remaining channels one row at a time.
template <typename T>
void add_row_products(T* out, const T* a, std::ptrdiff_t a_step, const T* b, std::ptrdiff_t b_step,
                      std::size_t count, std::size_t C) {
  constexpr std::size_t V = 128 / sizeof(T);
  std::size_t c0 = 0;
  for (; c0 + V <= C; c0 += V) add_row_products_block<T, V>(out + c0, a + c0, a_step, b + c0, b_step, count);
  if (c0 == C) return;
  T* __restrict tail = out + c0;
  for (std::size_t m = 0; m < count; ++m) {
    const T* __restrict ar = a + c0 + static_cast<std::ptrdiff_t>(m) * a_step;
    const T* __restrict br = b + c0 + static_cast<std::ptrdiff_t>(m) * b_step;
    for (std::size_t c = 0; c < C - c0; ++c) tail[c] += ar[c] * br[c];
  }
}

// ---- FFT: batched spectra of a block of channels ---------------------------------------------------
//
// A Spectra holds the RealFftPlan batch buffers (re and im, each [N/2 + 1, W]) for W channels.
template <typename T>
struct Spectra {
  T* re;
  T* im;
};

// Carves Count batch buffers of `rows` rows for W channels out of scratch.
template <typename T, std::size_t Count>
std::array<Spectra<T>, Count> carve(T* scratch, std::size_t rows, std::size_t W) {
  std::array<Spectra<T>, Count> out;
  for (std::size_t i = 0; i < Count; ++i) {
    out[i] = {scratch + 2 * i * rows * W, scratch + (2 * i + 1) * rows * W};
  }
  return out;
}

// Loads channels [c0, c0 + W) of a [L, C] matrix onto the real side of a batch, zero-padded to N samples.
template <typename T>
void load_padded(const Spectra<T>& s, const T* src, std::size_t L, std::size_t C, std::size_t W,
                 std::size_t N) {
  for (std::size_t t = 0; t < N; ++t) {
    T* __restrict row = RealFftPlan<T>::sample_row(s.re, s.im, t, W);
    // Plain loops: W is a few dozen bytes, too short for std::copy's memmove call to pay off.
    if (t < L) {
      const T* __restrict in = src + t * C;
      for (std::size_t c = 0; c < W; ++c) row[c] = in[c];
    } else {
      for (std::size_t c = 0; c < W; ++c) row[c] = T(0);
    }
  }
}

// dst[t*C + c] = sample t of channel c (Accumulate: +=), for t < L and c < W.
template <typename T, bool Accumulate>
void store(const Spectra<T>& s, T* dst, std::size_t L, std::size_t C, std::size_t W) {
  for (std::size_t t = 0; t < L; ++t) {
    const T* __restrict row = RealFftPlan<T>::sample_row(s.re, s.im, t, W);
    T* __restrict out = dst + t * C;
    for (std::size_t c = 0; c < W; ++c) {
      if constexpr (Accumulate) {
        out[c] += row[c];
      } else {
        out[c] = row[c];
      }
    }
  }
}

// a[i] *= b[i] (or conj(b[i]) when Conj) for the n = (N/2 + 1) * W complex values of a batch.
template <typename T, bool Conj>
void multiply(const Spectra<T>& a, const Spectra<T>& b, std::size_t n) {
  T* __restrict ar = a.re;
  T* __restrict ai = a.im;
  const T* __restrict br = b.re;
  const T* __restrict bi = b.im;
  for (std::size_t i = 0; i < n; ++i) {
    const T xr = ar[i], xi = ai[i];
    const T yr = br[i], yi = Conj ? -bi[i] : bi[i];
    ar[i] = xr * yr - xi * yi;
    ai[i] = xr * yi + xi * yr;
  }
}

// acc[i] += conj(a[i]) * b[i] for the n complex values of a batch.
template <typename T>
void add_conj_product(const Spectra<T>& acc, const Spectra<T>& a, const Spectra<T>& b, std::size_t n) {
  T* __restrict rr = acc.re;
  T* __restrict ri = acc.im;
  const T* __restrict ar = a.re;
  const T* __restrict ai = a.im;
  const T* __restrict br = b.re;
  const T* __restrict bi = b.im;
  for (std::size_t i = 0; i < n; ++i) {
    rr[i] += ar[i] * br[i] + ai[i] * bi[i];
    ri[i] += ar[i] * bi[i] - ai[i] * br[i];
  }
}

template <typename T>
std::size_t block_width(std::size_t C) {
  return std::max<std::size_t>(1, std::min(C, long_conv_fft_channel_block<T>));
}

// Elements of T in one batch buffer (re and im) for L and C.
template <typename T>
std::size_t batch_elems(std::size_t L, std::size_t C) {
  return 2 * (long_conv_fft_size(L) / 2 + 1) * block_width<T>(C);
}

template <typename T>
void check_fft_args(const char* fn, const RealFftPlan<T>& plan, std::size_t B, std::size_t L, std::size_t C,
                    const T* scratch) {
  MAD_KERNEL_CHECK(plan.size() == long_conv_fft_size(L),
                   std::string(fn) + ": plan size N=" + std::to_string(plan.size()) +
                       " but L=" + std::to_string(L) + " needs N=" + std::to_string(long_conv_fft_size(L)) +
                       " (build the plan with RealFftPlan(long_conv_fft_size(L)))");
  MAD_KERNEL_CHECK(scratch != nullptr || B * L * C == 0,
                   std::string(fn) + ": scratch is null (" + shape_text(B, L, C) +
                       "); pass long_conv_fft_*_scratch_size<T>(L, C) elements");
}

}  // namespace

template <typename T>
std::size_t long_conv_fft_forward_scratch_size(std::size_t L, std::size_t C) {
  return 2 * batch_elems<T>(L, C);
}

template <typename T>
std::size_t long_conv_fft_backward_scratch_size(std::size_t L, std::size_t C) {
  return 4 * batch_elems<T>(L, C);
}

// ---- direct ----------------------------------------------------------------------------------------

// y[b,t,:] = sum_{k=0..t} h[k,:] * x[b,t-k,:]
template <typename T>
void long_conv_direct_forward(const T* x, const T* h, T* y, std::size_t B, std::size_t L, std::size_t C) {
  const auto stride = static_cast<std::ptrdiff_t>(C);
  for (std::size_t b = 0; b < B; ++b) {
    for (std::size_t t = 0; t < L; ++t) {
      T* yrow = y + (b * L + t) * C;
      std::fill(yrow, yrow + C, T(0));
      add_row_products(yrow, h, stride, x + (b * L + t) * C, -stride, t + 1, C);
    }
  }
}

// dx[b,s,:] += sum_{k=0..L-1-s} h[k,:] * dy[b,s+k,:]
// dh[k,:]   += sum_b sum_{s=0..L-1-k} dy[b,s+k,:] * x[b,s,:]
template <typename T>
void long_conv_direct_backward(const std::type_identity_t<T>* x, const std::type_identity_t<T>* h,
                               const T* dy, std::type_identity_t<T>* dx, std::type_identity_t<T>* dh,
                               std::size_t B, std::size_t L, std::size_t C) {
  MAD_KERNEL_CHECK(dx == nullptr || h != nullptr || B * L * C == 0,
                   "long_conv_direct_backward: dx requested but h is null (" + shape_text(B, L, C) + ")");
  MAD_KERNEL_CHECK(dh == nullptr || x != nullptr || B * L * C == 0,
                   "long_conv_direct_backward: dh requested but x is null (" + shape_text(B, L, C) + ")");
  const auto stride = static_cast<std::ptrdiff_t>(C);
  if (dx != nullptr) {
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t s = 0; s < L; ++s) {
        add_row_products(dx + (b * L + s) * C, h, stride, dy + (b * L + s) * C, stride, L - s, C);
      }
    }
  }
  if (dh != nullptr) {
    for (std::size_t k = 0; k < L; ++k) {
      for (std::size_t b = 0; b < B; ++b) {
        add_row_products(dh + k * C, dy + (b * L + k) * C, stride, x + b * L * C, stride, L - k, C);
      }
    }
  }
}

// ---- FFT -------------------------------------------------------------------------------------------
// Channels go in blocks of W = long_conv_fft_channel_block<T>: the filter spectra of a block are
// computed once and reused across the batch, and the scratch stays a few batch buffers regardless of
// B and C.

template <typename T>
void long_conv_fft_forward(const RealFftPlan<T>& plan, const T* x, const T* h, T* y, std::size_t B,
                           std::size_t L, std::size_t C, std::type_identity_t<T>* scratch) {
  check_fft_args("long_conv_fft_forward", plan, B, L, C, scratch);
  if (B * L * C == 0) return;
  const std::size_t N = plan.size();
  const std::size_t rows = plan.spectrum_size();
  const auto [hf, xf] = carve<T, 2>(scratch, rows, block_width<T>(C));
  for (std::size_t c0 = 0; c0 < C; c0 += long_conv_fft_channel_block<T>) {
    const std::size_t W = std::min(C - c0, long_conv_fft_channel_block<T>);
    load_padded(hf, h + c0, L, C, W, N);
    plan.forward_batch(hf.re, hf.im, W);
    for (std::size_t b = 0; b < B; ++b) {
      load_padded(xf, x + b * L * C + c0, L, C, W, N);
      plan.forward_batch(xf.re, xf.im, W);
      multiply<T, false>(xf, hf, rows * W);
      plan.inverse_batch(xf.re, xf.im, W);
      store<T, false>(xf, y + b * L * C + c0, L, C, W);
    }
  }
}

// dx = IFFT(conj(H) * DY) on s < L (a correlation; with N >= 2L nothing wraps around into [0, L)),
// dh = IFFT(sum_b conj(X_b) * DY_b) on k < L: the batch sum happens in frequency space, so dh costs one
// inverse transform per channel block.
template <typename T>
void long_conv_fft_backward(const RealFftPlan<T>& plan, const std::type_identity_t<T>* x,
                            const std::type_identity_t<T>* h, const T* dy, std::type_identity_t<T>* dx,
                            std::type_identity_t<T>* dh, std::size_t B, std::size_t L, std::size_t C,
                            std::type_identity_t<T>* scratch) {
  check_fft_args("long_conv_fft_backward", plan, B, L, C, scratch);
  MAD_KERNEL_CHECK(dx == nullptr || h != nullptr || B * L * C == 0,
                   "long_conv_fft_backward: dx requested but h is null (" + shape_text(B, L, C) + ")");
  MAD_KERNEL_CHECK(dh == nullptr || x != nullptr || B * L * C == 0,
                   "long_conv_fft_backward: dh requested but x is null (" + shape_text(B, L, C) + ")");
  if (B * L * C == 0 || (dx == nullptr && dh == nullptr)) return;
  const std::size_t N = plan.size();
  const std::size_t rows = plan.spectrum_size();
  // work holds X_b (for dh), then conj(H) * DY_b (for dx); acc holds sum_b conj(X_b) * DY_b.
  const auto [hf, dyf, work, acc] = carve<T, 4>(scratch, rows, block_width<T>(C));
  for (std::size_t c0 = 0; c0 < C; c0 += long_conv_fft_channel_block<T>) {
    const std::size_t W = std::min(C - c0, long_conv_fft_channel_block<T>);
    if (dx != nullptr) {
      load_padded(hf, h + c0, L, C, W, N);
      plan.forward_batch(hf.re, hf.im, W);
    }
    if (dh != nullptr) {
      std::fill(acc.re, acc.re + rows * W, T(0));
      std::fill(acc.im, acc.im + rows * W, T(0));
    }
    for (std::size_t b = 0; b < B; ++b) {
      load_padded(dyf, dy + b * L * C + c0, L, C, W, N);
      plan.forward_batch(dyf.re, dyf.im, W);
      if (dh != nullptr) {
        load_padded(work, x + b * L * C + c0, L, C, W, N);
        plan.forward_batch(work.re, work.im, W);
        add_conj_product(acc, work, dyf, rows * W);
      }
      if (dx != nullptr) {
        std::copy(dyf.re, dyf.re + rows * W, work.re);
        std::copy(dyf.im, dyf.im + rows * W, work.im);
        multiply<T, true>(work, hf, rows * W);
        plan.inverse_batch(work.re, work.im, W);
        store<T, true>(work, dx + b * L * C + c0, L, C, W);
      }
    }
    if (dh != nullptr) {
      plan.inverse_batch(acc.re, acc.im, W);
      store<T, true>(acc, dh + c0, L, C, W);
    }
  }
}

// ---- dispatcher ------------------------------------------------------------------------------------

template <typename T>
LongConvPlan<T>::LongConvPlan(std::size_t L, LongConvMethod method) : length_(L), method_(method) {
  if (method_ == LongConvMethod::fft) fft_.emplace(long_conv_fft_size(L));
}

template <typename T>
std::size_t LongConvPlan<T>::forward_scratch_size(std::size_t C) const {
  return method_ == LongConvMethod::fft ? long_conv_fft_forward_scratch_size<T>(length_, C) : 0;
}

template <typename T>
std::size_t LongConvPlan<T>::backward_scratch_size(std::size_t C) const {
  return method_ == LongConvMethod::fft ? long_conv_fft_backward_scratch_size<T>(length_, C) : 0;
}

template <typename T>
void long_conv_forward(const LongConvPlan<T>& plan, const T* x, const T* h, T* y, std::size_t B,
                       std::size_t L, std::size_t C, std::type_identity_t<T>* scratch) {
  MAD_KERNEL_CHECK(plan.length() == L,
                   "long_conv_forward: plan built for L=" + std::to_string(plan.length()) +
                       " but called with " + shape_text(B, L, C) + " (build one LongConvPlan per length)");
  if (plan.method() == LongConvMethod::fft) {
    long_conv_fft_forward(plan.fft_plan(), x, h, y, B, L, C, scratch);
  } else {
    long_conv_direct_forward(x, h, y, B, L, C);
  }
}

template <typename T>
void long_conv_backward(const LongConvPlan<T>& plan, const std::type_identity_t<T>* x,
                        const std::type_identity_t<T>* h, const T* dy, std::type_identity_t<T>* dx,
                        std::type_identity_t<T>* dh, std::size_t B, std::size_t L, std::size_t C,
                        std::type_identity_t<T>* scratch) {
  MAD_KERNEL_CHECK(plan.length() == L,
                   "long_conv_backward: plan built for L=" + std::to_string(plan.length()) +
                       " but called with " + shape_text(B, L, C) + " (build one LongConvPlan per length)");
  if (plan.method() == LongConvMethod::fft) {
    long_conv_fft_backward(plan.fft_plan(), x, h, dy, dx, dh, B, L, C, scratch);
  } else {
    long_conv_direct_backward(x, h, dy, dx, dh, B, L, C);
  }
}

// ---- explicit instantiations -----------------------------------------------------------------------

#define MAD_INSTANTIATE_LONG_CONV(T)                                                                         \
  template std::size_t long_conv_fft_forward_scratch_size<T>(std::size_t, std::size_t);                      \
  template std::size_t long_conv_fft_backward_scratch_size<T>(std::size_t, std::size_t);                     \
  template void long_conv_direct_forward<T>(const T*, const T*, T*, std::size_t, std::size_t, std::size_t);  \
  template void long_conv_direct_backward<T>(const T*, const T*, const T*, T*, T*, std::size_t, std::size_t, \
                                             std::size_t);                                                   \
  template void long_conv_fft_forward<T>(const RealFftPlan<T>&, const T*, const T*, T*, std::size_t,         \
                                         std::size_t, std::size_t, T*);                                      \
  template void long_conv_fft_backward<T>(const RealFftPlan<T>&, const T*, const T*, const T*, T*, T*,       \
                                          std::size_t, std::size_t, std::size_t, T*);                        \
  template class LongConvPlan<T>;                                                                            \
  template void long_conv_forward<T>(const LongConvPlan<T>&, const T*, const T*, T*, std::size_t,            \
                                     std::size_t, std::size_t, T*);                                          \
  template void long_conv_backward<T>(const LongConvPlan<T>&, const T*, const T*, const T*, T*, T*,          \
                                      std::size_t, std::size_t, std::size_t, T*);

MAD_INSTANTIATE_LONG_CONV(float)
MAD_INSTANTIATE_LONG_CONV(double)

#undef MAD_INSTANTIATE_LONG_CONV

}  // namespace mad::kernels
