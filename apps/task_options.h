// The task-setting flags shared by `mad data generate` and `mad train`: --task, --settings FILE and one
// flag per setting with the reference's names (dashes for underscores: --vocab-size, --seq-len, ...).
// Settings resolve as: the task's protocol baseline, overridden by the file, overridden by the flags.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tasks/settings.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace mad::cli {

struct TaskOptions {
  std::string task;
  std::string settings_file;
  std::vector<std::pair<std::string_view, CLI::Option*>> setting_flags;
  std::vector<std::string> setting_texts;  // each flag read as a YAML scalar
  CLI::Option* task_option = nullptr;

  // True when --task or any setting flag was given.
  bool any_given() const;
};

// Adds the flags to `cmd`; `task_required` makes --task mandatory.
void add_task_options(CLI::App* cmd, TaskOptions& options, bool task_required);

// The baseline of `options.task` (or of `base` when given), then the file, then the flags; validated.
tasks::TaskSettings resolve_task_settings(const TaskOptions& options);
tasks::TaskSettings resolve_task_settings(const TaskOptions& options, tasks::TaskSettings base);

}  // namespace mad::cli
