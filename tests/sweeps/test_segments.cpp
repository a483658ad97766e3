// Training a run in segments (sweeps::train_segment): a run paused at a rung and resumed from its
// checkpoint gives the epochs of an uninterrupted run bit for bit; the paused record reports the epoch
// with the lowest test perplexity so far; CPU seconds add up over the segments; a checkpoint of another
// run, or one beyond the target, is ignored.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/yaml.h"
#include "sweeps/halving.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/train_run.h"
#include "tests/support/test_util.h"

namespace mad::sweeps {
namespace {

struct Fixture {
  testing::TempDir dir{"sweep_segments"};
  SweepSpec spec = sweep_from_config(
      config::load_string("name: s\narchitectures: {a: {dim: 16, layers: [swiglu]}}\nprotocol: baselines\n"
                          "tasks: [memorization]\nlr: [1.0e-2, 1.0e-3]\nweight_decay: [0.0]\nepochs: 4\n"
                          "search: {method: halving, rungs: [2]}\n",
                          "spec.yml"),
      ".");
  std::vector<PlannedRun> plan = plan_sweep(spec);
  std::filesystem::path checkpoint = dir.path() / "run.ckpt";
};

void expect_same_epochs(const results::RunRecord& a, const results::RunRecord& b) {
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  for (size_t i = 0; i < a.epochs.size(); ++i) {
    EXPECT_EQ(a.epochs[i].test.loss, b.epochs[i].test.loss) << "epoch " << i + 1;
    EXPECT_EQ(a.epochs[i].test.acc, b.epochs[i].test.acc) << "epoch " << i + 1;
    EXPECT_EQ(a.epochs[i].train.loss, b.epochs[i].train.loss) << "epoch " << i + 1;
  }
}

TEST(Segments, APausedAndResumedRunEqualsAnUninterruptedOne) {
  Fixture f;
  const PlannedRun& run = f.plan.at(0);
  const results::RunRecord straight = train_planned_run(f.spec, run, 1);
  ASSERT_EQ(straight.status, results::RunStatus::completed);
  ASSERT_EQ(straight.epochs.size(), 4u);
  ASSERT_TRUE(straight.cpu_seconds && *straight.cpu_seconds > 0);

  const results::RunRecord first = train_segment(f.spec, run, 1, Segment{2, f.checkpoint, 0, ""});
  EXPECT_EQ(first.status, results::RunStatus::paused);
  ASSERT_EQ(first.epochs.size(), 2u);
  ASSERT_TRUE(std::filesystem::exists(f.checkpoint));
  ASSERT_TRUE(first.final);
  // The metrics it reports so far: its lowest-perplexity epoch among the two; no train-set evaluation.
  const size_t best = static_cast<size_t>(reported_epoch_index(first.epochs, 2));
  EXPECT_EQ(first.final->best_epoch, first.epochs[best].epoch);
  EXPECT_EQ(first.final->test.acc, first.epochs[best].test.acc);
  EXPECT_TRUE(std::isnan(first.final->train.loss));
  EXPECT_EQ(first.final->last_test.loss, first.epochs[1].test.loss);

  const results::RunRecord rest =
      train_segment(f.spec, run, 1, Segment{4, f.checkpoint, *first.cpu_seconds, first.provenance.started_at});
  EXPECT_EQ(rest.status, results::RunStatus::completed);
  expect_same_epochs(rest, straight);
  // Epochs 1-2 came from the checkpoint, not from training them again (their wall times are the first's).
  EXPECT_EQ(rest.epochs[0].seconds, first.epochs[0].seconds);
  EXPECT_EQ(rest.epochs[1].seconds, first.epochs[1].seconds);
  EXPECT_EQ(rest.final->test.loss, straight.final->test.loss);
  EXPECT_EQ(rest.final->train.loss, straight.final->train.loss);
  EXPECT_GT(*rest.cpu_seconds, *first.cpu_seconds);
  EXPECT_EQ(rest.provenance.started_at, first.provenance.started_at);
}

TEST(Segments, ACheckpointAtTheTargetIsRecordedWithoutTraining) {
  // The worker died after writing the checkpoint and before recording: the next segment to the same rung
  // records it as it was.
  Fixture f;
  const PlannedRun& run = f.plan.at(0);
  const results::RunRecord first = train_segment(f.spec, run, 1, Segment{2, f.checkpoint, 0, ""});
  const auto written = std::filesystem::last_write_time(f.checkpoint);
  const results::RunRecord again = train_segment(f.spec, run, 1, Segment{2, f.checkpoint, 0, ""});
  EXPECT_EQ(again.status, results::RunStatus::paused);
  expect_same_epochs(again, first);
  EXPECT_EQ(std::filesystem::last_write_time(f.checkpoint), written);
}

TEST(Segments, CheckpointsOfAnotherRunOrBeyondTheTargetAreIgnored) {
  Fixture f;
  const PlannedRun& run = f.plan.at(0);
  const PlannedRun& other = f.plan.at(1);
  const results::RunRecord straight = train_planned_run(f.spec, run, 1);
  train_segment(f.spec, other, 1, Segment{2, f.checkpoint, 0, ""});  // the other run's checkpoint
  results::RunRecord r = train_segment(f.spec, run, 1, Segment{4, f.checkpoint, 0, ""});
  expect_same_epochs(r, straight);

  const std::filesystem::path late = f.dir.path() / "late.ckpt";
  train_segment(f.spec, run, 1, Segment{3, late, 0, ""});  // paused at 3 (not a rung, but a target)
  r = train_segment(f.spec, run, 1, Segment{2, late, 0, ""});
  EXPECT_EQ(r.status, results::RunStatus::paused);
  ASSERT_EQ(r.epochs.size(), 2u);
  EXPECT_EQ(r.epochs[1].test.loss, straight.epochs[1].test.loss);

  std::filesystem::resize_file(late, 200);  // a truncated checkpoint: start over
  r = train_segment(f.spec, run, 1, Segment{4, late, 0, ""});
  expect_same_epochs(r, straight);
}

// lr 10 drives the test loss to about 2500: a finite loss with an infinite perplexity. That is a diverged
// run (issue 19: it was recorded completed), recorded without metrics and with the reason.
TEST(Segments, AnInfinitePerplexityIsADivergedRunWithoutMetrics) {
  const SweepSpec spec = sweep_from_config(
      config::load_string("name: s\narchitectures: {a: {dim: 16, layers: [swiglu]}}\nprotocol: baselines\n"
                          "tasks: [memorization]\nlr: [1.0e-3]\nweight_decay: [0.0]\nepochs: 2\n",
                          "spec.yml"),
      ".");
  std::vector<PlannedRun> plan = plan_sweep(spec);
  ASSERT_EQ(plan.size(), 1u);
  plan[0].training.lr = 10;  // beyond what a spec accepts (lr < 1), to reach the divergence in one epoch
  const results::RunRecord r = train_planned_run(spec, plan[0], 1);
  EXPECT_EQ(r.status, results::RunStatus::diverged);
  EXPECT_FALSE(r.final.has_value());
  EXPECT_NE(r.error.find("perplexity"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace mad::sweeps
