// The MAD accuracy against hand-computed cases, the epoch weighting and the learning-rate schedule.
#include <gtest/gtest.h>

#include <cmath>

#include "training/metrics.h"
#include "training/schedule.h"

namespace mad {
namespace {

// One-hot logits over V classes for the given predictions.
Tensor logits_for(std::initializer_list<int> predictions, int64_t V) {
  Tensor t = Tensor::zeros({static_cast<int64_t>(predictions.size()), V}, DType::F32);
  int64_t i = 0;
  for (int p : predictions) t.data<float>()[i++ * V + p] = 1.0f;
  return t;
}

TEST(MadAccuracy, MacroRecallOverPresentClasses) {
  std::vector<int64_t> scratch;
  // targets 0 0 1 1 (one ignored position); predictions 0 1 1 1.
  // class 0: recall 1/2, class 1: recall 2/2 -> macro 0.75; micro 3/4.
  const std::vector<int32_t> targets = {0, 0, 1, -100, 1};
  const BatchAccuracy a = batch_accuracy(logits_for({0, 1, 1, 3, 1}, 4), targets, scratch);
  EXPECT_DOUBLE_EQ(a.mad, 0.75);
  EXPECT_DOUBLE_EQ(a.token, 0.75);
  EXPECT_EQ(a.labelled, 4);
}

TEST(MadAccuracy, AClassPredictedButNeverATargetCountsAsZero) {
  std::vector<int64_t> scratch;
  // targets 2 2 2; predictions 2 2 3: class 2 recall 2/3, class 3 (only predicted) 0 -> macro 1/3.
  const std::vector<int32_t> targets = {2, 2, 2};
  const BatchAccuracy a = batch_accuracy(logits_for({2, 2, 3}, 5), targets, scratch);
  EXPECT_DOUBLE_EQ(a.mad, (2.0 / 3.0 + 0.0) / 2.0);
  EXPECT_DOUBLE_EQ(a.token, 2.0 / 3.0);
}

TEST(MadAccuracy, ArgmaxTakesTheFirstMaximum) {
  std::vector<int64_t> scratch;
  Tensor tie = Tensor::zeros({1, 3}, DType::F32);  // all equal: argmax is class 0
  const std::vector<int32_t> t0 = {0}, t1 = {1};
  EXPECT_DOUBLE_EQ(batch_accuracy(tie, t0, scratch).mad, 1.0);
  EXPECT_DOUBLE_EQ(batch_accuracy(tie, t1, scratch).mad, 0.0);
}

TEST(EpochAccumulator, WeightsBatchesBySize) {
  EpochAccumulator acc;
  acc.add(3, 1.0, {0.5, 0.25, 1});
  acc.add(1, 2.0, {1.0, 1.0, 1});
  const SplitMetrics m = acc.result();
  EXPECT_DOUBLE_EQ(m.loss, (3 * 1.0 + 2.0) / 4);
  EXPECT_DOUBLE_EQ(m.acc, (3 * 0.5 + 1.0) / 4);
  EXPECT_DOUBLE_EQ(m.token_acc, (3 * 0.25 + 1.0) / 4);
  EXPECT_DOUBLE_EQ(m.ppl, (3 * std::exp(1.0) + std::exp(2.0)) / 4);
}

TEST(Schedule, CosineFromLrToMinLr) {
  EXPECT_DOUBLE_EQ(cosine_lr(1e-3, 1e-6, 0, 200), 1e-3);
  EXPECT_NEAR(cosine_lr(1e-3, 1e-6, 100, 200), (1e-3 + 1e-6) / 2, 1e-15);
  EXPECT_NEAR(cosine_lr(1e-3, 1e-6, 200, 200), 1e-6, 1e-15);
  EXPECT_LT(cosine_lr(1e-3, 1e-6, 199, 200), 1e-5);
}

}  // namespace
}  // namespace mad
