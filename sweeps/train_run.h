// One planned run trained into a results record: data generated from the task setting, the task's
// backbone built from the architecture and seeded with the run's seed, the MAD trainer, and the outcome
// converted to what the results store records. `mad train` builds its model the same way.
#pragma once

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

// The record of `run` before training: architecture (with its facts), task setting, training settings,
// status running and this process's provenance.
results::RunRecord planned_record(const SweepSpec& spec, const PlannedRun& run, int threads);

// Trains `run` on the calling thread plus the pool (set_num_threads beforehand) and returns its record:
// completed or diverged, with final metrics (when an epoch finished) and every epoch.
results::RunRecord train_planned_run(const SweepSpec& spec, const PlannedRun& run, int threads,
                                     TrainObserver* observer = nullptr);

}  // namespace mad::sweeps
