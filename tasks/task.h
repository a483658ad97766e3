// The six MAD tasks and the extra tasks (zoology's MQAR): names, shorthands and backbones, in one table.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace mad::tasks {

enum class TaskId {
  InContextRecall,
  NoisyInContextRecall,
  FuzzyInContextRecall,
  SelectiveCopying,
  Compression,
  Memorization,
  // Not a MAD task: reachable by name, never in all_tasks() (so not in the protocol grid or the MAD score).
  Mqar,
};

// The model a task is trained with (mad-protocol.md section 5).
enum class Backbone { LanguageModel, Autoencoder };

struct TaskInfo {
  TaskId id;
  std::string_view name;       // "in-context-recall", as in the reference's task registry
  std::string_view shorthand;  // "CR", as in the reference's directory names
  Backbone backbone;
  std::string_view pairs;      // how (inputs, targets) are formed, for `mad tasks`
  std::string_view summary;
};

// The six MAD tasks in protocol order: the protocol grid, `mad tasks` and the MAD score use these.
std::span<const TaskInfo> all_tasks();
// The tasks beyond MAD (mqar), reachable by name and shorthand but not part of the protocol or its score.
std::span<const TaskInfo> extra_tasks();
// True for the six MAD tasks.
bool is_mad_task(TaskId id);
const TaskInfo& task_info(TaskId id);
// Any task, MAD or extra. Throws mad::Error listing the valid names.
TaskId task_from_name(std::string_view name);
std::optional<TaskId> task_from_shorthand(std::string_view shorthand);
std::string_view backbone_name(Backbone backbone);

}  // namespace mad::tasks
