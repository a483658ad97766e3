// Autograd semantics: accumulation, no-grad mode, reverse order, error messages of ops.
#include <gtest/gtest.h>

#include "core/ops.h"

namespace mad {
namespace {

TEST(Tape, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = Tensor::from<double>({2}, {1.0, 2.0});
  Tensor gx = Tensor::zeros({2}, DType::F64);
  for (int round = 1; round <= 2; ++round) {
    Tape tape;
    Var v = tape.leaf(x, true, gx);
    tape.backward(sum_all(v * v));  // d/dx sum x^2 = 2x
    EXPECT_DOUBLE_EQ(gx.item(0), 2.0 * round);
    EXPECT_DOUBLE_EQ(gx.item(1), 4.0 * round);
  }
}

TEST(Tape, NoGradRecordsNothing) {
  Tape tape;
  Var x = tape.leaf(Tensor::from<float>({2}, {1, 2}), true);
  {
    NoGradGuard guard(tape);
    Var y = exp(x) * x;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_NEAR(y.value().item(1), 2 * std::exp(2.0), 1e-5);
  }
  EXPECT_TRUE(tape.nodes().empty());
  EXPECT_TRUE(tape.grad_enabled());
  Var z = sum_all(x);
  EXPECT_EQ(tape.nodes().size(), 2u);  // reshape + sum
  EXPECT_TRUE(z.requires_grad());
}

// A profile attached to a tape counts every recorded op and every backward rule run, by op kind; counts,
// not times, are asserted (tests never assert on wall time).
TEST(Tape, ProfileCountsOpsByKind) {
  OpProfile profile;
  Tape tape;
  tape.set_profile(&profile);
  Var x = tape.leaf(Tensor::from<double>({2}, {1, 2}), true);
  Var y = exp(x) * x + x;
  tape.backward(sum_all(y));
  auto at = [](OpId op) { return static_cast<size_t>(op); };
  EXPECT_EQ(profile.forward_calls[at(OpId::exp)], 1);
  EXPECT_EQ(profile.forward_calls[at(OpId::mul)], 1);
  EXPECT_EQ(profile.forward_calls[at(OpId::add)], 1);
  EXPECT_EQ(profile.backward_calls[at(OpId::exp)], 1);
  EXPECT_EQ(profile.backward_calls[at(OpId::mul)], 1);
  EXPECT_EQ(profile.forward_calls[at(OpId::matmul)], 0);
  for (double s : profile.forward_seconds) EXPECT_GE(s, 0.0);
  // Detached: nothing more is counted.
  tape.set_profile(nullptr);
  exp(x);
  EXPECT_EQ(profile.forward_calls[at(OpId::exp)], 1);
}

TEST(Tape, ConstantsGetNoGradient) {
  Tape tape;
  Var x = tape.leaf(Tensor::from<double>({2}, {1, 2}), true);
  Var c = tape.constant(Tensor::from<double>({2}, {3, 4}));
  tape.backward(sum_all(x * c));
  EXPECT_FALSE(c.grad().defined());
  EXPECT_DOUBLE_EQ(x.grad().item(0), 3);
  EXPECT_DOUBLE_EQ(x.grad().item(1), 4);
}

TEST(Tape, BackwardNeedsAScalarOrASeed) {
  Tape tape;
  Var x = tape.leaf(Tensor::from<double>({2}, {1, 2}), true);
  Var y = x * 2.0;
  EXPECT_THROW(tape.backward(y), Error);
  tape.backward(y, Tensor::from<double>({2}, {1, 10}));
  EXPECT_DOUBLE_EQ(x.grad().item(1), 20);
}

TEST(Tape, ResetForgetsEverything) {
  Tape tape;
  Var x = tape.leaf(Tensor::from<double>({2}, {1, 2}), true);
  tape.backward(sum_all(x));
  tape.reset();
  EXPECT_EQ(tape.num_values(), 0u);
  EXPECT_TRUE(tape.nodes().empty());
}

// Errors name the op, both shapes and the likely fix.
TEST(OpErrors, MatmulShapeMismatchNamesBothShapes) {
  Tape tape;
  Var a = tape.leaf(Tensor::zeros({2, 3}), false), b = tape.leaf(Tensor::zeros({4, 5}), false);
  try {
    matmul(a, b);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("matmul"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
    EXPECT_NE(m.find("transpose"), std::string::npos) << m;
  }
}

TEST(OpErrors, InvalidArgumentsAreRejected) {
  Tape tape;
  Var x = tape.leaf(Tensor::zeros({2, 6}), false);
  EXPECT_THROW(x + tape.leaf(Tensor::zeros({5}), false), Error);
  EXPECT_THROW(x + tape.leaf(Tensor::zeros({6}, DType::F64), false), Error);
  EXPECT_THROW(rms_norm(x, Var(), 1e-5, 4), Error);     // 6 does not split into 4 groups
  EXPECT_THROW(slice(x, 1, 4, 8), Error);
  EXPECT_THROW(reshape(x, {5, -1}), Error);
  EXPECT_THROW(topk_mask(x, 7, 0.0), Error);
  EXPECT_THROW(cross_entropy(x, Tensor::from<int32_t>({2}, {0, 6})), Error);  // target outside [0, 6)
  EXPECT_THROW(embedding(x, Tensor::from<int32_t>({1}, {2})), Error);         // id 2 outside [0, 2)
  EXPECT_THROW(permute(x, {0, 0}), Error);
  EXPECT_THROW(dropout(x, 1.0, 1), Error);
}

TEST(Ops, ForwardValuesOnKnownInputs) {
  Tape tape;
  Var a = tape.leaf(Tensor::from<double>({2, 2}, {1, 2, 3, 4}), false);
  Var b = tape.leaf(Tensor::from<double>({2, 2}, {5, 6, 7, 8}), false);
  const Tensor& c = matmul(a, b).value();
  EXPECT_EQ(c.to_vector<double>(), (std::vector<double>{19, 22, 43, 50}));
  const Tensor& ct = matmul(a, b, true, true).value();  // a^T b^T = (b a)^T
  EXPECT_EQ(ct.to_vector<double>(), (std::vector<double>{23, 31, 34, 46}));
  EXPECT_EQ(cumsum(a, 1).value().to_vector<double>(), (std::vector<double>{1, 3, 3, 7}));
  EXPECT_EQ(cumsum(a, 0, true).value().to_vector<double>(), (std::vector<double>{4, 6, 3, 4}));
  EXPECT_EQ(topk_mask(a, 1, -1.0).value().to_vector<double>(), (std::vector<double>{-1, 2, -1, 4}));
  const Tensor& sm = softmax(a).value();
  EXPECT_NEAR(sm.item(1), 1 / (1 + std::exp(-1.0)), 1e-12);
  const Tensor& m = causal_mask(a, 0.0).value();
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{1, 0, 3, 4}));
  // cross-entropy of uniform logits is log(V); ignored rows do not count.
  Var logits = tape.leaf(Tensor::zeros({3, 4}, DType::F64), false);
  EXPECT_NEAR(cross_entropy(logits, Tensor::from<int32_t>({3}, {1, -100, 3})).value().item(), std::log(4.0), 1e-12);
  // depthwise conv: kernel [0, 1] is the identity, [1, 0] a one-step delay.
  Var x = tape.leaf(Tensor::from<double>({1, 3, 1}, {1, 2, 3}), false);
  Var delay = tape.leaf(Tensor::from<double>({1, 2}, {1, 0}), false);
  EXPECT_EQ(depthwise_conv1d(x, delay, Var()).value().to_vector<double>(), (std::vector<double>{0, 1, 2}));
  // long conv with h = [1, 1, 1] is a running sum.
  Var h = tape.leaf(Tensor::from<double>({3, 1}, {1, 1, 1}), false);
  EXPECT_EQ(long_conv(x, h).value().to_vector<double>(), (std::vector<double>{1, 3, 6}));
}

}  // namespace
}  // namespace mad
