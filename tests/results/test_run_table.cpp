// The flat view run_table: one row per run, one column per task-setting axis, equal to the JSON it flattens.
#include <gtest/gtest.h>

#include <set>

#include "results/results_db.h"
#include "results_test_util.h"
#include "tasks/settings.h"

namespace mad::results {
namespace {

using testing::make_run;
using testing::RawDb;
using testing::TempDir;

std::set<std::string> view_columns(RawDb& raw, const std::string& view) {
  std::set<std::string> columns;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw.handle(), ("SELECT name FROM pragma_table_info('" + view + "')").c_str(), -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) columns.insert(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  return columns;
}

TEST(RunTable, HasAColumnForEveryTaskSettingAxis) {
  TempDir dir("run_table_columns");
  const std::string path = dir.file("results.db");
  ResultsDb::open(path);
  RawDb raw(path);
  const std::set<std::string> columns = view_columns(raw, "run_table");
  // A task setting added to tasks/settings.cpp without a schema step that re-creates the view fails here.
  // Settings of one task only (mqar's num_kv_pairs, power_a) are not axes of the view: they stay in the
  // settings JSON (task_settings.settings, run_results.settings; json_extract(settings, '$.num_kv_pairs')).
  EXPECT_TRUE(columns.count("task"));
  for (const tasks::SettingField& field : tasks::setting_fields()) {
    if (field.only_task) {
      EXPECT_FALSE(columns.count(std::string(field.name))) << field.name;
      continue;
    }
    const std::string column = field.name == "seed" ? "data_seed" : std::string(field.name);
    EXPECT_TRUE(columns.count(column)) << column;
  }
  for (const char* column : {"key", "architecture", "architecture_hash", "lr", "weight_decay", "seed", "status",
                             "error", "test_acc", "test_token_acc", "test_loss", "train_acc", "seconds",
                             "cpu_seconds", "state_size", "params"}) {
    EXPECT_TRUE(columns.count(column)) << column;
  }
  EXPECT_FALSE(columns.count("settings"));  // flattened, not the JSON
}

TEST(RunTable, OneRowPerRunWithTheSettingsFlattened) {
  TempDir dir("run_table_rows");
  const std::string path = dir.file("results.db");
  {
    ResultsDb db = ResultsDb::open(path);
    db.record_run(make_run({.architecture = "A", .vocab_size = 16, .test_acc = 0.5}));
    db.record_run(make_run({.architecture = "A", .vocab_size = 32, .lr = 1e-4, .test_acc = 0.25, .seed = 7}));
    RunRecord diverged = make_run({.architecture = "B", .status = RunStatus::diverged, .test_acc = 0.1});
    diverged.cpu_seconds = 12.5;
    db.record_run(diverged);
    db.record_run(make_run({.architecture = "B", .vocab_size = 64, .status = RunStatus::running, .epochs = 0}));
  }
  RawDb raw(path);
  EXPECT_EQ(raw.count("run_table"), raw.count("runs"));
  EXPECT_EQ(raw.count("run_table"), 4);
  // Every row's axes equal its settings' JSON, and the rest equals run_results.
  EXPECT_EQ(raw.number("SELECT count(*) FROM run_table t JOIN run_results r USING (key) "
                       "WHERE t.vocab_size = json_extract(r.settings, '$.vocab_size') "
                       "AND t.seq_len = json_extract(r.settings, '$.seq_len') AND t.architecture = r.architecture "
                       "AND t.lr = r.lr AND t.seed = r.seed AND t.status = r.status "
                       "AND t.test_acc IS r.test_acc AND t.cpu_seconds IS r.cpu_seconds"),
            4);
  EXPECT_EQ(raw.number("SELECT test_acc FROM run_table WHERE architecture = 'A' AND vocab_size = 32"), 0.25);
  EXPECT_EQ(raw.number("SELECT data_seed FROM run_table WHERE architecture = 'A' AND vocab_size = 32"), 7);
  EXPECT_TRUE(std::isnan(raw.number("SELECT data_seed FROM run_table WHERE vocab_size = 16 AND architecture = 'A'")));
  EXPECT_EQ(raw.number("SELECT cpu_seconds FROM run_table WHERE status = 'diverged'"), 12.5);
  EXPECT_EQ(raw.text("SELECT error FROM run_table WHERE status = 'diverged'"), "loss became NaN at epoch 3");
  EXPECT_TRUE(std::isnan(raw.number("SELECT test_acc FROM run_table WHERE status = 'running'")));
  EXPECT_EQ(raw.number("SELECT state_size FROM run_table WHERE architecture = 'A' LIMIT 1"), 4096);
}

}  // namespace
}  // namespace mad::results
