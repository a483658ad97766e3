#include "results/run_key.h"

#include "config/canonical.h"

namespace mad::results {

config::Value to_config(const TrainingSettings& training) {
  config::Value v = config::Value::map();
  v.set("batch_size", config::Value(training.batch_size));
  v.set("epochs", config::Value(training.epochs));
  v.set("lr", config::Value(training.lr));
  v.set("seed", config::Value(training.seed));
  v.set("weight_decay", config::Value(training.weight_decay));
  if (training.precision != "f32") v.set("precision", config::Value(training.precision));
  if (training.weight_decay_groups != "all") v.set("weight_decay_groups", config::Value(training.weight_decay_groups));
  return v;
}

config::Value run_config(const config::Value& architecture_spec, const config::Value& task_settings,
                         const TrainingSettings& training) {
  config::Value v = config::Value::map();
  v.set("architecture", architecture_spec);
  v.set("task", task_settings);
  v.set("training", to_config(training));
  return v;
}

std::string run_key(const config::Value& architecture_spec, const config::Value& task_settings,
                    const TrainingSettings& training) {
  return config::canonical_hash(run_config(architecture_spec, task_settings, training));
}

std::string run_key(const RunRecord& run) {
  return run_key(run.architecture.spec, run.task_settings, run.training);
}

}  // namespace mad::results
