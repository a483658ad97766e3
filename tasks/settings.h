// Task settings: the reference's parameter names, defaults, validation, and conversion to and from
// configuration values.
//
// Defaults are the reference's MADConfig defaults; each task's protocol baseline overrides some of them
// (configs/tasks/*.yml, see protocol_grid.h). Settings a task does not use must keep their defaults, so a
// flag that would be silently ignored is an error instead.
//
// num_kv_pairs and power_a belong to the extra task mqar only (zoology's names and defaults): they are
// written by to_config, describe and dataset_dir_name for mqar alone, so the settings maps (and with them
// the dataset hashes and run keys) of the six MAD tasks are the same as before mqar existed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "config/value.h"
#include "tasks/task.h"

namespace mad::tasks {

struct TaskSettings {
  TaskId task = TaskId::InContextRecall;
  int64_t vocab_size = 16;
  int64_t seq_len = 128;
  int64_t num_train_examples = 12800;
  int64_t num_test_examples = 1280;
  double frac_noise = 0.0;
  int64_t noise_vocab_size = 0;
  int64_t num_tokens_to_copy = 0;
  int64_t k_motif_size = 1;
  int64_t v_motif_size = 1;
  bool multi_query = true;
  int64_t seed = 12345;
  int64_t num_kv_pairs = 4;  // mqar only; zoology's multiquery_ar default
  double power_a = 0.01;     // mqar only; zoology's default

  friend bool operator==(const TaskSettings&, const TaskSettings&) = default;
};

// One numeric setting: its reference name, where it lives in TaskSettings, and its meaning.
struct SettingField {
  std::string_view name;
  std::variant<int64_t TaskSettings::*, double TaskSettings::*, bool TaskSettings::*> member;
  std::string_view help;
  // Set for a setting of one task only (mqar's): it exists in that task's settings map alone.
  std::optional<TaskId> only_task;
};

// Whether `field` is part of the settings of `task` (to_config, describe, dataset_dir_name).
bool setting_applies(const SettingField& field, TaskId task);

// Every setting except `task`, in the reference's order, then mqar's num_kv_pairs and power_a.
std::span<const SettingField> setting_fields();
// "task" followed by the setting_fields() names: the valid keys of a settings map.
std::span<const std::string_view> setting_names();

// Sets one setting (including "task") from a configuration value; type errors name the value's location.
void set_setting(TaskSettings& settings, std::string_view name, const config::Value& value);
// `base` overridden by every key of `map`; unknown keys are errors that list the valid ones.
TaskSettings settings_from_config(const config::Value& map, TaskSettings base = {});
// The task's settings, task first, as a map (its canonical form identifies the dataset): every setting
// that applies to the task (setting_applies).
config::Value to_config(const TaskSettings& settings);

// Throws mad::Error naming the offending setting, its value and what would be valid.
void validate(const TaskSettings& settings);

// Columns of the (inputs, targets) matrices: seq_len - 1 for the shifted recall tasks, else seq_len
// (mqar included: zoology's inputs and labels are both input_seq_len long).
int64_t sequence_length(const TaskSettings& settings);

// One line: "in-context-recall vocab_size=16 seq_len=128 ..." with every setting that applies to the task.
std::string describe(const TaskSettings& settings);

}  // namespace mad::tasks
