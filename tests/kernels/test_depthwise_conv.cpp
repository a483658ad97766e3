// Depthwise causal conv: kernel == naive reference (float64, float32), backward == finite differences,
// backward accumulates, null gradients and bias, K longer than L, no allocation.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/depthwise_conv.h"
#include "kernels/reference/reference.h"

namespace mad::kernels {
namespace {

using testing::allocation_count;
using testing::cast_vector;
using testing::random_vector;
using testing::relative_max_error;

struct Shape {
  std::size_t B, L, C, K;
};

std::string describe(const Shape& s) {
  return "B=" + std::to_string(s.B) + " L=" + std::to_string(s.L) + " C=" + std::to_string(s.C) +
         " K=" + std::to_string(s.K);
}

struct Inputs {
  explicit Inputs(const Shape& s, std::uint64_t seed = 1)
      : x(random_vector<double>(s.B * s.L * s.C, seed)),
        w(random_vector<double>(s.C * s.K, seed + 1)),
        bias(random_vector<double>(s.C, seed + 2)),
        dy(random_vector<double>(s.B * s.L * s.C, seed + 3)) {}
  std::vector<double> x, w, bias, dy;
};

template <typename T>
struct Outputs {
  std::vector<T> y, dx, dw, db;
};

template <typename T>
Outputs<T> run_kernel(const Shape& s, const Inputs& in, bool with_bias) {
  const std::vector<T> x = cast_vector<T>(in.x), w = cast_vector<T>(in.w), bias = cast_vector<T>(in.bias),
                       dy = cast_vector<T>(in.dy);
  Outputs<T> out{std::vector<T>(x.size()), std::vector<T>(x.size()), std::vector<T>(w.size()),
                 std::vector<T>(s.C)};
  std::vector<T> scratch(std::max(depthwise_conv_forward_scratch_size(s.C, s.K),
                                  depthwise_conv_backward_scratch_size(s.C, s.K)));
  depthwise_conv_forward(x.data(), w.data(), with_bias ? bias.data() : nullptr, out.y.data(), s.B, s.L, s.C,
                         s.K, scratch.data());
  depthwise_conv_backward(x.data(), w.data(), dy.data(), out.dx.data(), out.dw.data(), out.db.data(), s.B,
                          s.L, s.C, s.K, scratch.data());
  return out;
}

Outputs<double> run_reference(const Shape& s, const Inputs& in, bool with_bias) {
  Outputs<double> out{std::vector<double>(in.x.size()), std::vector<double>(in.x.size()),
                      std::vector<double>(in.w.size()), std::vector<double>(s.C)};
  reference::depthwise_conv_forward(in.x.data(), in.w.data(), with_bias ? in.bias.data() : nullptr,
                                    out.y.data(), s.B, s.L, s.C, s.K);
  reference::depthwise_conv_backward(in.x.data(), in.w.data(), in.dy.data(), out.dx.data(), out.dw.data(),
                                     out.db.data(), s.B, s.L, s.C, s.K);
  return out;
}

template <typename A>
void expect_close(const Outputs<A>& got, const Outputs<double>& want, double tolerance,
                  const std::string& what) {
  EXPECT_LE(relative_max_error(got.y, want.y), tolerance) << what << ": y";
  EXPECT_LE(relative_max_error(got.dx, want.dx), tolerance) << what << ": dx";
  EXPECT_LE(relative_max_error(got.dw, want.dw), tolerance) << what << ": dw";
  EXPECT_LE(relative_max_error(got.db, want.db), tolerance) << what << ": db";
}

const std::vector<Shape> kShapes = {{1, 1, 1, 1},   {2, 7, 3, 3}, {3, 17, 8, 4},
                                    {2, 64, 5, 1},  {1, 3, 4, 6},  // K > L: most taps read padding
                                    {2, 100, 16, 7}};

TEST(DepthwiseConv, MatchesReferenceInFloat64AndFloat32) {
  for (const Shape& s : kShapes) {
    for (const bool with_bias : {true, false}) {
      const Inputs in(s);
      const Outputs<double> ref = run_reference(s, in, with_bias);
      const std::string what = describe(s) + (with_bias ? " bias" : " no bias");
      expect_close(run_kernel<double>(s, in, with_bias), ref, 1e-13, "float64 " + what);
      expect_close(run_kernel<float>(s, in, with_bias), ref, 2e-6, "float32 " + what);
    }
  }
}

TEST(DepthwiseConv, BackwardMatchesFiniteDifferences) {
  for (const Shape& s : {Shape{2, 6, 3, 4}, Shape{1, 2, 2, 3}, Shape{2, 9, 1, 1}}) {
    Inputs in(s, 5);
    std::vector<double> y(in.x.size()), scratch(depthwise_conv_backward_scratch_size(s.C, s.K));
    const auto loss = [&] {
      depthwise_conv_forward(in.x.data(), in.w.data(), in.bias.data(), y.data(), s.B, s.L, s.C, s.K,
                             scratch.data());
      return testing::dot(in.dy, y);
    };
    std::vector<double> dx(in.x.size()), dw(in.w.size()), db(s.C);
    depthwise_conv_backward(in.x.data(), in.w.data(), in.dy.data(), dx.data(), dw.data(), db.data(), s.B, s.L,
                            s.C, s.K, scratch.data());
    EXPECT_LE(relative_max_error(dx, testing::finite_difference_gradient(in.x, loss)), 1e-8) << describe(s);
    EXPECT_LE(relative_max_error(dw, testing::finite_difference_gradient(in.w, loss)), 1e-8) << describe(s);
    EXPECT_LE(relative_max_error(db, testing::finite_difference_gradient(in.bias, loss)), 1e-8)
        << describe(s);
  }
}

TEST(DepthwiseConv, BackwardAccumulatesSkipsNullsAndDoesNotAllocate) {
  const Shape s{3, 20, 6, 4};
  const Inputs in(s, 9);
  std::vector<double> scratch(depthwise_conv_backward_scratch_size(s.C, s.K));
  const auto backward = [&](double* dx, double* dw, double* db) {
    depthwise_conv_backward(in.x.data(), in.w.data(), in.dy.data(), dx, dw, db, s.B, s.L, s.C, s.K,
                            scratch.data());
  };
  std::vector<double> dx0(in.x.size()), dw0(in.w.size()), db0(s.C);
  backward(dx0.data(), dw0.data(), db0.data());

  const double fill = -1.25;
  std::vector<double> dx(in.x.size(), fill), dw(in.w.size(), fill), db(s.C, fill);
  const std::size_t before = allocation_count();
  backward(dx.data(), dw.data(), db.data());
  EXPECT_EQ(allocation_count(), before);
  for (std::vector<double>* g : {&dx, &dw, &db})
    for (double& v : *g) v -= fill;
  EXPECT_LE(relative_max_error(dx, dx0), 1e-14);
  EXPECT_LE(relative_max_error(dw, dw0), 1e-14);
  EXPECT_LE(relative_max_error(db, db0), 1e-14);

  std::vector<double> dx_only(in.x.size()), dw_only(in.w.size()), db_only(s.C);
  backward(dx_only.data(), nullptr, nullptr);
  backward(nullptr, dw_only.data(), nullptr);
  backward(nullptr, nullptr, db_only.data());
  EXPECT_EQ(dx_only, dx0);
  EXPECT_EQ(dw_only, dw0);
  EXPECT_EQ(db_only, db0);
  // Only what a gradient needs is read: w for dx, x for dw, neither for db.
  std::vector<double> dx_no_x(in.x.size()), dw_no_w(in.w.size()), db_alone(s.C);
  depthwise_conv_backward(nullptr, in.w.data(), in.dy.data(), dx_no_x.data(), nullptr, nullptr, s.B, s.L, s.C,
                          s.K, scratch.data());
  depthwise_conv_backward(in.x.data(), nullptr, in.dy.data(), nullptr, dw_no_w.data(), nullptr, s.B, s.L, s.C,
                          s.K, scratch.data());
  depthwise_conv_backward(nullptr, nullptr, in.dy.data(), nullptr, nullptr, db_alone.data(), s.B, s.L, s.C,
                          s.K, nullptr);
  EXPECT_EQ(dx_no_x, dx0);
  EXPECT_EQ(dw_no_w, dw0);
  EXPECT_EQ(db_alone, db0);
}

}  // namespace
}  // namespace mad::kernels
