// One planned run trained into a results record: data generated from the task setting, the task's
// backbone built from the architecture and seeded with the run's seed, the MAD trainer, and the outcome
// converted to what the results store records. `mad train` builds its model the same way.
#pragma once

#include <filesystem>
#include <string>

#include "models/backbone.h"
#include "models/normalize.h"
#include "results/record.h"
#include "sweeps/sweep_plan.h"
#include "tasks/dataset.h"
#include "training/trainer.h"

namespace mad::sweeps {

// The backbone the task trains (language model or autoencoder) at the task's vocabulary and input length;
// parameters declared, not yet initialised.
models::Model build_task_model(const models::ArchSpec& spec, const tasks::TaskSettings& settings);

// The same shape for models::normalize: backbone, vocabulary and input length of the task setting.
models::NormalizeShape task_shape(const tasks::TaskSettings& settings);

// The dataset's token matrices as tensors: inputs and targets [N, L] int32.
TrainData train_data(const tasks::Dataset& dataset);

// The trainer's settings of `run` (its training settings; the protocol's min_lr and early stop).
TrainConfig train_config(const PlannedRun& run);

// The record of `run` before training: architecture (with its facts), task setting, training settings,
// status running and this process's provenance.
results::RunRecord planned_record(const SweepSpec& spec, const PlannedRun& run, int threads);

// One stretch of a run's training: from its checkpoint (when there is one) to epoch `target`. A halving
// search trains a run in segments that end at its rungs; a grid search in one segment to the end.
struct Segment {
  int64_t target = 0;                // the epoch to stop after; the run's epochs (or 0): to the end
  std::filesystem::path checkpoint;  // where the run is saved when it pauses, and resumed from; empty: none
  double prior_cpu_seconds = 0;      // CPU time of the run's earlier segments
  std::string started_at;            // when the run's first segment started; empty: now
};

// Trains `run` on the calling thread plus the pool (set_num_threads beforehand) and returns its record,
// with every epoch so far and the process CPU time of all its segments:
//   completed (all epochs or early stop), with final metrics; or diverged (NaN or Inf loss, Inf test
//   perplexity), without final metrics (null), the reason in `error`; or
//   paused at `segment.target` < epochs, checkpointed to `segment.checkpoint` first, with the metrics it
//   would report if it stopped there (train metrics NaN: the whole train set is evaluated only at the end).
// A checkpoint of another run, beyond the target or unreadable is ignored and the run starts over:
// training is deterministic, so it reaches the same epochs again.
results::RunRecord train_segment(const SweepSpec& spec, const PlannedRun& run, int threads, const Segment& segment,
                                 TrainObserver* observer = nullptr);

// The whole run in one segment, without a checkpoint.
results::RunRecord train_planned_run(const SweepSpec& spec, const PlannedRun& run, int threads,
                                     TrainObserver* observer = nullptr);

// Process CPU seconds so far (every thread of this process).
double process_cpu_seconds();

}  // namespace mad::sweeps
