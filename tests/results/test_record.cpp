// Recording runs: the run key, one transaction per run, INSERT OR IGNORE on the key, replacement of
// failed and running records, and reading runs and epochs back.
#include <gtest/gtest.h>

#include <cmath>

#include "config/canonical.h"
#include "results/results_db.h"
#include "results/run_key.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::error_of;
using testing::make_run;
using testing::RawDb;
using testing::SampleRun;
using testing::TempDir;

TEST(RunKey, IsTheSha256OfTheCanonicalJsonAsPythonWritesIt) {
  // Computed outside madcpp: json.dumps(doc, sort_keys=True) and hashlib.sha256 in Python.
  const RunRecord run = make_run({});
  EXPECT_EQ(config::canonical(run_config(run.architecture.spec, run.task_settings, run.training)),
            R"({"architecture": {"dim": 128, "layers": ["transformer", "swiglu"]}, )"
            R"("task": {"seq_len": 128, "task": "in-context-recall", "vocab_size": 16}, )"
            R"("training": {"batch_size": 128, "epochs": 200, "lr": 0.001, "seed": 12345, "weight_decay": 0.0}})");
  EXPECT_EQ(run_key(run), "89c335eb9f28161ced6ae37b9c026d2e612ef3765211cc59feb49ddcc334079e");
}

TEST(RunKey, DependsOnWhatIsTrainedOnly) {
  const std::string key = run_key(make_run({}));
  // Not on the sweep, the status, the metrics or the provenance.
  RunRecord other = make_run({.status = RunStatus::failed, .test_acc = 0.1, .sweep = "another"});
  other.provenance.host = "elsewhere";
  other.architecture.name = "renamed";
  EXPECT_EQ(run_key(other), key);
  // On the architecture, the task setting and every training setting.
  EXPECT_NE(run_key(make_run({.architecture = "hyena"})), key);
  EXPECT_NE(run_key(make_run({.vocab_size = 32})), key);
  EXPECT_NE(run_key(make_run({.lr = 5e-4})), key);
  EXPECT_NE(run_key(make_run({.weight_decay = 0.1})), key);
  for (auto change : {+[](TrainingSettings& t) { t.epochs = 20; }, +[](TrainingSettings& t) { t.batch_size = 64; },
                      +[](TrainingSettings& t) { t.seed = 1; }, +[](TrainingSettings& t) { t.precision = "bf16"; },
                      +[](TrainingSettings& t) { t.weight_decay_groups = "no_norm_bias"; }}) {
    RunRecord r = make_run({});
    change(r.training);
    EXPECT_NE(run_key(r), key);
  }
}

TEST(Record, ARunReadsBackAsWritten) {
  TempDir dir("record_roundtrip");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  const RunRecord run = make_run({.test_acc = 0.875});
  EXPECT_TRUE(db.record_run(run));
  const std::vector<StoredRun> runs = db.runs();
  ASSERT_EQ(runs.size(), 1u);
  const StoredRun& s = runs[0];
  EXPECT_EQ(s.key, run_key(run));
  EXPECT_EQ(s.architecture_hash, config::canonical_hash(run.architecture.spec));
  EXPECT_EQ(s.setting_hash, config::canonical_hash(run.task_settings));
  EXPECT_EQ(s.run.sweep, "test-sweep");
  EXPECT_EQ(s.run.architecture.name, "transformer");
  EXPECT_EQ(s.run.architecture.spec, run.architecture.spec);
  EXPECT_EQ(s.run.architecture.params, 200000);
  EXPECT_EQ(s.run.architecture.state_size, 4096);
  EXPECT_TRUE(s.run.architecture.fixed_state);
  EXPECT_EQ(s.run.task_settings, run.task_settings);
  EXPECT_EQ(s.run.training.lr, 1e-3);
  EXPECT_EQ(s.run.training.epochs, 200);
  EXPECT_EQ(s.run.status, RunStatus::completed);
  EXPECT_EQ(s.run.provenance.host, "testhost");
  EXPECT_EQ(s.run.provenance.build_flags, "-march=x86-64-v3");
  EXPECT_EQ(s.run.provenance.finished_at, "2024-05-01T12:05:00Z");
  ASSERT_TRUE(s.run.final.has_value());
  EXPECT_EQ(s.run.final->test.acc, 0.875);
  EXPECT_EQ(s.run.final->best_epoch, 3);
  EXPECT_EQ(s.run.final->last_test.token_acc, 0.95);

  const std::vector<EpochMetrics> epochs = db.epochs(s.key);
  ASSERT_EQ(epochs.size(), run.epochs.size());
  for (size_t i = 0; i < epochs.size(); ++i) {
    EXPECT_EQ(epochs[i].epoch, run.epochs[i].epoch);
    EXPECT_EQ(epochs[i].lr, run.epochs[i].lr);
    EXPECT_EQ(epochs[i].test.acc, run.epochs[i].test.acc);
    EXPECT_EQ(epochs[i].train.ppl, run.epochs[i].train.ppl);
  }
  EXPECT_TRUE(db.epochs("unknown").empty());
  // The stored config is the hashed text, so anyone can check the key.
  RawDb raw(dir.file("r.db"));
  EXPECT_EQ(raw.text("SELECT config FROM runs"),
            config::canonical(run_config(run.architecture.spec, run.task_settings, run.training)));
}

TEST(Record, NanMetricsAreStoredAsNullAndReadBackAsNan) {
  TempDir dir("record_nan");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  RunRecord run = make_run({.status = RunStatus::diverged});
  run.epochs.back().train.loss = std::nan("");
  run.epochs.back().test.ppl = std::nan("");
  ASSERT_TRUE(db.record_run(run));
  const std::vector<EpochMetrics> epochs = db.epochs(run_key(run));
  EXPECT_TRUE(std::isnan(epochs.back().train.loss));
  EXPECT_TRUE(std::isnan(epochs.back().test.ppl));
  EXPECT_EQ(RawDb(dir.file("r.db")).number("SELECT count(*) FROM run_epochs WHERE train_loss IS NULL"), 1);
}

TEST(Record, AFailureInTheMiddleLeavesNoRows) {
  TempDir dir("record_atomic");
  const std::string path = dir.file("r.db");
  ResultsDb db = ResultsDb::open(path);
  // Fault injection: the second epoch's insert fails, after the sweep, architecture, setting, run and
  // final metrics rows were written.
  RawDb raw(path);
  raw.exec("CREATE TRIGGER fail_second_epoch BEFORE INSERT ON run_epochs WHEN NEW.epoch = 2 "
           "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  const RunRecord run = make_run({});
  EXPECT_NE(error_of([&] { db.record_run(run); }).find("injected failure"), std::string::npos);
  for (const char* table : {"sweeps", "architectures", "task_settings", "runs", "sweep_runs", "run_metrics", "run_epochs"}) {
    EXPECT_EQ(raw.count(table), 0) << table;
  }
  EXPECT_FALSE(db.has_completed(run_key(run)));
  // The same connection writes again once the cause is gone.
  raw.exec("DROP TRIGGER fail_second_epoch");
  EXPECT_TRUE(db.record_run(run));
  EXPECT_EQ(raw.count("run_epochs"), 3);
}

TEST(Record, InconsistentRecordsAreRefusedBeforeWriting) {
  TempDir dir("record_invalid");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  RunRecord no_final = make_run({});
  no_final.final.reset();
  EXPECT_NE(error_of([&] { db.record_run(no_final); }).find("final metrics"), std::string::npos);
  RunRecord no_task = make_run({});
  no_task.task_settings = config::Value::map();
  EXPECT_NE(error_of([&] { db.record_run(no_task); }).find("'task'"), std::string::npos);
  RunRecord bad_epochs = make_run({});
  bad_epochs.epochs[1].epoch = 1;
  EXPECT_NE(error_of([&] { db.record_run(bad_epochs); }).find("epoch numbers"), std::string::npos);
  RunRecord bad_lr = make_run({.lr = -1});
  EXPECT_NE(error_of([&] { db.record_run(bad_lr); }).find("lr"), std::string::npos);
  EXPECT_EQ(RawDb(dir.file("r.db")).count("runs"), 0);
}

TEST(Record, RecordingAKeyAgainWritesNothing) {
  TempDir dir("record_idempotent");
  const std::string path = dir.file("r.db");
  ResultsDb db = ResultsDb::open(path);
  EXPECT_TRUE(db.record_run(make_run({.test_acc = 0.5})));
  // The same run again (a resumed sweep, a second worker), even with other metrics: ignored.
  EXPECT_FALSE(db.record_run(make_run({.test_acc = 0.5})));
  EXPECT_FALSE(db.record_run(make_run({.test_acc = 0.9, .epochs = 5})));
  EXPECT_FALSE(db.record_run(make_run({.status = RunStatus::failed})));
  RawDb raw(path);
  EXPECT_EQ(raw.count("runs"), 1);
  EXPECT_EQ(raw.count("run_metrics"), 1);
  EXPECT_EQ(raw.count("run_epochs"), 3);
  EXPECT_EQ(raw.number("SELECT test_acc FROM run_metrics"), 0.5);
  EXPECT_EQ(raw.text("SELECT status FROM runs"), "completed");
}

TEST(Record, AFailedOrRunningRecordIsReplacedByTheFinalOne) {
  TempDir dir("record_replace");
  const std::string path = dir.file("r.db");
  ResultsDb db = ResultsDb::open(path);
  const std::string key = run_key(make_run({}));
  EXPECT_TRUE(db.record_run(make_run({.status = RunStatus::running, .epochs = 0})));
  EXPECT_FALSE(db.has_completed(key));
  EXPECT_TRUE(db.record_run(make_run({.status = RunStatus::failed, .epochs = 5})));  // replaces running
  EXPECT_FALSE(db.has_completed(key));
  EXPECT_TRUE(db.completed_keys().empty());
  EXPECT_TRUE(db.record_run(make_run({.test_acc = 0.7, .epochs = 2})));  // replaces failed
  EXPECT_TRUE(db.has_completed(key));
  RawDb raw(path);
  EXPECT_EQ(raw.count("runs"), 1);
  EXPECT_EQ(raw.text("SELECT status FROM runs"), "completed");
  EXPECT_EQ(raw.text("SELECT coalesce(error, 'none') FROM runs"), "none");
  // The failed run's five epochs went with it (foreign keys with ON DELETE CASCADE are on).
  EXPECT_EQ(raw.count("run_epochs"), 2);
  EXPECT_EQ(raw.count("sweep_runs"), 1);
}

TEST(Record, DivergedRunsAreFinal) {
  TempDir dir("record_diverged");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  const RunRecord run = make_run({.status = RunStatus::diverged});
  EXPECT_TRUE(db.record_run(run));
  EXPECT_TRUE(db.has_completed(run_key(run)));
  EXPECT_FALSE(db.record_run(make_run({})));
  EXPECT_EQ(db.runs()[0].run.status, RunStatus::diverged);
  EXPECT_EQ(db.runs()[0].run.error, "loss became NaN at epoch 3");
}

TEST(Record, FiltersAndSweepMembership) {
  TempDir dir("record_filters");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  db.record_run(make_run({.lr = 1e-4}));
  db.record_run(make_run({.lr = 5e-4, .status = RunStatus::diverged}));
  db.record_run(make_run({.task = "compression", .status = RunStatus::failed}));
  db.record_run(make_run({.lr = 1e-4, .sweep = "other"}));  // the same key: only joins "other"
  db.record_run(make_run({.architecture = "hyena", .sweep = ""}));
  db.record_sweep("other", config::Value::map());

  EXPECT_EQ(db.runs().size(), 4u);
  EXPECT_EQ(db.runs({.sweep = "test-sweep"}).size(), 3u);
  EXPECT_EQ(db.runs({.sweep = "other"}).size(), 1u);
  EXPECT_EQ(db.runs({.status = RunStatus::failed}).size(), 1u);
  EXPECT_EQ(db.runs({.task = "compression"}).size(), 1u);
  const std::string key = run_key(make_run({.architecture = "hyena"}));
  ASSERT_EQ(db.runs({.key_prefix = key.substr(0, 8)}).size(), 1u);
  EXPECT_EQ(db.runs({.key_prefix = key.substr(0, 8)})[0].key, key);
  EXPECT_EQ(db.completed_keys().size(), 3u);
  EXPECT_EQ(db.completed_keys("test-sweep").size(), 2u);
  EXPECT_EQ(db.completed_keys("other"), std::unordered_set<std::string>{run_key(make_run({.lr = 1e-4}))});
  EXPECT_EQ(db.sweeps(), (std::vector<std::string>{"other", "test-sweep"}));

  db.add_to_sweep("third", key);
  EXPECT_EQ(db.runs({.sweep = "third"}).size(), 1u);
  EXPECT_NE(error_of([&] { db.add_to_sweep("third", "0123"); }).find("no run with key"), std::string::npos);
}

}  // namespace
}  // namespace mad::results
