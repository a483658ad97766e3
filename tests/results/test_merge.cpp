// Merging results databases: shards fold into one without duplicates, merging again adds nothing, inputs
// are never written, and unusable inputs are one-line errors naming them.
#include <gtest/gtest.h>

#include <fstream>

#include "results/results_db.h"
#include "results/run_key.h"
#include "results/schema.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::error_of;
using testing::make_run;
using testing::RawDb;
using testing::SampleRun;
using testing::TempDir;

// Counts of every table, to compare databases.
std::vector<int64_t> table_counts(const std::string& path) {
  RawDb raw(path);
  std::vector<int64_t> counts;
  for (const char* table : {"sweeps", "architectures", "task_settings", "runs", "sweep_runs", "run_metrics", "run_epochs"}) {
    counts.push_back(raw.count(table));
  }
  return counts;
}

TEST(Merge, ShardsFoldIntoOneAndMergingAgainAddsNothing) {
  TempDir dir("merge_shards");
  const std::string a = dir.file("a.db"), b = dir.file("b.db"), out = dir.file("out.db");
  {
    ResultsDb shard = ResultsDb::open(a);
    for (double lr : {1e-4, 5e-4, 1e-3}) shard.record_run(make_run({.lr = lr, .epochs = 4}));
  }
  {
    ResultsDb shard = ResultsDb::open(b);
    shard.record_run(make_run({.lr = 1e-3, .epochs = 4}));  // also in a
    shard.record_run(make_run({.architecture = "hyena", .epochs = 2, .sweep = "sweep-b"}));
    shard.record_run(make_run({.task = "compression", .status = RunStatus::diverged, .epochs = 2}));
  }
  const std::vector<MergeStats> first = merge_into(out, {a, b});
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].runs, 3);
  EXPECT_EQ(first[0].added, 3);
  EXPECT_EQ(first[1].runs, 3);
  EXPECT_EQ(first[1].added, 2);
  // sweeps, architectures, settings, runs, memberships, final metrics, epochs
  const std::vector<int64_t> expected{2, 2, 2, 5, 5, 5, 3 * 4 + 2 + 2};
  EXPECT_EQ(table_counts(out), expected);

  const std::vector<MergeStats> again = merge_into(out, {a, b, a});
  for (const MergeStats& s : again) EXPECT_EQ(s.added, 0) << s.input;
  EXPECT_EQ(table_counts(out), expected);
  EXPECT_EQ(ResultsDb::open(out).integrity_check(), "ok");

  // The merged runs are the shards' runs, with their epochs.
  ResultsDb merged = ResultsDb::open(out);
  const std::string hyena = run_key(make_run({.architecture = "hyena"}));
  EXPECT_EQ(merged.runs({.sweep = "sweep-b"}).size(), 1u);
  EXPECT_EQ(merged.epochs(hyena).size(), 2u);
  EXPECT_TRUE(merged.has_completed(run_key(make_run({.task = "compression"}))));
}

TEST(Merge, AFinalRunReplacesAFailedOneButNeverTheReverse) {
  TempDir dir("merge_final");
  const std::string failed = dir.file("failed.db"), done = dir.file("done.db"), out = dir.file("out.db");
  ResultsDb::open(failed).record_run(make_run({.status = RunStatus::failed, .epochs = 7}));
  ResultsDb::open(done).record_run(make_run({.test_acc = 0.8, .epochs = 3}));
  merge_into(out, {failed, done, failed});
  RawDb raw(out);
  EXPECT_EQ(raw.count("runs"), 1);
  EXPECT_EQ(raw.text("SELECT status FROM runs"), "completed");
  EXPECT_EQ(raw.count("run_epochs"), 3);
  EXPECT_EQ(raw.number("SELECT test_acc FROM run_metrics"), 0.8);
}

TEST(Merge, InputsAreNotWritten) {
  TempDir dir("merge_readonly_input");
  const std::string a = dir.file("a.db"), out = dir.file("out.db");
  ResultsDb::open(a).record_run(make_run({}));
  RawDb(a).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto before = std::filesystem::last_write_time(a);
  const auto size = std::filesystem::file_size(a);
  ASSERT_FALSE(std::filesystem::exists(a + "-wal"));
  merge_into(out, {a});
  EXPECT_EQ(std::filesystem::last_write_time(a), before);
  EXPECT_EQ(std::filesystem::file_size(a), size);
  // Nor are WAL files left next to it.
  EXPECT_FALSE(std::filesystem::exists(a + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(a + "-shm"));
}

TEST(Merge, UnusableInputsAreOneLineErrorsNamingThem) {
  TempDir dir("merge_bad");
  const std::string out = dir.file("out.db"), good = dir.file("good.db");
  ResultsDb::open(good).record_run(make_run({}));

  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << "not a database" << std::string(2000, 'x');
  const std::string newer = dir.file("newer.db");
  ResultsDb::open(newer);
  RawDb(newer).exec("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00Z')");
  const std::string foreign = dir.file("foreign.db");
  RawDb(foreign).exec("CREATE TABLE t (x)");

  const std::pair<std::string, std::string> cases[] = {
      {text, "not a database"},
      {newer, "schema version 99 is newer"},
      {foreign, "not a madcpp results database"},
      {dir.file("missing.db"), "no such results database"},
      {out, "into itself"},
  };
  for (const auto& [input, fragment] : cases) {
    const std::string message = error_of([&] { merge_into(out, {good, input}); });
    EXPECT_NE(message.find(input), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // The good input merged before each failure is there once.
  EXPECT_EQ(RawDb(out).count("runs"), 1);
}

}  // namespace
}  // namespace mad::results
