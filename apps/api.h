// What `mad`'s commands compute, as values instead of printed text: the --json outputs of `mad scores`,
// `mad runs`, `mad runs show`, `mad describe`, `mad layers` and `mad train`. The commands print these
// values and the Python module (python/) returns them, so both give the same numbers by construction.
#pragma once

#include <string>

#include "config/value.h"
#include "models/arch_spec.h"
#include "models/describe.h"
#include "tasks/settings.h"
#include "training/trainer.h"

namespace mad::cli {

// `mad scores --db DB [--sweep S] [--by-setting] [--stat STAT] --format json`.
config::Value scores_json(const std::string& db, const std::string& sweep, bool by_setting,
                          const std::string& stat = "mean");
// `mad runs --db DB [--status S] --format json`.
config::Value runs_json(const std::string& db, const std::string& status = "");
// `mad runs show KEY --db DB --format json` (KEY: a unique prefix).
config::Value run_show_json(const std::string& db, const std::string& key);

// `mad describe --json`: the description of `model` built from `spec`, with a training step's FLOPs at `batch`.
config::Value describe_json(const models::ArchSpec& spec, const models::ArchDescription& d, int64_t batch);
// The model `mad describe` describes: at `task`'s baseline shape (task name or shorthand, or empty: a
// language model), with seq_len and vocab_size overridden when > 0.
models::ArchDescription describe_at_task(const models::ArchSpec& spec, const std::string& task, int64_t seq_len,
                                         int64_t vocab_size);

// `mad layers` at width `dim` and length `seq_len`: [{layer, family, mixes, params, state, fixed_state, summary}].
config::Value layers_json(int64_t dim, int64_t seq_len);

// One `mad train` run without checkpoints: data generated from `settings`, the task's model of `spec`
// seeded with the settings' seed, the MAD trainer (config.seed is set from the settings). `observer` may
// be null. Returns the `mad train --json` object.
config::Value train_json(const models::ArchSpec& spec, const tasks::TaskSettings& settings, TrainConfig config,
                         int threads, const std::string& precision, TrainObserver* observer);
// The run key of a `mad train` run (what a sweep records the same run under).
std::string train_key(const models::ArchSpec& spec, const tasks::TaskSettings& settings, const TrainConfig& config,
                      const std::string& precision);

}  // namespace mad::cli
