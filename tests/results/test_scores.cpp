// MAD scores: the library's numbers equal a hand computation and an independent plain-SQL computation
// over the raw run rows, with diverged, failed and NaN runs dropped and incomplete cells marked.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "config/canonical.h"
#include "results/results_db.h"
#include "results/scores.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::make_run;
using testing::record_example;
using testing::RawDb;
using testing::SampleRun;
using testing::TempDir;

const std::string kRecall = testing::kRecall;
const std::string kCompression = testing::kCompression;

struct SqlCell {
  double score = NAN;
  int64_t settings = 0;
  int64_t runs = 0;
};

// The MAD score of one cell in plain SQL, straight from the tables (not through the library): best test
// accuracy per setting over completed runs with an accuracy, then the mean over the task's settings.
constexpr const char* kBestPerSetting = R"sql(
WITH best AS (
  SELECT a.name AS arch, t.task AS task, r.task_setting AS setting, max(m.test_acc) AS acc, count(*) AS n
  FROM runs r
  JOIN architectures a ON a.hash = r.architecture
  JOIN task_settings t ON t.hash = r.task_setting
  JOIN run_metrics m ON m.run_key = r.key
  WHERE r.status = 'completed' AND m.test_acc IS NOT NULL
  GROUP BY r.architecture, r.task_setting)
)sql";

SqlCell sql_cell(RawDb& raw, const std::string& arch, const std::string& task) {
  const std::string where = fmt::format(" FROM best WHERE arch = '{}' AND task = '{}'", arch, task);
  return SqlCell{raw.number(std::string(kBestPerSetting) + "SELECT avg(acc)" + where),
                 static_cast<int64_t>(raw.number(std::string(kBestPerSetting) + "SELECT count(*)" + where)),
                 static_cast<int64_t>(raw.number(std::string(kBestPerSetting) + "SELECT coalesce(sum(n), 0)" + where))};
}

double sql_overall(RawDb& raw, const std::string& arch) {
  return raw.number(std::string(kBestPerSetting) +
                    fmt::format("SELECT avg(score) FROM (SELECT avg(acc) AS score FROM best WHERE arch = '{}' GROUP BY task)", arch));
}

const ScoreOptions kExpected{{{kRecall, 2}, {kCompression, 2}}};

// A task named in outside_mean (mqar, via `mad scores`) keeps its column but not a share of the mean.
TEST(Scores, TasksOutsideTheMeanGetAColumnOnly) {
  TempDir dir("scores_outside_mean");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.architecture = "A", .task = kRecall, .test_acc = 0.5}));
  db.record_run(make_run({.architecture = "A", .task = "mqar", .test_acc = 0.9}));
  ScoreOptions options{{{kRecall, 1}}};
  const ScoreTable folded = mad_scores(db.runs(), options);
  EXPECT_NEAR(*folded.find("A", kOverallTask)->score, 0.7, 1e-15);  // without outside_mean: both tasks
  options.outside_mean = {"mqar"};
  const ScoreTable table = mad_scores(db.runs(), options);
  EXPECT_EQ(table.tasks, (std::vector<std::string>{kRecall, "mqar"}));
  ASSERT_TRUE(table.find("A", "mqar") && table.find("A", "mqar")->score);
  EXPECT_NEAR(*table.find("A", "mqar")->score, 0.9, 1e-15);
  const TaskScore* mean = table.find("A", kOverallTask);
  ASSERT_TRUE(mean && mean->score);
  EXPECT_NEAR(*mean->score, 0.5, 1e-15);
  EXPECT_EQ(mean->runs, 1);
  EXPECT_EQ(mean->settings, 1);
  EXPECT_EQ(mean->expected_settings, 1);
  EXPECT_FALSE(mean->incomplete);
}

TEST(Scores, MatchTheHandComputation) {
  TempDir dir("scores_hand");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  record_example(db);
  const ScoreTable table = mad_scores(db.runs(), kExpected);
  EXPECT_EQ(table.tasks, (std::vector<std::string>{kRecall, kCompression}));
  EXPECT_EQ(table.architectures, (std::vector<std::string>{"A", "B"}));
  ASSERT_EQ(table.cells.size(), 6u);

  const TaskScore* a_recall = table.find("A", kRecall);
  ASSERT_TRUE(a_recall && a_recall->score);
  EXPECT_NEAR(*a_recall->score, 0.65, 1e-15);
  EXPECT_EQ(a_recall->settings, 2);
  EXPECT_EQ(a_recall->runs, 4);
  EXPECT_EQ(a_recall->dropped, 2);
  EXPECT_FALSE(a_recall->incomplete);
  EXPECT_NEAR(*table.find("A", kCompression)->score, 0.8, 1e-15);
  EXPECT_TRUE(table.find("A", kCompression)->incomplete);
  const TaskScore* a_mean = table.find("A", kOverallTask);
  EXPECT_NEAR(*a_mean->score, 0.725, 1e-15);
  EXPECT_EQ(a_mean->runs, 5);
  EXPECT_EQ(a_mean->settings, 3);
  EXPECT_EQ(a_mean->expected_settings, 4);
  EXPECT_TRUE(a_mean->incomplete);

  const TaskScore* b_recall = table.find("B", kRecall);
  EXPECT_NEAR(*b_recall->score, 0.3, 1e-15);
  EXPECT_EQ(b_recall->settings, 1);
  EXPECT_TRUE(b_recall->incomplete);
  const TaskScore* b_compression = table.find("B", kCompression);
  EXPECT_NEAR(*b_compression->score, 0.9, 1e-15);
  EXPECT_EQ(b_compression->runs, 1);
  EXPECT_EQ(b_compression->dropped, 1);
  EXPECT_NEAR(*table.find("B", kOverallTask)->score, 0.6, 1e-15);

  // Per setting: the best run and its (lr, wd).
  const auto a_v16 = std::find_if(table.settings.begin(), table.settings.end(), [](const SettingScore& s) {
    return s.architecture == "A" && s.task == kRecall && s.settings.get<int64_t>("vocab_size") == 16;
  });
  ASSERT_NE(a_v16, table.settings.end());
  EXPECT_EQ(*a_v16->score, 0.7);
  EXPECT_EQ(a_v16->lr, 1e-3);
  EXPECT_EQ(a_v16->weight_decay, 0.0);
  EXPECT_EQ(a_v16->runs, 2);
  EXPECT_EQ(a_v16->dropped, 2);
}

TEST(Scores, MatchPlainSql) {
  TempDir dir("scores_sql");
  const std::string path = dir.file("r.db");
  ResultsDb db = ResultsDb::open(path);
  record_example(db);
  const ScoreTable table = mad_scores(db.runs(), kExpected);
  RawDb raw(path);
  for (const std::string arch : {"A", "B"}) {
    for (const std::string& task : {kRecall, kCompression}) {
      const SqlCell expected = sql_cell(raw, arch, task);
      const TaskScore* cell = table.find(arch, task);
      ASSERT_TRUE(cell && cell->score) << arch << " " << task;
      EXPECT_NEAR(*cell->score, expected.score, 1e-12) << arch << " " << task;
      EXPECT_EQ(cell->settings, expected.settings) << arch << " " << task;
      EXPECT_EQ(cell->runs, expected.runs) << arch << " " << task;
    }
    EXPECT_NEAR(*table.find(arch, kOverallTask)->score, sql_overall(raw, arch), 1e-12) << arch;
  }
}

TEST(Scores, RandomDatabasesMatchPlainSql) {
  TempDir dir("scores_random");
  const std::string path = dir.file("r.db");
  ResultsDb db = ResultsDb::open(path);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::vector<std::string> archs{"mamba", "hyena", "transformer"};
  const std::vector<std::pair<std::string, int>> tasks{{kRecall, 4}, {kCompression, 3}, {"memorization", 2}};
  for (const std::string& arch : archs) {
    for (const auto& [task, settings] : tasks) {
      for (int s = 0; s < settings; ++s) {
        if (uniform(rng) < 0.15) continue;  // a setting this architecture has not run
        for (double lr : {1e-4, 5e-4, 1e-3}) {
          for (double wd : {0.0, 0.1}) {
            const double u = uniform(rng);
            const RunStatus status = u < 0.1   ? RunStatus::diverged
                                     : u < 0.2 ? RunStatus::failed
                                     : u < 0.25 ? RunStatus::running
                                                : RunStatus::completed;
            const double acc = uniform(rng) < 0.05 ? NAN : uniform(rng);
            db.record_run(make_run({.architecture = arch, .task = task, .vocab_size = 16 << s, .lr = lr,
                                    .weight_decay = wd, .status = status, .test_acc = acc, .epochs = 2}));
          }
        }
      }
    }
  }
  const ScoreTable table = mad_scores(db.runs());
  RawDb raw(path);
  int checked = 0;
  for (const std::string& arch : archs) {
    for (const auto& [task, settings] : tasks) {
      const SqlCell expected = sql_cell(raw, arch, task);
      const TaskScore* cell = table.find(arch, task);
      ASSERT_NE(cell, nullptr);
      EXPECT_EQ(cell->settings, expected.settings) << arch << " " << task;
      EXPECT_EQ(cell->runs, expected.runs) << arch << " " << task;
      if (expected.settings == 0) {
        EXPECT_FALSE(cell->score.has_value());
        continue;
      }
      ASSERT_TRUE(cell->score.has_value()) << arch << " " << task;
      EXPECT_NEAR(*cell->score, expected.score, 1e-12) << arch << " " << task;
      ++checked;
    }
    EXPECT_NEAR(*table.find(arch, kOverallTask)->score, sql_overall(raw, arch), 1e-12) << arch;
  }
  EXPECT_GE(checked, 6);
}

TEST(Scores, WithoutExpectationsTheSettingsPresentAreExpected) {
  TempDir dir("scores_present");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  record_example(db);
  const ScoreTable table = mad_scores(db.runs());
  EXPECT_EQ(table.tasks, (std::vector<std::string>{kCompression, kRecall}));  // by name
  EXPECT_FALSE(table.find("A", kCompression)->incomplete);                   // 1 setting present in all
  EXPECT_EQ(table.find("A", kCompression)->expected_settings, 1);
  EXPECT_FALSE(table.find("A", kRecall)->incomplete);
  EXPECT_TRUE(table.find("B", kRecall)->incomplete);  // V32 exists (B's running run) but has no score
  EXPECT_FALSE(table.find("A", kOverallTask)->incomplete);
  EXPECT_TRUE(table.find("B", kOverallTask)->incomplete);
}

TEST(Scores, ExpectedTasksWithoutRunsAreEmptyIncompleteColumns) {
  TempDir dir("scores_missing_task");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.test_acc = 0.5}));
  const ScoreTable table = mad_scores(db.runs(), ScoreOptions{{{"memorization", 6}, {kRecall, 1}}});
  EXPECT_EQ(table.tasks, (std::vector<std::string>{"memorization", kRecall}));
  EXPECT_FALSE(table.find("transformer", "memorization")->score.has_value());
  EXPECT_TRUE(table.find("transformer", "memorization")->incomplete);
  EXPECT_FALSE(table.find("transformer", kRecall)->incomplete);
  // The overall score is the mean of the task scores there are, marked incomplete.
  EXPECT_EQ(*table.find("transformer", kOverallTask)->score, 0.5);
  EXPECT_TRUE(table.find("transformer", kOverallTask)->incomplete);
}

TEST(Scores, ArchitecturesSharingANameAreToldApartByHash) {
  TempDir dir("scores_names");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  RunRecord wide = make_run({.test_acc = 0.6});
  wide.architecture.spec.set("dim", config::Value(256));
  db.record_run(wide);
  db.record_run(make_run({.test_acc = 0.4}));
  const ScoreTable table = mad_scores(db.runs());
  ASSERT_EQ(table.architectures.size(), 2u);
  for (const std::string& name : table.architectures) {
    EXPECT_EQ(name.rfind("transformer [", 0), 0u) << name;
    EXPECT_EQ(name.size(), std::string("transformer [12345678]").size()) << name;
  }
}

TEST(Scores, TiesGoToTheFirstLrAndWeightDecay) {
  TempDir dir("scores_tie");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.lr = 1e-3, .test_acc = 1.0}));
  db.record_run(make_run({.lr = 1e-4, .weight_decay = 0.1, .test_acc = 1.0}));
  db.record_run(make_run({.lr = 5e-4, .test_acc = 0.9}));
  const ScoreTable table = mad_scores(db.runs());
  ASSERT_EQ(table.settings.size(), 1u);
  EXPECT_EQ(table.settings[0].lr, 1e-4);
  EXPECT_EQ(table.settings[0].weight_decay, 0.1);
}

}  // namespace
}  // namespace mad::results
