#include "tasks/task.h"

#include <fmt/format.h>

#include <array>
#include <string>

#include "core/error.h"

namespace mad::tasks {

namespace {

// The six MAD tasks first (all_tasks()), then the extra tasks; in TaskId order.
constexpr std::array<TaskInfo, 7> kTasks = {{
    {TaskId::InContextRecall, "in-context-recall", "CR", Backbone::LanguageModel,
     "train (x[:-1], x[1:]), test (x[:-1], t[1:]); length L-1",
     "key-value pairs; recall the value of every key seen before"},
    {TaskId::NoisyInContextRecall, "noisy-in-context-recall", "NR", Backbone::LanguageModel,
     "train (x[:-1], x[1:]), test (x[:-1], t[1:]); length L-1",
     "in-context recall with pairs replaced by noise tokens"},
    {TaskId::FuzzyInContextRecall, "fuzzy-in-context-recall", "FR", Backbone::LanguageModel,
     "left-padded to L+1, then train (x[:-1], x[1:]), test (x[:-1], t[1:]); length L",
     "keys and values are multi-token motifs of variable size"},
    {TaskId::SelectiveCopying, "selective-copying", "SC", Backbone::LanguageModel,
     "(x, t), no shift; length L", "copy the data tokens scattered among blanks, after the copy token"},
    {TaskId::Compression, "compression", "C", Backbone::Autoencoder, "(x, x); length L",
     "reconstruct the whole sequence from the output at its last position"},
    {TaskId::Memorization, "memorization", "M", Backbone::LanguageModel, "(x, t), no shift; length L",
     "recall values of a fixed key-value map learnt in the weights"},
    {TaskId::Mqar, "mqar", "MQAR", Backbone::LanguageModel, "(x, t), no shift; length L",
     "zoology's multi-query associative recall: key-value pairs, then each key queried once"},
}};
constexpr size_t kMadTasks = 6;

}  // namespace

std::span<const TaskInfo> all_tasks() { return std::span<const TaskInfo>(kTasks).first(kMadTasks); }
std::span<const TaskInfo> extra_tasks() { return std::span<const TaskInfo>(kTasks).subspan(kMadTasks); }
bool is_mad_task(TaskId id) { return static_cast<size_t>(id) < kMadTasks; }

const TaskInfo& task_info(TaskId id) { return kTasks.at(static_cast<size_t>(id)); }

TaskId task_from_name(std::string_view name) {
  std::string names;
  for (const TaskInfo& task : kTasks) {
    if (task.name == name) return task.id;
    names += (names.empty() ? "" : ", ") + std::string(task.name);
  }
  fail(fmt::format("unknown task '{}'; valid tasks: {}", name, names));
}

std::optional<TaskId> task_from_shorthand(std::string_view shorthand) {
  for (const TaskInfo& task : kTasks) {
    if (task.shorthand == shorthand) return task.id;
  }
  return std::nullopt;
}

std::string_view backbone_name(Backbone backbone) {
  return backbone == Backbone::LanguageModel ? "language-model" : "autoencoder";
}

}  // namespace mad::tasks
