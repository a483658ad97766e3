// The six MAD tasks: names, shorthands and backbones, in one table.
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

// All tasks in protocol order.
std::span<const TaskInfo> all_tasks();
const TaskInfo& task_info(TaskId id);
// Throws mad::Error listing the valid names.
TaskId task_from_name(std::string_view name);
std::optional<TaskId> task_from_shorthand(std::string_view shorthand);
std::string_view backbone_name(Backbone backbone);

}  // namespace mad::tasks
