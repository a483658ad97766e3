// What the results store records about one training run, as plain structs.
//
// results/ knows nothing of models/, tasks/ or training/: an architecture and a task setting arrive as
// configuration values (their resolved, canonical forms), metrics as plain numbers. The sweep runner
// fills a RunRecord from its TrainResult and hands it to ResultsDb::record_run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"

namespace mad::results {

// completed and diverged are final: training is deterministic, so running the same key again would give
// the same outcome. The others are not, and a later record of the same key replaces them:
//   failed   an error outside training (out of memory, a killed worker);
//   running  a claim by a worker in progress;
//   paused   stopped at a rung of a successive-halving search (sweeps/halving.h), checkpointed, waiting
//            for the rung's decision;
//   pruned   stopped at a rung because the search's decision dropped it. Final for that search (it never
//            trains the run again), but not for a grid search over the same key, which trains it on.
// paused, pruned and failed runs keep the epochs they trained: a search's decisions are computed from them.
enum class RunStatus { completed, diverged, failed, running, paused, pruned };

std::string_view status_name(RunStatus status);
// Throws mad::Error listing the valid names.
RunStatus status_from_name(std::string_view name);
bool is_final(RunStatus status);

// The metrics of one split. A NaN (a diverged loss) is stored as SQL NULL.
struct Metrics {
  double loss = 0, ppl = 0, acc = 0, token_acc = 0;  // acc is the MAD (macro) accuracy
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double lr = 0;      // the learning rate of this epoch
  Metrics train;      // running means over the epoch's training steps
  Metrics test;
  double seconds = 0;
};

// What the run reports: the metrics of the epoch with the lowest test perplexity (mad-protocol.md
// section 3), plus the last epoch's test metrics so other selections stay possible.
struct FinalMetrics {
  int64_t best_epoch = 0;  // 1-based
  Metrics train;           // whole train set, best epoch's weights
  Metrics test;            // test set, best epoch
  Metrics last_test;       // test set, last epoch run
  int64_t epochs_run = 0;
  double seconds = 0;
};

struct ArchitectureInfo {
  std::string name;       // the name a sweep gave it (the first name recorded for a spec is kept)
  config::Value spec;     // the resolved spec; its canonical form and hash identify the architecture
  int64_t params = 0;     // parameter count as the caller defines it (conventionally without embeddings)
  int64_t state_size = 0; // floats per sequence summed over the sequence mixers (mad-protocol.md section 7)
  bool fixed_state = true;  // false when the state grows with the sequence length (softmax attention)
};

// The training settings that are part of a run's identity.
struct TrainingSettings {
  double lr = 5e-4;
  double weight_decay = 0.0;
  int64_t epochs = 200;
  int64_t batch_size = 128;
  int64_t seed = 12345;
  // f32 | bf16 (kernels/precision.h). Part of the key only when not f32, so every f32 run keeps the key
  // it had before precision existed.
  std::string precision = "f32";
  // all | no_norm_bias (training/adamw.h). Part of the key only when not all, so every run keeps the key it
  // had before weight-decay groups existed.
  std::string weight_decay_groups = "all";
};

// Where and how a run was made (style.md habit 10).
struct Provenance {
  std::string code_version;  // mad's version (and commit when known)
  std::string build_flags;   // e.g. "-march=x86-64-v3"
  int64_t threads = 1;
  std::string host;
  std::string started_at;    // ISO 8601 UTC, e.g. 2024-05-01T12:00:00Z
  std::string finished_at;   // empty while running
  int64_t pid = 0;           // the recording process (a sweep runner's claim is checked against it)
};

struct RunRecord {
  std::string sweep;             // empty: a run outside any sweep
  ArchitectureInfo architecture;
  config::Value task_settings;   // resolved settings as a map with a string "task" (the task's name)
  TrainingSettings training;
  RunStatus status = RunStatus::completed;
  Provenance provenance;
  std::string error;             // why the run diverged or failed
  std::optional<FinalMetrics> final;  // required when completed; none for a diverged run (its reason is in
                                      // `error`); paused and pruned runs: the epochs so far (train metrics NaN)
  std::vector<EpochMetrics> epochs;   // in order, epoch numbers increasing
  // Process CPU time the run's training took (every segment of a run paused at rungs), not wall time;
  // nullopt when unknown (runs recorded before schema version 3).
  std::optional<double> cpu_seconds;
};

// A run read back from a database. epochs is left empty (ResultsDb::epochs reads them).
struct StoredRun {
  std::string key;
  std::string architecture_hash;
  std::string setting_hash;
  RunRecord run;
};

// The task name of a settings map (its "task" entry); throws mad::Error when it has none.
std::string task_of(const config::Value& task_settings);

}  // namespace mad::results
