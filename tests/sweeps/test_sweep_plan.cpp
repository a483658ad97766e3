// Plans: run keys are deterministic, unique, and the results store's keys of the same runs; shards
// partition the plan; cost estimates grow with the work.
#include <gtest/gtest.h>

#include <set>

#include "config/yaml.h"
#include "results/run_key.h"
#include "tests/support/test_util.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/train_run.h"

namespace mad::sweeps {
namespace {

SweepSpec two_architectures() {
  return sweep_from_config(config::load_string("name: s\narchitectures: {a: [mh-attention, swiglu], b: [swiglu]}\n"
                                               "tasks: [in-context-recall, compression]\n",
                                               "spec.yml"),
                           ".");
}

TEST(SweepPlan, KeysAreUniqueDeterministicAndTheStoresKeys) {
  const SweepSpec spec = two_architectures();
  const std::vector<PlannedRun> runs = plan_sweep(spec);
  ASSERT_EQ(runs.size(), 2u * (11 + 11) * 3 * 2);
  std::set<std::string> keys;
  for (const PlannedRun& r : runs) keys.insert(r.key);
  EXPECT_EQ(keys.size(), runs.size());
  EXPECT_EQ(plan_sweep(two_architectures())[17].key, runs[17].key);
  // The key the store computes from the record of the run is the plan's key.
  EXPECT_EQ(results::run_key(planned_record(spec, runs[5], 1)), runs[5].key);
}

TEST(SweepPlan, ArchitectureIsInnermostSoPartialSweepsCompare) {
  const std::vector<PlannedRun> runs = plan_sweep(two_architectures());
  EXPECT_EQ(runs[0].architecture, 0u);
  EXPECT_EQ(runs[1].architecture, 1u);
  EXPECT_EQ(runs[0].settings, runs[1].settings);
  EXPECT_EQ(runs[0].training.lr, runs[1].training.lr);
}

TEST(SweepPlan, ShardsPartitionThePlan) {
  const std::vector<PlannedRun> runs = plan_sweep(two_architectures());
  std::multiset<std::string> seen;
  for (int i = 1; i <= 5; ++i) {
    const auto shard = shard_of(runs, parse_shard(std::to_string(i) + "/5"));
    EXPECT_NEAR(static_cast<double>(shard.size()), runs.size() / 5.0, 1.0);
    for (const PlannedRun& r : shard) seen.insert(r.key);
  }
  EXPECT_EQ(seen.size(), runs.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), runs.size());
  for (const char* bad : {"0/3", "4/3", "1/0", "2", "a/b", "1/3x"})
    EXPECT_NE(testing::error_of([&] { parse_shard(bad); }).find("--shard"), std::string::npos) << bad;
}

TEST(SweepPlan, CostGrowsWithSequenceLengthAndModel) {
  const std::vector<PlannedRun> runs = plan_sweep(two_architectures());
  // Run 0 and 1: the same setting with attention + swiglu vs swiglu alone.
  EXPECT_GT(runs[0].flops, runs[1].flops);
  double baseline = 0, longest = 0;
  for (const PlannedRun& r : runs) {
    if (r.architecture != 0 || r.settings.task != tasks::TaskId::InContextRecall) continue;
    if (r.settings.seq_len == 128 && r.settings.num_train_examples == 12800 && r.settings.vocab_size == 16) baseline = r.flops;
    if (r.settings.seq_len == 1024) longest = r.flops;
  }
  EXPECT_GT(longest, 8 * baseline);  // 8x the tokens, and attention grows with L
  EXPECT_GT(estimated_seconds(baseline, 1), estimated_seconds(baseline, 2));
}

TEST(SweepPlan, DescriptionIsTheSettingsShape) {
  const SweepSpec spec = two_architectures();
  const models::ArchDescription d = describe_at(spec.architectures[0].spec, spec.settings[0]);
  // layers + their two RMSNorms + the unembedding RMSNorm and Linear(128, 16) with bias.
  EXPECT_EQ(d.params, 66048 + 135168 + 2 * 128 + 128 + 128 * 16 + 16);
  EXPECT_FALSE(d.fixed_state);
  EXPECT_EQ(d.seq_len, 127);  // in-context recall's inputs are the shifted sequence
  EXPECT_EQ(d.vocab_size, 16);
}

}  // namespace
}  // namespace mad::sweeps
