// What successive halving needs of the results store (schema 3): the paused and pruned statuses, claims
// and status changes that keep a run's epochs, CPU seconds, merges that keep the run that got further,
// and the migration of a schema-2 database that loses nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "results/results_db.h"
#include "results/run_key.h"
#include "results/schema.h"
#include "results/scores.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::make_run;
using testing::RawDb;
using testing::SampleRun;
using testing::TempDir;

const auto kAlive = [](const std::string&, int64_t) { return true; };
const auto kDead = [](const std::string&, int64_t) { return false; };

// A run stopped at a rung: `epochs` epochs, status paused (or pruned), with CPU seconds.
RunRecord paused_run(int64_t epochs, RunStatus status = RunStatus::paused) {
  RunRecord r = make_run({.status = RunStatus::completed, .epochs = epochs});
  r.status = status;
  r.cpu_seconds = 2.5 * static_cast<double>(epochs);
  return r;
}

RunRecord claim_of(const RunRecord& run) {
  RunRecord claim = run;
  claim.status = RunStatus::running;
  claim.epochs.clear();
  claim.final.reset();
  claim.cpu_seconds.reset();
  claim.provenance.host = "claimer";
  claim.provenance.pid = 77;
  claim.provenance.started_at = "2024-06-01T00:00:00Z";
  return claim;
}

TEST(SearchRecords, PausedAndPrunedRunsReadBackWithTheirEpochsAndCpuSeconds) {
  TempDir dir("search_paused");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  const RunRecord run = paused_run(4);
  ASSERT_TRUE(db.record_run(run));
  const std::string key = run_key(run);
  const std::vector<StoredRun> stored = db.runs();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].run.status, RunStatus::paused);
  ASSERT_TRUE(stored[0].run.cpu_seconds);
  EXPECT_EQ(*stored[0].run.cpu_seconds, 10.0);
  const std::optional<RunState> state = db.run_state(key, true);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->status, RunStatus::paused);
  EXPECT_EQ(state->epochs.size(), 4u);
  EXPECT_EQ(*state->cpu_seconds, 10.0);
  EXPECT_FALSE(db.has_completed(key));  // not final: the search may go on with it
  EXPECT_FALSE(db.run_state("nope", true));
}

TEST(SearchRecords, AClaimOfAPausedRunKeepsItsEpochsAndStart) {
  TempDir dir("search_claim");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  const RunRecord run = paused_run(3);
  db.record_run(run);
  const std::string key = run_key(run);
  ASSERT_EQ(db.claim_run(claim_of(run), kAlive), ResultsDb::Claim::claimed);
  const RunState state = *db.run_state(key, true);
  EXPECT_EQ(state.status, RunStatus::running);
  EXPECT_EQ(state.host, "claimer");
  EXPECT_EQ(state.pid, 77);
  EXPECT_EQ(state.epochs.size(), 3u);              // the rung's metrics stay readable
  EXPECT_EQ(state.started_at, run.provenance.started_at);  // the run started before its first rung
  EXPECT_EQ(*state.cpu_seconds, 7.5);
  EXPECT_EQ(db.claim_run(claim_of(run), kAlive), ResultsDb::Claim::taken);
  // A dead holder's claim is taken over, still with the epochs.
  EXPECT_EQ(db.claim_run(claim_of(run), kDead), ResultsDb::Claim::claimed);
  EXPECT_EQ(db.run_state(key, true)->epochs.size(), 3u);
  // The record of the next segment replaces the claim, with every epoch.
  EXPECT_TRUE(db.record_run(paused_run(6)));
  EXPECT_EQ(db.run_state(key, true)->epochs.size(), 6u);
  EXPECT_EQ(RawDb(dir.file("r.db")).count("run_epochs"), 6);
}

TEST(SearchRecords, AClaimOfANewOrFailedRunWithoutEpochsStartsNow) {
  TempDir dir("search_claim_new");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  RunRecord failed = make_run({.status = RunStatus::failed, .epochs = 0});
  db.record_run(failed);
  ASSERT_EQ(db.claim_run(claim_of(failed), kAlive), ResultsDb::Claim::claimed);
  EXPECT_EQ(db.run_state(run_key(failed), false)->started_at, "2024-06-01T00:00:00Z");
}

TEST(SearchRecords, UpdateStatusKeepsEpochsAndNeverTouchesAFinalRun) {
  TempDir dir("search_update");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  const RunRecord run = paused_run(2);
  db.record_run(run);
  const std::string key = run_key(run);
  EXPECT_TRUE(db.update_status(key, RunStatus::pruned, "pruned at rung 2"));
  StoredRun stored = db.runs().at(0);
  EXPECT_EQ(stored.run.status, RunStatus::pruned);
  EXPECT_EQ(stored.run.error, "pruned at rung 2");
  EXPECT_FALSE(stored.run.provenance.finished_at.empty());
  EXPECT_EQ(db.epochs(key).size(), 2u);
  EXPECT_TRUE(db.update_status(key, RunStatus::failed, "killed"));
  EXPECT_EQ(db.epochs(key).size(), 2u);

  const RunRecord done = make_run({.lr = 5e-4});
  db.record_run(done);
  EXPECT_FALSE(db.update_status(run_key(done), RunStatus::pruned, "x"));
  EXPECT_TRUE(db.has_completed(run_key(done)));
  EXPECT_FALSE(db.update_status("unknown", RunStatus::failed, "x"));
  EXPECT_THROW(db.update_status(key, RunStatus::completed, ""), Error);
}

TEST(SearchRecords, AFinalRecordReplacesAPrunedOne) {
  // A grid sweep trains a run that a halving sweep pruned to the end.
  TempDir dir("search_replace");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(paused_run(2, RunStatus::pruned));
  EXPECT_TRUE(db.record_run(make_run({.epochs = 5})));
  EXPECT_EQ(db.runs().at(0).run.status, RunStatus::completed);
  EXPECT_EQ(RawDb(dir.file("r.db")).count("run_epochs"), 5);
}

TEST(SearchRecords, APrunedOrPausedRunIsNeverASettingsBestNorDropped) {
  TempDir dir("search_scores");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.lr = 1e-4, .test_acc = 0.5}));
  for (auto [lr, status] : {std::pair{5e-4, RunStatus::pruned}, std::pair{1e-3, RunStatus::paused}}) {
    RunRecord r = make_run({.lr = lr, .test_acc = 1.0});
    r.status = status;
    db.record_run(r);
  }
  const ScoreTable table = mad_scores(db.runs());
  const TaskScore* cell = table.find("transformer", testing::kRecall);
  ASSERT_TRUE(cell && cell->score);
  EXPECT_EQ(*cell->score, 0.5);
  EXPECT_EQ(cell->runs, 1);
  EXPECT_EQ(cell->dropped, 0);
}

TEST(SearchRecords, MergeKeepsTheRecordThatGotFurther) {
  TempDir dir("search_merge");
  const std::string rung1 = dir.file("rung1.db"), rung2 = dir.file("rung2.db"), pruned = dir.file("pruned.db"),
                    done = dir.file("done.db"), out = dir.file("out.db");
  ResultsDb::open(rung1).record_run(paused_run(2));
  ResultsDb::open(rung2).record_run(paused_run(4));
  ResultsDb::open(pruned).record_run(paused_run(4, RunStatus::pruned));
  ResultsDb::open(done).record_run(make_run({.epochs = 6}));
  RawDb raw(out);
  const auto state = [&] { return raw.text("SELECT status || ' ' || (SELECT count(*) FROM run_epochs) FROM runs"); };

  merge_into(out, {rung2, rung1});
  EXPECT_EQ(state(), "paused 4");  // fewer epochs never replace more
  merge_into(out, {pruned});
  EXPECT_EQ(state(), "pruned 4");  // the decision made elsewhere
  merge_into(out, {rung2});
  EXPECT_EQ(state(), "pruned 4");
  merge_into(out, {done, rung1, pruned});
  EXPECT_EQ(state(), "completed 6");  // final beats everything, and stays
  EXPECT_EQ(raw.count("runs"), 1);
  EXPECT_EQ(raw.number("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

TEST(SearchRecords, ASchema2DatabaseMigratesWithEveryRowKept) {
  TempDir dir("search_migrate");
  const std::string path = dir.file("v2.db");
  std::ifstream fixture(std::string(MAD_SOURCE_DIR) + "/tests/results/fixtures/schema_v2.sql");
  ASSERT_TRUE(fixture.good());
  std::stringstream sql;
  sql << fixture.rdbuf();
  RawDb(path).exec(sql.str());
  {
    RawDb raw(path);
    ASSERT_EQ(raw.number("SELECT max(version) FROM schema_version"), 2);
  }
  const std::vector<int64_t> before = [&] {
    RawDb raw(path);
    return std::vector<int64_t>{raw.count("runs"), raw.count("run_epochs"), raw.count("run_metrics"),
                                raw.count("sweep_runs")};
  }();
  const std::string scores_before = [&] {
    RawDb raw(path);
    return raw.text("SELECT group_concat(key || status || coalesce(test_acc, 'x'), ',') FROM "
                    "(SELECT * FROM run_results ORDER BY key)");
  }();

  ResultsDb db = ResultsDb::open(path);
  RawDb raw(path);
  EXPECT_EQ(raw.number("SELECT max(version) FROM schema_version"), current_schema_version());
  EXPECT_EQ((std::vector<int64_t>{raw.count("runs"), raw.count("run_epochs"), raw.count("run_metrics"),
                                  raw.count("sweep_runs")}),
            before);
  EXPECT_EQ(raw.text("SELECT group_concat(key || status || coalesce(test_acc, 'x'), ',') FROM "
                     "(SELECT * FROM run_results ORDER BY key)"),
            scores_before);
  EXPECT_EQ(raw.number("SELECT count(*) FROM runs WHERE cpu_seconds IS NOT NULL"), 0);
  EXPECT_EQ(raw.number("SELECT count(*) FROM pragma_foreign_key_check"), 0);
  EXPECT_EQ(db.integrity_check(), "ok");
  EXPECT_TRUE(db.record_run(paused_run(2, RunStatus::pruned)));  // the new statuses are accepted
  // The other tables' references follow the rebuilt runs table: deleting a run cascades to its rows.
  const std::string key = raw.text("SELECT run_key FROM run_epochs GROUP BY run_key HAVING count(*) = 3 LIMIT 1");
  ASSERT_FALSE(key.empty());
  raw.exec("PRAGMA foreign_keys = ON");
  raw.exec("DELETE FROM sweep_runs WHERE run_key = '" + key + "'");
  raw.exec("DELETE FROM runs WHERE key = '" + key + "'");
  EXPECT_EQ(raw.number("SELECT count(*) FROM run_epochs WHERE run_key = '" + key + "'"), 0);
  EXPECT_EQ(raw.number("SELECT count(*) FROM run_metrics WHERE run_key = '" + key + "'"), 0);
}

}  // namespace
}  // namespace mad::results
