// FftPlan / RealFftPlan: round trips, agreement with a naive DFT, float32 accuracy, no allocation.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/fft.h"
#include "kernels/reference/reference.h"

namespace mad::kernels {
namespace {

using testing::allocation_count;
using testing::random_vector;

template <typename T>
std::vector<std::complex<T>> random_complex(std::size_t n, std::uint64_t seed) {
  const std::vector<double> v = random_vector<double>(2 * n, seed);
  std::vector<std::complex<T>> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = {static_cast<T>(v[2 * i]), static_cast<T>(v[2 * i + 1])};
  return out;
}

// max |a - b| / max |b| over complex entries.
template <typename A, typename B>
double complex_error(const std::vector<std::complex<A>>& a, const std::vector<std::complex<B>>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::complex<double> ad(a[i].real(), a[i].imag()), bd(b[i].real(), b[i].imag());
    diff = std::max(diff, std::abs(ad - bd));
    scale = std::max(scale, std::abs(bd));
  }
  return diff / std::max(scale, 1e-300);
}

// Tolerances relative to the largest entry: a few ulps times log2(N) with a safety factor.
template <typename T>
double tol(std::size_t n) {
  const double eps = std::is_same_v<T, float> ? 1.2e-7 : 2.3e-16;
  return 10 * eps * (1 + std::log2(static_cast<double>(n)));
}

template <typename T>
class FftTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(FftTest, Scalars);

TYPED_TEST(FftTest, ComplexMatchesNaiveDft) {
  using T = TypeParam;
  for (std::size_t n = 1; n <= 512; n *= 2) {
    const FftPlan<T> plan(n);
    const std::vector<std::complex<T>> x = random_complex<T>(n, 100 + n);
    const std::vector<std::complex<double>> xd(x.begin(), x.end());
    for (const bool inverse : {false, true}) {
      std::vector<std::complex<double>> expected(n);
      reference::dft(xd.data(), expected.data(), n, inverse);
      std::vector<std::complex<T>> got = x;
      if (inverse) {
        plan.inverse(got.data());
      } else {
        plan.forward(got.data());
      }
      EXPECT_LE(complex_error(got, expected), tol<T>(n)) << "N=" << n << " inverse=" << inverse;
    }
  }
}

TYPED_TEST(FftTest, ComplexRoundTrip) {
  using T = TypeParam;
  for (std::size_t n = 1; n <= 8192; n *= 2) {
    const FftPlan<T> plan(n);
    const std::vector<std::complex<T>> x = random_complex<T>(n, 200 + n);
    std::vector<std::complex<T>> y = x;
    plan.forward(y.data());
    plan.inverse(y.data());
    EXPECT_LE(complex_error(y, x), tol<T>(n)) << "N=" << n;
  }
}

TYPED_TEST(FftTest, RealMatchesNaiveDftAndRoundTrips) {
  using T = TypeParam;
  for (std::size_t n = 2; n <= 1024; n *= 2) {
    const RealFftPlan<T> plan(n);
    ASSERT_EQ(plan.spectrum_size(), n / 2 + 1);
    const std::vector<T> x = random_vector<T>(n, 300 + n);

    std::vector<std::complex<double>> xc(n), expected(n);
    for (std::size_t i = 0; i < n; ++i) xc[i] = {static_cast<double>(x[i]), 0.0};
    reference::dft(xc.data(), expected.data(), n, false);
    expected.resize(n / 2 + 1);

    std::vector<std::complex<T>> buf(plan.spectrum_size(), std::complex<T>(T(-7), T(-7)));
    std::copy(x.begin(), x.end(), reinterpret_cast<T*>(buf.data()));  // real side; last 2 reals junk
    plan.forward(buf.data());
    EXPECT_LE(complex_error(buf, expected), tol<T>(n)) << "N=" << n;

    plan.inverse(buf.data());
    const std::vector<T> back(reinterpret_cast<T*>(buf.data()), reinterpret_cast<T*>(buf.data()) + n);
    EXPECT_LE(testing::relative_max_error(back, x), tol<T>(n)) << "N=" << n;
  }
}

// The batched forms (split re/im, [rows, W]) give each signal what the one-signal forms give. Not bit for
// bit: the compiler may contract a*b+c into an FMA differently in the vectorised batch loop.
TYPED_TEST(FftTest, BatchedEqualsOneSignalAtATime) {
  using T = TypeParam;
  const std::size_t W = 5;
  for (const std::size_t n : {std::size_t{2}, std::size_t{4}, std::size_t{64}}) {
    const FftPlan<T> plan(n);
    const RealFftPlan<T> rplan(n);
    const std::size_t rows = rplan.spectrum_size();
    const double close = tol<T>(n) * static_cast<double>(n);  // entries are O(n) at most
    for (const bool inverse : {false, true}) {
      std::vector<T> re(n * W), im(n * W);
      std::vector<std::vector<std::complex<T>>> one(W);
      for (std::size_t c = 0; c < W; ++c) {
        one[c] = random_complex<T>(n, 400 + c);
        for (std::size_t j = 0; j < n; ++j) {
          re[j * W + c] = one[c][j].real();
          im[j * W + c] = one[c][j].imag();
        }
        inverse ? plan.inverse(one[c].data()) : plan.forward(one[c].data());
      }
      inverse ? plan.inverse_batch(re.data(), im.data(), W) : plan.forward_batch(re.data(), im.data(), W);
      for (std::size_t c = 0; c < W; ++c)
        for (std::size_t j = 0; j < n; ++j) {
          EXPECT_NEAR(re[j * W + c], one[c][j].real(), close) << "N=" << n << " c=" << c << " j=" << j;
          EXPECT_NEAR(im[j * W + c], one[c][j].imag(), close) << "N=" << n << " c=" << c << " j=" << j;
        }
    }
    // Real transform: forward on the batch layout, compared with the one-signal buffer layout.
    std::vector<T> re(rows * W), im(rows * W);
    std::vector<std::vector<std::complex<T>>> one(W, std::vector<std::complex<T>>(rows));
    for (std::size_t c = 0; c < W; ++c) {
      const std::vector<T> x = random_vector<T>(n, 500 + c);
      for (std::size_t t = 0; t < n; ++t) {
        RealFftPlan<T>::sample_row(re.data(), im.data(), t, W)[c] = x[t];
        reinterpret_cast<T*>(one[c].data())[t] = x[t];
      }
      rplan.forward(one[c].data());
    }
    rplan.forward_batch(re.data(), im.data(), W);
    for (std::size_t c = 0; c < W; ++c)
      for (std::size_t k = 0; k < rows; ++k) {
        EXPECT_NEAR(re[k * W + c], one[c][k].real(), close) << "N=" << n << " c=" << c << " k=" << k;
        EXPECT_NEAR(im[k * W + c], one[c][k].imag(), close) << "N=" << n << " c=" << c << " k=" << k;
      }
    rplan.inverse_batch(re.data(), im.data(), W);
    for (std::size_t c = 0; c < W; ++c) {
      rplan.inverse(one[c].data());
      for (std::size_t t = 0; t < n; ++t)
        EXPECT_NEAR(RealFftPlan<T>::sample_row(re.data(), im.data(), t, W)[c],
                    reinterpret_cast<const T*>(one[c].data())[t], close)
            << "N=" << n << " c=" << c << " t=" << t;
    }
  }
}

TYPED_TEST(FftTest, ExecutingAPlanDoesNotAllocate) {
  using T = TypeParam;
  const FftPlan<T> plan(1024);
  const RealFftPlan<T> rplan(1024);
  std::vector<std::complex<T>> a = random_complex<T>(1024, 1);
  std::vector<std::complex<T>> r(rplan.spectrum_size());
  std::vector<T> re(1024 * 4), im(1024 * 4);
  const std::size_t before = allocation_count();
  plan.forward(a.data());
  plan.inverse(a.data());
  rplan.forward(r.data());
  rplan.inverse(r.data());
  plan.forward_batch(re.data(), im.data(), 4);
  plan.inverse_batch(re.data(), im.data(), 4);
  rplan.forward_batch(re.data(), im.data(), 4);
  rplan.inverse_batch(re.data(), im.data(), 4);
  EXPECT_EQ(allocation_count(), before);
}

TEST(Fft, RejectsSizesThatAreNotPowersOfTwo) {
  EXPECT_THROW(FftPlan<double>(0), std::invalid_argument);
  EXPECT_THROW(FftPlan<double>(12), std::invalid_argument);
  EXPECT_THROW(RealFftPlan<float>(1), std::invalid_argument);
  EXPECT_THROW(RealFftPlan<float>(6), std::invalid_argument);
}

// Float32 accuracy at a size the long convolution uses (L = 2048 -> N = 4096): the float transform,
// with twiddles computed in long double and rounded once, stays within a few float ulps per stage of
// the double transform (checked against the naive DFT above). RMS error is what accumulates in a
// convolution; the bound is ~ 2 * eps_float * sqrt(log2 N).
TEST(Fft, Float32AccuracyAgainstDouble) {
  const std::size_t n = 4096;
  const std::vector<std::complex<double>> xd = random_complex<double>(n, 7);
  const std::vector<std::complex<float>> xf(xd.begin(), xd.end());
  std::vector<std::complex<double>> yd(xd.begin(), xd.end());
  std::vector<std::complex<float>> yf = xf;
  FftPlan<double>(n).forward(yd.data());
  FftPlan<float>(n).forward(yf.data());
  double err2 = 0, ref2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    err2 += std::norm(std::complex<double>(yf[i]) - yd[i]);
    ref2 += std::norm(yd[i]);
  }
  const double rms_relative = std::sqrt(err2 / ref2);
  char text[32];
  std::snprintf(text, sizeof text, "%.3e", rms_relative);
  RecordProperty("float32_rms_relative_error_n4096", text);
  EXPECT_LE(rms_relative, 3e-7);  // measured 1.29e-7
}

}  // namespace
}  // namespace mad::kernels
