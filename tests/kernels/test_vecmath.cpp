// The vectorisable float exp/sigmoid/tanh against the C library, over their whole useful range.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/vecmath.h"

namespace mad::kernels {
namespace {

double rel_error(double ours, double exact) {
  return exact == 0 ? std::abs(ours) : std::abs(ours - exact) / std::abs(exact);
}

TEST(VecMath, ExpWithinThreeUlp) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.000731f) worst = std::max(worst, rel_error(exp_f32(x), std::exp(double(x))));
  EXPECT_LT(worst, 3.6e-7) << "max relative error";
  EXPECT_EQ(exp_f32(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(exp_f32(-100.0f), 0.0f);
  EXPECT_EQ(exp_f32(0.0f), 1.0f);
  EXPECT_TRUE(std::isfinite(exp_f32(1000.0f)));
}

TEST(VecMath, TanhAndSigmoid) {
  double worst_tanh = 0, worst_sigmoid = 0;
  for (float x = -20.0f; x <= 20.0f; x += 0.000377f) {
    worst_tanh = std::max(worst_tanh, rel_error(vtanh(x), std::tanh(double(x))));
    worst_sigmoid = std::max(worst_sigmoid, rel_error(vsigmoid(x), 1.0 / (1.0 + std::exp(-double(x)))));
  }
  EXPECT_LT(worst_tanh, 1e-6);
  EXPECT_LT(worst_sigmoid, 1e-6);
  EXPECT_EQ(vtanh(0.0f), 0.0f);
  EXPECT_LT(vsigmoid(-200.0f), 1e-30f);
  EXPECT_EQ(vsigmoid(200.0f), 1.0f);
}

}  // namespace
}  // namespace mad::kernels
