// The protocol grid (mad-protocol.md section 2): each task's baseline and the changes varied one at a
// time, as data in configs/tasks/<task>.yml:
//
//   baseline:            # settings that differ from the TaskSettings defaults
//     vocab_size: 16
//   changes:             # each value of each key replaces the baseline's, alone
//     vocab_size: [32, 64, 128]
//
// The same format as the reference's files. The six protocol files, and configs/tasks/mqar.yml (the grid
// of the extra task mqar, outside the protocol), are compiled into the library (so `mad` runs from any
// directory); editing one re-runs CMake.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/value.h"
#include "tasks/settings.h"

namespace mad::tasks {

struct TaskGrid {
  TaskSettings baseline;
  // (setting name, values) in file order.
  std::vector<std::pair<std::string, std::vector<config::Value>>> changes;
};

// Parses a grid document for `task`; unknown keys and ill-typed values are errors naming file and line.
TaskGrid parse_task_grid(TaskId task, const config::Value& document);
TaskGrid load_task_grid(TaskId task, const std::filesystem::path& path);

// The baseline, then every change in file order; each setting is validated.
std::vector<TaskSettings> expand_grid(const TaskGrid& grid);

// The grid of configs/tasks/<task>.yml as compiled in (mqar's included).
const TaskGrid& protocol_grid(TaskId task);
// All protocol settings, task by task in all_tasks() order (66 in total).
std::vector<TaskSettings> protocol_settings();

}  // namespace mad::tasks
