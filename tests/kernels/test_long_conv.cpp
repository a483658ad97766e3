// Long convolution: direct == FFT == naive reference (forward and backward, float64 and float32),
// backward == finite differences of the forward, backward accumulates, null gradients, no allocation.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/long_conv.h"
#include "kernels/reference/reference.h"

namespace mad::kernels {
namespace {

using testing::allocation_count;
using testing::cast_vector;
using testing::random_vector;
using testing::relative_max_error;

struct Shape {
  std::size_t B, L, C;
};

std::string describe(const Shape& s) {
  return "B=" + std::to_string(s.B) + " L=" + std::to_string(s.L) + " C=" + std::to_string(s.C);
}

// Inputs for one shape: x [B,L,C], h [L,C], dy [B,L,C] in double (cast to float where needed).
struct Inputs {
  explicit Inputs(const Shape& s, std::uint64_t seed = 1)
      : x(random_vector<double>(s.B * s.L * s.C, seed)),
        h(random_vector<double>(s.L * s.C, seed + 1)),
        dy(random_vector<double>(s.B * s.L * s.C, seed + 2)) {}
  std::vector<double> x, h, dy;
};

// Runs every implementation on the same inputs. Gradients start at zero.
template <typename T>
struct Outputs {
  std::vector<T> y, dx, dh;
};

template <typename T>
Outputs<T> run_direct(const Shape& s, const Inputs& in) {
  const std::vector<T> x = cast_vector<T>(in.x), h = cast_vector<T>(in.h), dy = cast_vector<T>(in.dy);
  Outputs<T> out{std::vector<T>(x.size()), std::vector<T>(x.size()), std::vector<T>(h.size())};
  long_conv_direct_forward(x.data(), h.data(), out.y.data(), s.B, s.L, s.C);
  long_conv_direct_backward(x.data(), h.data(), dy.data(), out.dx.data(), out.dh.data(), s.B, s.L, s.C);
  return out;
}

template <typename T>
Outputs<T> run_fft(const Shape& s, const Inputs& in) {
  const std::vector<T> x = cast_vector<T>(in.x), h = cast_vector<T>(in.h), dy = cast_vector<T>(in.dy);
  Outputs<T> out{std::vector<T>(x.size()), std::vector<T>(x.size()), std::vector<T>(h.size())};
  const RealFftPlan<T> plan(long_conv_fft_size(s.L));
  std::vector<T> scratch(long_conv_fft_backward_scratch_size<T>(s.L, s.C));
  long_conv_fft_forward(plan, x.data(), h.data(), out.y.data(), s.B, s.L, s.C, scratch.data());
  long_conv_fft_backward(plan, x.data(), h.data(), dy.data(), out.dx.data(), out.dh.data(), s.B, s.L, s.C,
                         scratch.data());
  return out;
}

Outputs<double> run_reference(const Shape& s, const Inputs& in) {
  Outputs<double> out{std::vector<double>(in.x.size()), std::vector<double>(in.x.size()),
                      std::vector<double>(in.h.size())};
  reference::long_conv_forward(in.x.data(), in.h.data(), out.y.data(), s.B, s.L, s.C);
  reference::long_conv_backward(in.x.data(), in.h.data(), in.dy.data(), out.dx.data(), out.dh.data(), s.B,
                                s.L, s.C);
  return out;
}

template <typename A, typename B>
void expect_close(const Outputs<A>& got, const Outputs<B>& want, double tolerance, const std::string& what) {
  EXPECT_LE(relative_max_error(got.y, want.y), tolerance) << what << ": y";
  EXPECT_LE(relative_max_error(got.dx, want.dx), tolerance) << what << ": dx";
  EXPECT_LE(relative_max_error(got.dh, want.dh), tolerance) << what << ": dh";
}

std::vector<Shape> shapes() {
  std::vector<Shape> out;
  for (const std::size_t L : {1, 2, 3, 17, 64, 100, 1024}) {
    out.push_back({1, L, 1});
    out.push_back({2, L, 3});
    out.push_back({3, L, 8});
    out.push_back({2, L, 37});  // several channel blocks plus a ragged tail, in both forms
  }
  return out;
}

TEST(LongConv, DirectFftAndReferenceAgreeInFloat64) {
  for (const Shape& s : shapes()) {
    const Inputs in(s);
    const Outputs<double> ref = run_reference(s, in);
    const Outputs<double> direct = run_direct<double>(s, in);
    const Outputs<double> fft = run_fft<double>(s, in);
    expect_close(direct, ref, 1e-12, "direct vs reference, " + describe(s));
    expect_close(fft, direct, 1e-10, "fft vs direct, " + describe(s));
  }
}

// Float32: both forms against the float64 reference, error relative to the largest entry. Measured:
// FFT form <= 2.4e-7 for every L here (~ eps_float * log2(N) / 4), direct form up to 1.9e-6 at L=1024
// (a plain running sum of L products). The bound leaves a 5x margin over the worse of the two.
TEST(LongConv, DirectFftAndReferenceAgreeInFloat32) {
  for (const Shape& s : shapes()) {
    const Inputs in(s);
    const Outputs<double> ref = run_reference(s, in);
    expect_close(run_direct<float>(s, in), ref, 1e-5, "float direct vs reference, " + describe(s));
    expect_close(run_fft<float>(s, in), ref, 1e-5, "float fft vs reference, " + describe(s));
  }
}

// The gradients are those of loss = sum(dy * y): central differences of the forward in float64.
TEST(LongConv, BackwardMatchesFiniteDifferences) {
  for (const Shape& s : {Shape{2, 5, 3}, Shape{1, 17, 2}, Shape{2, 33, 1}}) {
    for (const LongConvMethod method : {LongConvMethod::direct, LongConvMethod::fft}) {
      const std::string what = describe(s) + (method == LongConvMethod::fft ? " fft" : " direct");
      Inputs in(s, 11);
      const LongConvPlan<double> plan(s.L, method);
      std::vector<double> scratch(std::max(plan.forward_scratch_size(s.C), plan.backward_scratch_size(s.C)));
      std::vector<double> y(in.x.size());
      const auto loss = [&] {
        long_conv_forward(plan, in.x.data(), in.h.data(), y.data(), s.B, s.L, s.C, scratch.data());
        return testing::dot(in.dy, y);
      };
      std::vector<double> dx(in.x.size()), dh(in.h.size());
      long_conv_backward(plan, in.x.data(), in.h.data(), in.dy.data(), dx.data(), dh.data(), s.B, s.L, s.C,
                         scratch.data());
      EXPECT_LE(relative_max_error(dx, testing::finite_difference_gradient(in.x, loss)), 1e-7) << what;
      EXPECT_LE(relative_max_error(dh, testing::finite_difference_gradient(in.h, loss)), 1e-7) << what;
    }
  }
}

// Backward adds into dx and dh: pre-filled with a constant, the result minus the constant equals the
// gradient computed from zero. Also: a null pointer skips exactly that gradient.
TEST(LongConv, BackwardAccumulatesAndSkipsNullGradients) {
  const Shape s{2, 100, 5};
  const Inputs in(s, 21);
  for (const LongConvMethod method : {LongConvMethod::direct, LongConvMethod::fft}) {
    const LongConvPlan<double> plan(s.L, method);
    std::vector<double> scratch(plan.backward_scratch_size(s.C));
    const auto backward = [&](double* dx, double* dh) {
      long_conv_backward(plan, in.x.data(), in.h.data(), in.dy.data(), dx, dh, s.B, s.L, s.C, scratch.data());
    };
    std::vector<double> dx0(in.x.size()), dh0(in.h.size());
    backward(dx0.data(), dh0.data());

    const double fill = 0.75;
    std::vector<double> dx(in.x.size(), fill), dh(in.h.size(), fill);
    backward(dx.data(), dh.data());
    for (double& v : dx) v -= fill;
    for (double& v : dh) v -= fill;
    EXPECT_LE(relative_max_error(dx, dx0), 1e-13);
    EXPECT_LE(relative_max_error(dh, dh0), 1e-13);

    std::vector<double> dx_only(in.x.size()), dh_only(in.h.size());
    backward(dx_only.data(), nullptr);
    backward(nullptr, dh_only.data());
    EXPECT_EQ(dx_only, dx0);
    EXPECT_EQ(dh_only, dh0);
    // Only what a gradient needs is read: x for dh, h for dx.
    std::vector<double> dx_no_x(in.x.size()), dh_no_h(in.h.size());
    long_conv_backward(plan, nullptr, in.h.data(), in.dy.data(), dx_no_x.data(), nullptr, s.B, s.L, s.C,
                       scratch.data());
    long_conv_backward(plan, in.x.data(), nullptr, in.dy.data(), nullptr, dh_no_h.data(), s.B, s.L, s.C,
                       scratch.data());
    EXPECT_EQ(dx_no_x, dx0);
    EXPECT_EQ(dh_no_h, dh0);
  }
}

TEST(LongConv, DispatcherPicksByLengthAndDoesNotAllocate) {
  // The measured choice (long_conv.h): float fft for L in [120, 128], [180, 256] and L >= 268;
  // double fft for L in [111, 128] and L >= 167.
  for (const std::size_t L : {1, 16, 64, 119, 129, 179, 257, 267})
    EXPECT_EQ(LongConvPlan<float>(L).method(), LongConvMethod::direct) << "float L=" << L;
  for (const std::size_t L : {120, 128, 180, 256, 268, 1024, 4096})
    EXPECT_EQ(LongConvPlan<float>(L).method(), LongConvMethod::fft) << "float L=" << L;
  for (const std::size_t L : {1, 16, 64, 110, 129, 166})
    EXPECT_EQ(LongConvPlan<double>(L).method(), LongConvMethod::direct) << "double L=" << L;
  for (const std::size_t L : {111, 128, 167, 256, 1024, 4096})
    EXPECT_EQ(LongConvPlan<double>(L).method(), LongConvMethod::fft) << "double L=" << L;
  EXPECT_EQ(LongConvPlan<float>(64).forward_scratch_size(64), 0u);
  EXPECT_EQ(LongConvPlan<float>(64).backward_scratch_size(64), 0u);

  for (const std::size_t L : {std::size_t{8}, std::size_t{256}}) {
    const Shape s{2, L, 4};
    const Inputs in(s);
    const LongConvPlan<double> plan(L);
    std::vector<double> scratch(std::max(plan.forward_scratch_size(s.C), plan.backward_scratch_size(s.C)));
    std::vector<double> y(in.x.size()), dx(in.x.size()), dh(in.h.size());
    const std::size_t before = allocation_count();
    long_conv_forward(plan, in.x.data(), in.h.data(), y.data(), s.B, s.L, s.C, scratch.data());
    long_conv_backward(plan, in.x.data(), in.h.data(), in.dy.data(), dx.data(), dh.data(), s.B, s.L, s.C,
                       scratch.data());
    EXPECT_EQ(allocation_count(), before) << "L=" << L;
    expect_close(Outputs<double>{y, dx, dh}, run_reference(s, in), 1e-10, "dispatcher " + describe(s));
  }
}

TEST(LongConv, RejectsMismatchedPlans) {
  const LongConvPlan<double> plan(64, LongConvMethod::fft);
  std::vector<double> buf(4 * 32 * 2), scratch(plan.forward_scratch_size(2));
  EXPECT_THROW(long_conv_forward(plan, buf.data(), buf.data(), buf.data(), 1, 32, 2, scratch.data()),
               std::invalid_argument);
  const RealFftPlan<double> small(64);  // L = 64 needs N = 128
  EXPECT_THROW(long_conv_fft_forward(small, buf.data(), buf.data(), buf.data(), 1, 64, 2, scratch.data()),
               std::invalid_argument);
}

}  // namespace
}  // namespace mad::kernels
