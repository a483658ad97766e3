// Every op of the op table passes a float64 gradient check; the table has no op without one; and the
// harness itself rejects wrong backward rules.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/gradcheck/op_cases.h"

namespace mad::testing {
namespace {

class OpGradient : public ::testing::TestWithParam<GradCase> {};

TEST_P(OpGradient, MatchesFiniteDifferences) {
  const GradCase& c = GetParam();
  const GradCheckResult r = gradcheck(c.fn, c.inputs, c.options);
  EXPECT_TRUE(r.ok) << c.name << ": max error " << r.max_abs_error << "\n" << r.report;
}

INSTANTIATE_TEST_SUITE_P(OpTable, OpGradient, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<GradCase>& info) {
                           std::string name;
                           for (char ch : info.param.name) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return name;
                         });

TEST(OpTableCoverage, EveryOpHasAGradientCheck) {
  std::set<OpId> covered;
  for (const GradCase& c : op_cases())
    for (OpId op : recorded_ops(c.fn, c.inputs)) covered.insert(op);
  for (int i = 0; i < kNumOps; ++i) {
    const auto op = static_cast<OpId>(i);
    EXPECT_TRUE(covered.count(op)) << "op '" << op_name(op) << "' is in the op table but no gradient check "
                                   << "exercises it: add a case to tests/gradcheck/op_cases.cpp";
  }
}

// A rule with the wrong derivative: sin's node given cos's backward (adds -sin(x) g, not cos(x) g).
TEST(GradcheckHarness, RejectsAWrongDerivative) {
  const GradFn wrong = [](Tape& tape, std::span<const Var> v) {
    Var y = sin(v[0]);
    if (tape.grad_enabled()) tape.set_backward(y, op_backward(OpId::cos));
    return y;
  };
  const GradCheckResult r = gradcheck(wrong, {randn({3, 4}, 1)});
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.max_abs_error, 1e-2);
  // The same function with the right rule passes, so the failure is the rule's fault.
  EXPECT_TRUE(gradcheck([](Tape&, std::span<const Var> v) { return sin(v[0]); }, {randn({3, 4}, 1)}).ok);
}

// A rule that overwrites instead of adding: correct values, but the pre-filled gradient is lost.
void overwriting_sin_backward(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  const double* x = tape.value(ix).data<double>();
  const double* g = tape.grad(n.output).data<double>();
  for (int64_t i = 0; i < gx.numel(); ++i) gx.data<double>()[i] = g[i] * std::cos(x[i]);
}

TEST(GradcheckHarness, RejectsABackwardThatOverwrites) {
  const GradFn overwriting = [](Tape& tape, std::span<const Var> v) {
    Var y = sin(v[0]);
    if (tape.grad_enabled()) tape.set_backward(y, &overwriting_sin_backward);
    return y;
  };
  EXPECT_FALSE(gradcheck(overwriting, {randn({3, 4}, 2)}).ok);
}

// Long convolution: the direct and FFT kernels agree, forward and backward, at lengths on both sides of
// the automatic switch.
TEST(LongConvKernels, DirectAndFftAgree) {
  for (int64_t T : {5, 64, 200}) {
    Tensor x = randn({2, T, 3}, 1), h = randn({T, 3}, 2), cot = randn({2, T, 3}, 3);
    Tensor out[2], gx[2], gh[2];
    int k = 0;
    for (ConvKernel kernel : {ConvKernel::direct, ConvKernel::fft}) {
      Tape tape;
      gx[k] = Tensor::zeros(x.shape(), DType::F64);
      gh[k] = Tensor::zeros(h.shape(), DType::F64);
      Var y = long_conv(tape.leaf(x, true, gx[k]), tape.leaf(h, true, gh[k]), kernel);
      out[k] = y.value().clone();
      tape.backward(y, cot);
      ++k;
    }
    for (auto* pair : {out, gx, gh})
      for (int64_t i = 0; i < pair[0].numel(); ++i) ASSERT_NEAR(pair[0].item(i), pair[1].item(i), 1e-9) << "T=" << T;
  }
}

}  // namespace
}  // namespace mad::testing
