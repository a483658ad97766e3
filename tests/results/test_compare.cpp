// `mad compare`'s library side: two architectures' setting, task and overall scores side by side with
// their differences B - A, checked against the hand computation of results_test_util.h's example.
#include <gtest/gtest.h>

#include "results/compare.h"
#include "results/results_db.h"
#include "results/scores.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::error_of;
using testing::make_run;
using testing::record_example;
using testing::SampleRun;
using testing::TempDir;

const std::string kRecall = testing::kRecall;
const std::string kCompression = testing::kCompression;
const ScoreOptions kExpected{{{kRecall, 2}, {kCompression, 2}}};

ScoreTable example_table(const std::string& name) {
  TempDir dir(name);
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  record_example(db);
  return mad_scores(db.runs(), kExpected);
}

TEST(Compare, DeltasMatchTheHandComputation) {
  const Comparison c = compare_architectures(example_table("compare_hand"), "A", "B");
  EXPECT_EQ(c.a, "A");
  EXPECT_EQ(c.b, "B");
  EXPECT_EQ(c.a_hash.size(), 64u);

  // Settings: recall V16 (A 0.7, B 0.3), recall V32 (A 0.6; B has only a running run), compression (A 0.8,
  // B 0.9; one setting, so no axis to name it by).
  ASSERT_EQ(c.settings.size(), 3u);
  EXPECT_EQ(c.settings[0].task, kRecall);
  EXPECT_EQ(c.settings[0].name, "vocab_size=16");
  EXPECT_NEAR(*c.settings[0].a, 0.7, 1e-15);
  EXPECT_NEAR(*c.settings[0].b, 0.3, 1e-15);
  EXPECT_NEAR(*c.settings[0].delta, -0.4, 1e-15);
  EXPECT_EQ(c.settings[1].name, "vocab_size=32");
  EXPECT_NEAR(*c.settings[1].a, 0.6, 1e-15);
  EXPECT_FALSE(c.settings[1].b);
  EXPECT_FALSE(c.settings[1].delta);
  EXPECT_EQ(c.settings[2].task, kCompression);
  EXPECT_EQ(c.settings[2].name, "one setting");
  EXPECT_NEAR(*c.settings[2].delta, 0.1, 1e-15);

  // Tasks, then overall: recall 0.65 vs 0.3, compression 0.8 vs 0.9, mean 0.725 vs 0.6.
  ASSERT_EQ(c.tasks.size(), 3u);
  EXPECT_EQ(c.tasks[0].task, kRecall);
  EXPECT_NEAR(*c.tasks[0].delta, 0.3 - 0.65, 1e-15);
  EXPECT_FALSE(c.tasks[0].a_incomplete);
  EXPECT_TRUE(c.tasks[0].b_incomplete);
  EXPECT_NEAR(*c.tasks[1].delta, 0.9 - 0.8, 1e-15);
  EXPECT_EQ(c.tasks[2].task, kOverallTask);
  EXPECT_NEAR(*c.tasks[2].a, 0.725, 1e-15);
  EXPECT_NEAR(*c.tasks[2].b, 0.6, 1e-15);
  EXPECT_NEAR(*c.tasks[2].delta, -0.125, 1e-15);
}

TEST(Compare, SwappingTheArchitecturesNegatesTheDeltas) {
  const ScoreTable table = example_table("compare_swap");
  const Comparison ab = compare_architectures(table, "A", "B");
  const Comparison ba = compare_architectures(table, "B", "A");
  ASSERT_EQ(ab.settings.size(), ba.settings.size());
  for (size_t i = 0; i < ab.settings.size(); ++i) {
    EXPECT_EQ(ab.settings[i].delta.has_value(), ba.settings[i].delta.has_value());
    if (ab.settings[i].delta) {
      EXPECT_EQ(*ab.settings[i].delta, -*ba.settings[i].delta);
    }
  }
  for (size_t i = 0; i < ab.tasks.size(); ++i) EXPECT_EQ(*ab.tasks[i].delta, -*ba.tasks[i].delta);
}

TEST(Compare, FindsAnArchitectureByHashPrefix) {
  const ScoreTable table = example_table("compare_hash");
  const std::string hash_b = table.find("B", kOverallTask)->architecture_hash;
  EXPECT_EQ(find_architecture(table, hash_b.substr(0, 6)), "B");
  EXPECT_EQ(compare_architectures(table, "A", hash_b.substr(0, 10)).b, "B");
}

TEST(Compare, AnUnknownArchitectureListsTheArchitectures) {
  const ScoreTable table = example_table("compare_unknown");
  const std::string message = error_of([&] { compare_architectures(table, "A", "mamba"); });
  EXPECT_NE(message.find("no architecture 'mamba'; the architectures: A, B"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_NE(error_of([&] { find_architecture(ScoreTable{}, "A"); }).find("no scored runs"), std::string::npos);
}

TEST(Compare, ANameSharedByTwoArchitecturesIsAmbiguous) {
  TempDir dir("compare_shared");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  RunRecord one = make_run({.architecture = "net", .test_acc = 0.5});
  RunRecord two = make_run({.architecture = "net", .test_acc = 0.8});
  two.architecture.spec.set("dim", config::Value(256));  // another spec under the same name
  db.record_run(one);
  db.record_run(two);
  const ScoreTable table = mad_scores(db.runs());
  ASSERT_EQ(table.architectures.size(), 2u);
  const std::string message = error_of([&] { find_architecture(table, "net"); });
  EXPECT_NE(message.find("'net' names 2 architectures: net ["), std::string::npos) << message;
  const Comparison c = compare_architectures(table, table.architectures[0], table.architectures[1]);
  EXPECT_NEAR(*c.tasks.back().delta, *c.tasks.back().b - *c.tasks.back().a, 1e-15);
  EXPECT_NEAR(std::abs(*c.tasks.back().delta), 0.3, 1e-15);
}

TEST(Compare, SeveralSeedsGiveAPairedIntervalOfBMinusA) {
  // results_test_util.h's seeds example.
  TempDir dir("compare_seeds");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  testing::record_seed_example(db);
  const ScoreTable table = mad_scores(db.runs());
  const Comparison ab = compare_architectures(table, "A", "B");
  ASSERT_EQ(ab.settings.size(), 1u);
  EXPECT_EQ(ab.settings[0].paired.stats.n, 4);
  EXPECT_NEAR(*ab.settings[0].paired.stats.mean, 0.5, 1e-12);
  EXPECT_NEAR(*ab.settings[0].paired.stats.ci_low, 0.3, 1e-12);
  EXPECT_NEAR(*ab.settings[0].paired.stats.ci_high, 0.7, 1e-12);
  EXPECT_TRUE(ab.settings[0].paired.excludes_zero);
  EXPECT_TRUE(ab.tasks.back().paired.excludes_zero);  // overall
  const Comparison ac = compare_architectures(table, "A", "C");
  EXPECT_NEAR(*ac.tasks.back().paired.stats.ci_low, -0.1, 1e-12);
  EXPECT_FALSE(ac.tasks.back().paired.excludes_zero);
}

}  // namespace
}  // namespace mad::results
