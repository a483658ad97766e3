// The deterministic identity of a training run.
//
// run_key = SHA-256 (64 lowercase hex digits) of the canonical JSON of
//   {"architecture": <resolved architecture spec>,
//    "task": <resolved task settings>,
//    "training": {"batch_size": B, "epochs": E, "lr": LR, "seed": S, "weight_decay": WD}}
// with lr and weight_decay always written as doubles (0.0, not 0). Two runs with the same key train the
// same model on the same data in the same way, so a sweep skips a key already recorded and a merge keeps
// one row per key. The sweep, the architecture's name and the provenance are not part of the key.
// Because the canonical form is Python's json.dumps(sort_keys=True), the key can be recomputed outside
// madcpp (the runs.config column holds the hashed text).
#pragma once

#include <string>

#include "config/value.h"
#include "results/record.h"

namespace mad::results {

// The training settings as a map (the "training" entry above).
config::Value to_config(const TrainingSettings& training);
// The hashed document: {"architecture", "task", "training"}.
config::Value run_config(const config::Value& architecture_spec, const config::Value& task_settings,
                         const TrainingSettings& training);
std::string run_key(const config::Value& architecture_spec, const config::Value& task_settings,
                    const TrainingSettings& training);
std::string run_key(const RunRecord& run);

}  // namespace mad::results
