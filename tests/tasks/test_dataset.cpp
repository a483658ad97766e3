// Datasets: deterministic per seed, train then test from one stream, leakage detection.
#include <gtest/gtest.h>

#include <chrono>

#include "tasks/dataset.h"
#include "tasks/protocol_grid.h"

namespace mad::tasks {
namespace {

TaskSettings small(TaskId task, int64_t train = 64, int64_t test = 32) {
  TaskSettings s = protocol_grid(task).baseline;
  s.num_train_examples = train;
  s.num_test_examples = test;
  return s;
}

TEST(Dataset, SameSeedSameDataOtherSeedOtherData) {
  for (const TaskInfo& task : all_tasks()) {
    const TaskSettings s = small(task.id);
    const Dataset a = generate_dataset(s);
    const Dataset b = generate_dataset(s);
    EXPECT_EQ(a.train.inputs, b.train.inputs) << task.name;
    EXPECT_EQ(a.train.targets, b.train.targets) << task.name;
    EXPECT_EQ(a.test.inputs, b.test.inputs) << task.name;
    EXPECT_EQ(a.test.targets, b.test.targets) << task.name;
    TaskSettings other = s;
    other.seed = 7;
    EXPECT_NE(generate_dataset(other).train.inputs, a.train.inputs) << task.name;
  }
}

// Train sequences come first from the seeded stream, so a smaller train set is a prefix of a larger one,
// and the test set, drawn after the train set, depends on the train set's size.
TEST(Dataset, TrainThenTestFromOneStream) {
  for (const TaskInfo& task : all_tasks()) {
    const Dataset small_train = generate_dataset(small(task.id, 40));
    const Dataset large_train = generate_dataset(small(task.id, 64));
    const TokenMatrix& a = small_train.train.inputs;
    const TokenMatrix& b = large_train.train.inputs;
    EXPECT_TRUE(std::equal(a.data.begin(), a.data.end(), b.data.begin())) << task.name;
    EXPECT_NE(small_train.test.inputs, large_train.test.inputs) << task.name;
  }
}

TEST(Dataset, ShapesFollowTheTask) {
  const Dataset recall = generate_dataset(small(TaskId::InContextRecall, 5, 3));
  EXPECT_EQ(recall.train.inputs.rows, 5);
  EXPECT_EQ(recall.test.targets.rows, 3);
  EXPECT_EQ(recall.train.inputs.cols, 127);
  EXPECT_EQ(generate_dataset(small(TaskId::FuzzyInContextRecall, 5, 3)).train.inputs.cols, 128);
  EXPECT_EQ(generate_dataset(small(TaskId::SelectiveCopying, 5, 3)).test.targets.cols, 256);
}

TEST(Dataset, LeakageWarning) {
  // Compression with V=2, L=2 has a single possible sequence: every test input is in the train set.
  TaskSettings tiny = small(TaskId::Compression, 10, 10);
  tiny.vocab_size = 2;
  tiny.seq_len = 2;
  const Dataset leaky = generate_dataset(tiny);
  EXPECT_DOUBLE_EQ(test_inputs_in_train(leaky), 1.0);
  ASSERT_TRUE(leakage_warning(leaky).has_value());
  EXPECT_EQ(*leakage_warning(leaky),
            "possible data leakage: 100.00% of the distinct test inputs also occur in the train set");

  const Dataset baseline = generate_dataset(protocol_grid(TaskId::InContextRecall).baseline);
  EXPECT_EQ(test_inputs_in_train(baseline), 0.0);
  EXPECT_FALSE(leakage_warning(baseline).has_value());

  // 4 possible sequences: some but not all test inputs leak.
  TaskSettings few = small(TaskId::Compression, 2, 50);
  few.vocab_size = 3;
  few.seq_len = 3;
  const double fraction = test_inputs_in_train(generate_dataset(few));
  EXPECT_GT(fraction, 0.0);
  EXPECT_LE(fraction, 0.5);
}

// Not a timed assertion (timings vary by machine): the figure is recorded in the test's XML output.
TEST(Dataset, RecallBaselineGenerationTime) {
  const auto start = std::chrono::steady_clock::now();
  const Dataset data = generate_dataset(protocol_grid(TaskId::InContextRecall).baseline);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(data.train.inputs.rows + data.test.inputs.rows, 12800 + 1280);
  RecordProperty("seconds", std::to_string(seconds));
  std::printf("in-context-recall baseline (12800 + 1280 sequences): %.3f s\n", seconds);
}

}  // namespace
}  // namespace mad::tasks
