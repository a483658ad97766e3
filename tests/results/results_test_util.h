// Helpers shared by the results tests: temporary databases, sample runs, and plain SQLite access that
// does not go through the library (so that checks of what the library wrote are independent of it).
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/support/test_util.h"
#include "results/record.h"
#include "results/results_db.h"

namespace mad::results::testing {

using mad::testing::error_of;
using mad::testing::TempDir;


// A plain sqlite3 connection for checks and for setting up bad databases.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("RawDb: cannot open " + path);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message ? message : "?";
      sqlite3_free(message);
      throw std::runtime_error("RawDb: " + text + " in: " + sql);
    }
  }
  // The first column of the first row; NaN for NULL or no row.
  double number(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("RawDb: ") + sqlite3_errmsg(db_) + " in: " + sql);
    }
    double v = std::nan("");
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
  }
  int64_t count(const std::string& table) { return static_cast<int64_t>(number("SELECT count(*) FROM " + table)); }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("RawDb: ") + sqlite3_errmsg(db_) + " in: " + sql);
    }
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// What a sample run varies; everything else is fixed.
struct SampleRun {
  std::string architecture = "transformer";
  std::string task = "in-context-recall";
  int64_t vocab_size = 16;
  double lr = 1e-3;
  double weight_decay = 0.0;
  RunStatus status = RunStatus::completed;
  double test_acc = 0.9;  // the reported (best epoch's) test MAD accuracy
  int64_t epochs = 3;     // epochs recorded
  std::string sweep = "test-sweep";
  std::optional<int64_t> seed = {};  // set: the training seed and a "seed" task setting (a sweep's seeds:)
};

inline config::Value architecture_spec(const std::string& name) {
  config::Value spec = config::Value::map();
  spec.set("dim", config::Value(128));
  config::Value layers = config::Value::list();
  layers.push_back(config::Value(name));
  layers.push_back(config::Value("swiglu"));
  spec.set("layers", layers);
  return spec;
}

inline config::Value task_settings(const std::string& task, int64_t vocab_size) {
  config::Value s = config::Value::map();
  s.set("task", config::Value(task));
  s.set("vocab_size", config::Value(vocab_size));
  s.set("seq_len", config::Value(128));
  return s;
}

inline RunRecord make_run(const SampleRun& o) {
  RunRecord r;
  r.sweep = o.sweep;
  r.architecture = ArchitectureInfo{o.architecture, architecture_spec(o.architecture), 200000, 4096, true};
  r.task_settings = task_settings(o.task, o.vocab_size);
  r.training = TrainingSettings{o.lr, o.weight_decay, 200, 128, o.seed.value_or(12345)};
  if (o.seed) r.task_settings.set("seed", config::Value(*o.seed));
  r.status = o.status;
  r.provenance = Provenance{"0.1.0", "-march=x86-64-v3", 1, "testhost", "2024-05-01T12:00:00Z", "2024-05-01T12:05:00Z"};
  for (int64_t e = 1; e <= o.epochs; ++e) {
    const double f = static_cast<double>(e) / static_cast<double>(o.epochs);
    r.epochs.push_back(EpochMetrics{e, o.lr * (1 - 0.5 * f), Metrics{2 - f, std::exp(2 - f), 0.5 * f, 0.6 * f},
                                    Metrics{2.1 - f, std::exp(2.1 - f), o.test_acc * f, 0.95 * f}, 1.5});
  }
  if (o.status == RunStatus::completed || (o.status == RunStatus::diverged && o.epochs > 0)) {
    FinalMetrics f;
    f.best_epoch = o.epochs;
    f.train = Metrics{1.0, std::exp(1.0), 0.5, 0.6};
    f.test = Metrics{1.1, std::exp(1.1), o.test_acc, 0.95};
    f.last_test = f.test;
    f.epochs_run = o.epochs;
    f.seconds = 1.5 * static_cast<double>(o.epochs);
    r.final = f;
  }
  if (o.status == RunStatus::diverged) r.error = "loss became NaN at epoch 3";
  if (o.status == RunStatus::failed) r.error = "worker killed";
  if (o.status == RunStatus::running) r.provenance.finished_at.clear();
  return r;
}

inline const std::string kRecall = "in-context-recall";
inline const std::string kCompression = "compression";

// The scores example: two architectures, two tasks. By hand:
//   A recall:      V16 best of {0.5, 0.7} (the diverged 0.99 and the failed run are dropped) = 0.7;
//                  V32 best of {0.4, 0.6} = 0.6; task score 0.65
//   A compression: 0.8 (1 of 2 expected settings: incomplete)
//   A mean:        (0.65 + 0.8) / 2 = 0.725
//   B recall:      V16 0.3; V32 has only a running run: 1 setting, incomplete; 0.3
//   B compression: best of {0.9, NaN} = 0.9 (the NaN run dropped)
//   B mean:        0.6
// `only` (if not empty) records the runs of that architecture alone. Returns the number recorded.
inline int record_example(ResultsDb& db, const std::string& only = "") {
  const SampleRun runs[] = {
      {.architecture = "A", .lr = 1e-4, .test_acc = 0.5},
      {.architecture = "A", .lr = 1e-3, .test_acc = 0.7},
      {.architecture = "A", .lr = 1e-3, .weight_decay = 0.1, .status = RunStatus::diverged, .test_acc = 0.99},
      {.architecture = "A", .lr = 5e-4, .status = RunStatus::failed},
      {.architecture = "A", .vocab_size = 32, .lr = 1e-4, .test_acc = 0.4},
      {.architecture = "A", .vocab_size = 32, .lr = 1e-3, .test_acc = 0.6},
      {.architecture = "A", .task = kCompression, .test_acc = 0.8},
      {.architecture = "B", .test_acc = 0.3, .sweep = "sweep-b"},
      {.architecture = "B", .vocab_size = 32, .status = RunStatus::running, .epochs = 0, .sweep = "sweep-b"},
      {.architecture = "B", .task = kCompression, .lr = 1e-4, .test_acc = 0.9, .sweep = "sweep-b"},
      {.architecture = "B", .task = kCompression, .lr = 1e-3, .test_acc = NAN, .sweep = "sweep-b"},
  };
  int recorded = 0;
  for (const SampleRun& run : runs) {
    if (!only.empty() && run.architecture != only) continue;
    if (!db.record_run(make_run(run))) throw std::runtime_error("record_example: a run was not recorded");
    ++recorded;
  }
  return recorded;
}

// The seeds example: seeds 1-4 on one recall setting (V16). A: 0.5, 0.6, 0.7, 0.8. B: A + {0.2, 0.4, 0.6,
// 0.8} (B - A: mean 0.5, 95% bootstrap interval [0.3, 0.7], clear of 0); C: A + {-0.1, 0.1, -0.1, 0.1}
// (interval [-0.1, 0.1]: not a difference). B also has seed 5 (0.0), which no other architecture pairs.
inline void record_seed_example(ResultsDb& db) {
  const double a[] = {0.5, 0.6, 0.7, 0.8}, b[] = {0.2, 0.4, 0.6, 0.8}, c[] = {-0.1, 0.1, -0.1, 0.1};
  for (int64_t seed = 1; seed <= 4; ++seed) {
    const size_t i = static_cast<size_t>(seed - 1);
    db.record_run(make_run({.architecture = "A", .test_acc = a[i], .seed = seed}));
    db.record_run(make_run({.architecture = "B", .test_acc = a[i] + b[i], .seed = seed}));
    db.record_run(make_run({.architecture = "C", .test_acc = a[i] + c[i], .seed = seed}));
  }
  db.record_run(make_run({.architecture = "B", .test_acc = 0.0, .seed = 5}));
}

}  // namespace mad::results::testing
