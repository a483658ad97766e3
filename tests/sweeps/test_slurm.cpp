// The Slurm backend's pure parts: array sizes, the batch scripts, keys files, and a dry-run submission
// (the real cluster is exercised by tests/cluster/slurm_test.sh).
#include <gtest/gtest.h>

#include <fstream>

#include "config/yaml.h"
#include "results/results_db.h"
#include "tests/support/test_util.h"
#include "sweeps/slurm.h"
#include "sweeps/train_run.h"

namespace mad::sweeps {
namespace {

SweepSpec small_spec() {
  return sweep_from_config(config::load_string("name: s\narchitectures: {a: {dim: 16, layers: [swiglu]}}\n"
                                               "protocol: baselines\ntasks: [memorization, CR]\nlr: [1.0e-3]\n"
                                               "weight_decay: [0.0, 0.1]\nepochs: 1\n",
                                               "spec.yml"),
                           ".");
}

TEST(Slurm, ArraySizeChunksRunsAndRespectsLimits) {
  EXPECT_EQ(slurm_array_size(396, 0), 99);   // 4 runs per task
  EXPECT_EQ(slurm_array_size(3, 0), 1);
  EXPECT_EQ(slurm_array_size(10, 50), 10);   // never more tasks than runs
  EXPECT_EQ(slurm_array_size(100000, 0), 1000);  // Slurm's default MaxArraySize
  EXPECT_EQ(slurm_array_size(7, 3), 3);
}

TEST(Slurm, ArrayScriptRunsItsShardAndPublishes) {
  SlurmOptions options;
  options.spec_file = "/shared/it's here/spec.yml";
  options.mad = "/shared/bin/mad";
  options.db = "/shared/results.db";
  options.cpus_per_task = 2;
  options.partition = "cpu";
  options.time = "04:00:00";
  const std::string script = slurm_array_script(small_spec(), options, "/shared/job", 5);
  for (const char* fragment :
       {"#SBATCH --array=1-5\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --partition=cpu\n", "#SBATCH --time=04:00:00\n",
        "--shard \"$task/5\"", "--only-keys '/shared/job/keys.txt'", "'/shared/it'\\''s here/spec.yml'",
        "cpus=${SLURM_CPUS_PER_TASK:-2}", "results publish \"$local_db\" '/shared/job/shards'/shard-$task.db",
        "trap '' TERM"}) {
    EXPECT_NE(script.find(fragment), std::string::npos) << fragment << "\n" << script;
  }
  const std::string merge = slurm_merge_script(small_spec(), options, "/shared/job");
  EXPECT_NE(merge.find("results merge '/shared/results.db'"), std::string::npos) << merge;
  EXPECT_NE(merge.find("touch '/shared/job'/merged"), std::string::npos) << merge;
}

TEST(Slurm, DryRunWritesOnlyTheMissingKeys) {
  testing::TempDir dir("slurm_dry_run");
  const SweepSpec spec = small_spec();
  const std::vector<PlannedRun> plan = plan_sweep(spec);
  ASSERT_EQ(plan.size(), 4u);
  const std::string db = dir.file("r.db");
  results::ResultsDb::open(db).record_run(train_planned_run(spec, plan[0], 1));  // one run is done

  SlurmOptions options;
  options.db = db;
  options.spec_file = dir.file("spec.yml");
  options.mad = "/bin/mad";
  options.submit = false;
  const SlurmSubmission s = submit_to_slurm(spec, plan, options);
  EXPECT_EQ(s.runs, 3);
  EXPECT_EQ(s.array_size, 1);
  EXPECT_TRUE(s.array_job.empty());
  const std::vector<PlannedRun> listed = only_keys(plan, s.directory / "keys.txt");
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[0].key, plan[1].key);
  EXPECT_TRUE(std::filesystem::exists(s.directory / "sweep.sbatch"));
  EXPECT_TRUE(std::filesystem::exists(s.directory / "merge.sbatch"));
}

SweepSpec halving_spec() {
  return sweep_from_config(config::load_string("name: s\narchitectures: {a: {dim: 16, layers: [swiglu]}}\n"
                                               "protocol: baselines\ntasks: [memorization, CR]\nlr: [1.0e-3]\n"
                                               "weight_decay: [0.0, 0.1]\nepochs: 2\n"
                                               "task_overrides: {num_train_examples: 64, num_test_examples: 64}\n"
                                               "search: {method: halving, rungs: [1]}\n",
                                               "spec.yml"),
                           ".");
}

TEST(Slurm, UnderHalvingTasksStartFromTheDatabaseAndShareCheckpoints) {
  SlurmOptions options;
  options.spec_file = "/shared/spec.yml";
  options.mad = "/shared/bin/mad";
  options.db = "/shared/results.db";
  const std::string script = slurm_array_script(halving_spec(), options, "/shared/job", 2);
  EXPECT_NE(script.find("cp '/shared/job/base.db' \"$local_db\""), std::string::npos) << script;
  EXPECT_NE(script.find("--checkpoints '/shared/results.db.checkpoints'"), std::string::npos) << script;
  const std::string grid = slurm_array_script(small_spec(), options, "/shared/job", 2);
  EXPECT_EQ(grid.find("base.db"), std::string::npos) << grid;
  EXPECT_EQ(grid.find("--checkpoints"), std::string::npos) << grid;
}

TEST(Slurm, UnderHalvingASubmissionListsWholeUnfinishedSettings) {
  testing::TempDir dir("slurm_halving");
  const SweepSpec spec = halving_spec();
  const std::vector<PlannedRun> plan = plan_sweep(spec);
  ASSERT_EQ(plan.size(), 4u);  // 2 brackets of 2 runs
  const std::string db = dir.file("r.db");
  // The memorization bracket: one run paused at the rung, the other completed (a grid submission would
  // list the paused one alone); the recall bracket ended.
  results::ResultsDb store = results::ResultsDb::open(db);
  store.record_run(train_segment(spec, plan[0], 1, Segment{1, dir.path() / "a.ckpt", 0, ""}));
  for (size_t i : {1, 2, 3}) store.record_run(train_planned_run(spec, plan[i], 1));

  SlurmOptions options;
  options.db = db;
  options.spec_file = dir.file("spec.yml");
  options.mad = "/bin/mad";
  options.submit = false;
  const SlurmSubmission s = submit_to_slurm(spec, plan, options);
  EXPECT_EQ(s.runs, 2);  // both runs of the memorization bracket, the completed one included
  const std::vector<PlannedRun> listed = only_keys(plan, s.directory / "keys.txt");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].bracket, listed[1].bracket);
  EXPECT_EQ(listed[0].key, plan[0].key);
  // The tasks' starting database holds what the rung's decision needs.
  ASSERT_TRUE(std::filesystem::exists(s.directory / "base.db"));
  EXPECT_EQ(results::ResultsDb::open((s.directory / "base.db").string()).run_state(plan[0].key, true)->epochs.size(), 1u);
}

TEST(Slurm, KeysOfAnotherSweepAreAnError) {
  testing::TempDir dir("slurm_keys");
  {
    std::ofstream f(dir.file("keys.txt"));
    f << plan_sweep(small_spec())[0].key << "\n" << std::string(64, 'f') << "\n";
  }
  const std::string message = testing::error_of([&] { only_keys(plan_sweep(small_spec()), dir.file("keys.txt")); });
  EXPECT_NE(message.find("1 of its 2 keys are not runs of this sweep"), std::string::npos) << message;
}

}  // namespace
}  // namespace mad::sweeps
