// Statistics over seeds against hand computations: the mean, sample standard deviation and bootstrap
// interval of small examples whose bootstrap distributions can be worked out exactly; the paired
// difference; and MAD scores with several seeds (mean, max) and with one (exactly the single-seed score).
#include <gtest/gtest.h>

#include <cmath>

#include "results/results_db.h"
#include "results/scores.h"
#include "results/seed_stats.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::make_run;
using testing::SampleRun;
using testing::TempDir;

// {0.2, 0.4, 0.6, 0.8} = 0.2 x {1, 2, 3, 4}: mean 0.5; sample std sqrt((0.09 + 0.01 + 0.01 + 0.09) / 3).
// A resample is four draws k1..k4 from {1, 2, 3, 4}, its mean 0.05 x (k1 + k2 + k3 + k4). P(sum <= 5) =
// 5/256 = 2.0% and P(sum <= 6) = 15/256 = 5.9%, so the 2.5% quantile is the mean of a sum of 6, 0.3
// (10,000 resamples put 2.0% +- 0.14% below it); by symmetry the 97.5% quantile is 0.7.
TEST(SeedStats, MeanStdAndBootstrapIntervalOfAHandWorkedExample) {
  const std::vector<double> values{0.2, 0.4, 0.6, 0.8};
  const SeedStats s = seed_stats(values);
  EXPECT_EQ(s.n, 4);
  EXPECT_NEAR(*s.mean, 0.5, 1e-15);
  EXPECT_NEAR(*s.std, std::sqrt(0.2 / 3), 1e-15);
  EXPECT_NEAR(*s.ci_low, 0.3, 1e-12);
  EXPECT_NEAR(*s.ci_high, 0.7, 1e-12);
  // Two values: a resample is both of one (1/4 each) or one of each (1/2): the interval is [min, max].
  const std::vector<double> two{0.4, 0.6};
  const SeedStats t = seed_stats(two);
  EXPECT_NEAR(*t.ci_low, 0.4, 1e-15);
  EXPECT_NEAR(*t.ci_high, 0.6, 1e-15);
  EXPECT_NEAR(*t.std, std::sqrt(0.02), 1e-15);
}

TEST(SeedStats, OneValueHasNoSpreadAndTheSameValuesGiveTheSameInterval) {
  const std::vector<double> one{0.7};
  const SeedStats s = seed_stats(one);
  EXPECT_EQ(s.n, 1);
  EXPECT_EQ(*s.mean, 0.7);
  EXPECT_FALSE(s.std);
  EXPECT_FALSE(s.ci_low);
  EXPECT_FALSE(seed_stats(std::vector<double>{}).mean);
  const std::vector<double> values{0.31, 0.52, 0.47, 0.66, 0.12, 0.9, 0.45};
  const SeedStats a = seed_stats(values), b = seed_stats(values);
  EXPECT_EQ(*a.ci_low, *b.ci_low);
  EXPECT_EQ(*a.ci_high, *b.ci_high);
  EXPECT_LT(*a.ci_low, *a.mean);
  EXPECT_GT(*a.ci_high, *a.mean);
}

TEST(SeedStats, PairedDifferences) {
  const std::vector<double> a{0.5, 0.6, 0.7, 0.8};
  // b - a = {0.2, 0.4, 0.6, 0.8}: the example above, clear of 0.
  const std::vector<double> b{0.7, 1.0, 1.3, 1.6};
  const PairedDifference d = paired_difference(a, b);
  EXPECT_NEAR(*d.stats.mean, 0.5, 1e-12);
  EXPECT_NEAR(*d.stats.ci_low, 0.3, 1e-12);
  EXPECT_NEAR(*d.stats.ci_high, 0.7, 1e-12);
  EXPECT_TRUE(d.excludes_zero);
  // b - a = {-0.1, 0.1, -0.1, 0.1}: P(all four draws -0.1) = 1/16 > 2.5%, so the interval is [-0.1, 0.1].
  const std::vector<double> c{0.4, 0.7, 0.6, 0.9};
  const PairedDifference e = paired_difference(a, c);
  EXPECT_NEAR(*e.stats.ci_low, -0.1, 1e-12);
  EXPECT_NEAR(*e.stats.ci_high, 0.1, 1e-12);
  EXPECT_FALSE(e.excludes_zero);
  EXPECT_FALSE(paired_difference(std::vector<double>{0.1}, std::vector<double>{0.9}).excludes_zero);  // one seed
}

// Architecture A on two settings with seeds 1-4 and two learning rates each:
//   recall V16:  best per seed 0.2, 0.4, 0.6, 0.8 (the other lr 0.1 lower); compression: 0.5 for every seed.
//   recall task score: mean 0.5, std sqrt(0.2/3), interval [0.3, 0.7] (the example above);
//   overall per seed: (0.2 + 0.5) / 2 = 0.35, 0.45, 0.55, 0.65: mean 0.5, interval [0.4, 0.6];
//   --stat max: recall 0.8, compression 0.5, overall 0.65.
void record_seeds(ResultsDb& db) {
  const double recall[] = {0.2, 0.4, 0.6, 0.8};
  for (int64_t seed = 1; seed <= 4; ++seed) {
    for (double lr : {1e-4, 1e-3}) {
      const double drop = lr == 1e-3 ? 0.0 : 0.1;
      db.record_run(make_run({.architecture = "A", .lr = lr, .test_acc = recall[seed - 1] - drop, .seed = seed}));
      db.record_run(make_run({.architecture = "A", .task = testing::kCompression, .lr = lr, .test_acc = 0.5 - drop,
                              .seed = seed}));
    }
  }
}

TEST(SeedScores, MeanOverSeedsWithTheirStatistics) {
  TempDir dir("seed_scores");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  record_seeds(db);
  const ScoreTable table = mad_scores(db.runs());
  const TaskScore* recall = table.find("A", testing::kRecall);
  ASSERT_TRUE(recall && recall->score);
  EXPECT_NEAR(*recall->score, 0.5, 1e-15);
  EXPECT_EQ(recall->seeds.n, 4);
  EXPECT_NEAR(*recall->seeds.std, std::sqrt(0.2 / 3), 1e-15);
  EXPECT_NEAR(*recall->seeds.ci_low, 0.3, 1e-12);
  EXPECT_NEAR(*recall->seeds.ci_high, 0.7, 1e-12);
  EXPECT_EQ(recall->settings, 1);  // one setting, four seeds
  EXPECT_EQ(recall->runs, 8);
  EXPECT_FALSE(recall->incomplete);
  const TaskScore* overall = table.find("A", kOverallTask);
  EXPECT_NEAR(*overall->score, 0.5, 1e-15);
  EXPECT_NEAR(overall->per_seed.at(1), 0.35, 1e-15);
  EXPECT_NEAR(*overall->seeds.ci_low, 0.4, 1e-12);
  EXPECT_NEAR(*overall->seeds.ci_high, 0.6, 1e-12);
  // One row per setting (not per seed), its settings without the seed.
  ASSERT_EQ(table.settings.size(), 2u);
  EXPECT_FALSE(table.settings[0].settings.contains("seed"));
  EXPECT_EQ(table.settings[0].per_seed.size(), 4u);
  EXPECT_EQ(table.settings[0].lr, 1e-3);

  ScoreOptions max;
  max.stat = ScoreOptions::Stat::max;
  const ScoreTable best = mad_scores(db.runs(), max);
  EXPECT_NEAR(*best.find("A", testing::kRecall)->score, 0.8, 1e-15);
  EXPECT_NEAR(*best.find("A", testing::kCompression)->score, 0.5, 1e-15);
  EXPECT_NEAR(*best.find("A", kOverallTask)->score, 0.65, 1e-15);
}

TEST(SeedScores, ASeedMissingASettingMakesTheCellIncomplete) {
  TempDir dir("seed_unbalanced");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.architecture = "A", .test_acc = 0.5, .seed = 1}));
  db.record_run(make_run({.architecture = "A", .vocab_size = 32, .test_acc = 0.7, .seed = 1}));
  db.record_run(make_run({.architecture = "A", .test_acc = 0.6, .seed = 2}));
  const ScoreTable table = mad_scores(db.runs());
  const TaskScore* cell = table.find("A", testing::kRecall);
  EXPECT_TRUE(cell->incomplete);
  EXPECT_NEAR(cell->per_seed.at(1), 0.6, 1e-15);
  EXPECT_NEAR(cell->per_seed.at(2), 0.6, 1e-15);
}

TEST(SeedScores, OneSeedGivesExactlyTheSingleSeedScores) {
  // The scores example of results_test_util.h, whose hand computation test_scores.cpp checks, once as it
  // is and once with its seed written into the settings as a sweep writes it: the same numbers, bit for
  // bit, under either statistic.
  TempDir dir("seed_one");
  ResultsDb plain = ResultsDb::open(dir.file("plain.db"));
  testing::record_example(plain);
  ResultsDb seeded = ResultsDb::open(dir.file("seeded.db"));
  for (StoredRun r : plain.runs()) {
    r.run.task_settings.set("seed", config::Value(int64_t{12345}));
    r.run.epochs = plain.epochs(r.key);
    seeded.record_run(r.run);
  }
  const ScoreTable a = mad_scores(plain.runs());
  for (ScoreOptions::Stat stat : {ScoreOptions::Stat::mean, ScoreOptions::Stat::max}) {
    ScoreOptions o;
    o.stat = stat;
    const ScoreTable b = mad_scores(seeded.runs(), o);
    ASSERT_EQ(a.cells.size(), b.cells.size());
    for (size_t i = 0; i < a.cells.size(); ++i) {
      EXPECT_EQ(a.cells[i].score.has_value(), b.cells[i].score.has_value());
      if (a.cells[i].score) {
        EXPECT_EQ(*a.cells[i].score, *b.cells[i].score) << a.cells[i].architecture << " " << a.cells[i].task;
      }
      EXPECT_EQ(b.cells[i].seeds.n, b.cells[i].score ? 1 : 0);
      EXPECT_FALSE(b.cells[i].seeds.ci_low);
      EXPECT_EQ(a.cells[i].incomplete, b.cells[i].incomplete);
    }
  }
  EXPECT_NEAR(*a.find("A", kOverallTask)->score, 0.725, 1e-15);
}

}  // namespace
}  // namespace mad::results
