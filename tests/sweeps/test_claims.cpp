// Claims: how concurrent and restarted runners agree on who trains a run (results::ResultsDb::claim_run
// with the records sweeps::planned_record makes).
#include <gtest/gtest.h>

#include "config/yaml.h"
#include "results/results_db.h"
#include "results/run_key.h"
#include "tests/support/test_util.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/train_run.h"

namespace mad::sweeps {
namespace {

using Claim = results::ResultsDb::Claim;

struct Fixture {
  testing::TempDir dir{"sweep_claims"};
  SweepSpec spec = sweep_from_config(
      config::load_string("name: s\narchitectures: {a: {dim: 16, layers: [swiglu]}}\nprotocol: baselines\n"
                          "tasks: [memorization]\nlr: [1.0e-3]\nweight_decay: [0.0]\nepochs: 1\n",
                          "spec.yml"),
      ".");
  PlannedRun run = plan_sweep(spec).at(0);
  results::ResultsDb db = results::ResultsDb::open(dir.file("r.db"));

  std::string status() {
    const auto runs = db.runs(results::RunFilter{.key_prefix = run.key});
    return runs.empty() ? "none" : std::string(results::status_name(runs.at(0).run.status));
  }
};

const auto kAlive = [](const std::string&, int64_t) { return true; };
const auto kDead = [](const std::string&, int64_t) { return false; };

TEST(Claims, ALiveClaimIsLeftAloneAndADeadOneIsTakenOver) {
  Fixture f;
  const results::RunRecord claim = planned_record(f.spec, f.run, 1);
  EXPECT_EQ(claim.provenance.pid, getpid());
  EXPECT_EQ(f.db.claim_run(claim, kAlive), Claim::claimed);
  EXPECT_EQ(f.status(), "running");
  EXPECT_EQ(f.db.claim_run(claim, kAlive), Claim::taken);
  EXPECT_EQ(f.db.claim_run(claim, kDead), Claim::claimed);
  EXPECT_EQ(f.status(), "running");
}

TEST(Claims, TheHolderIsAskedAboutTheRecordedHostAndPid) {
  Fixture f;
  results::RunRecord claim = planned_record(f.spec, f.run, 1);
  claim.provenance.host = "node-7";
  claim.provenance.pid = 4242;
  ASSERT_EQ(f.db.claim_run(claim, kDead), Claim::claimed);
  std::string host;
  int64_t pid = 0;
  f.db.claim_run(claim, [&](const std::string& h, int64_t p) {
    host = h;
    pid = p;
    return true;
  });
  EXPECT_EQ(host, "node-7");
  EXPECT_EQ(pid, 4242);
}

TEST(Claims, AFinishedRunIsDoneAndJoinsTheClaimingSweep) {
  Fixture f;
  ASSERT_EQ(f.db.claim_run(planned_record(f.spec, f.run, 1), kAlive), Claim::claimed);
  f.db.record_run(train_planned_run(f.spec, f.run, 1));
  EXPECT_EQ(f.status(), "completed");
  SweepSpec other = f.spec;
  other.name = "other";
  EXPECT_EQ(f.db.claim_run(planned_record(other, f.run, 1), kDead), Claim::done);
  EXPECT_EQ(f.status(), "completed");
  EXPECT_EQ(f.db.completed_keys("other").count(f.run.key), 1u);
}

TEST(Claims, AFailedRunIsClaimedAgain) {
  Fixture f;
  results::RunRecord failed = planned_record(f.spec, f.run, 1);
  failed.status = results::RunStatus::failed;
  failed.error = "out of memory";
  f.db.record_run(failed);
  EXPECT_EQ(f.db.claim_run(planned_record(f.spec, f.run, 1), kAlive), Claim::claimed);
  EXPECT_EQ(f.status(), "running");
}

TEST(TrainPlannedRun, RecordsEveryEpochAndTheReportedMetrics) {
  Fixture f;
  const results::RunRecord r = train_planned_run(f.spec, f.run, 1);
  EXPECT_EQ(r.status, results::RunStatus::completed);
  ASSERT_EQ(r.epochs.size(), 1u);
  ASSERT_TRUE(r.final.has_value());
  EXPECT_EQ(r.final->best_epoch, 1);
  EXPECT_EQ(r.final->test.acc, r.epochs[0].test.acc);
  EXPECT_EQ(results::run_key(r), f.run.key);
  // Deterministic: the same run twice gives the same metrics, bit for bit.
  const results::RunRecord again = train_planned_run(f.spec, f.run, 1);
  EXPECT_EQ(again.final->test.loss, r.final->test.loss);
  EXPECT_EQ(again.final->train.acc, r.final->train.acc);
}

}  // namespace
}  // namespace mad::sweeps
