#include "results/record.h"

#include <array>

#include "core/error.h"

namespace mad::results {

namespace {

constexpr std::array<std::pair<RunStatus, std::string_view>, 6> kStatusNames{{
    {RunStatus::completed, "completed"}, {RunStatus::diverged, "diverged"}, {RunStatus::failed, "failed"},
    {RunStatus::running, "running"},     {RunStatus::paused, "paused"},     {RunStatus::pruned, "pruned"},
}};

}  // namespace

std::string_view status_name(RunStatus status) {
  for (const auto& [s, name] : kStatusNames) {
    if (s == status) return name;
  }
  fail("status_name: unknown RunStatus value");
}

RunStatus status_from_name(std::string_view name) {
  for (const auto& [s, n] : kStatusNames) {
    if (n == name) return s;
  }
  fail(fmt::format("unknown run status '{}'; valid statuses: completed, diverged, failed, running, paused, pruned",
                   name));
}

bool is_final(RunStatus status) { return status == RunStatus::completed || status == RunStatus::diverged; }

std::string task_of(const config::Value& task_settings) {
  const config::Value* task = task_settings.is_map() ? task_settings.find("task") : nullptr;
  MAD_CHECK(task != nullptr && task->kind() == config::Value::Kind::String,
            "task settings must be a map with a string 'task' entry (the task's name), got {}",
            task_settings.describe());
  return task->as_string();
}

}  // namespace mad::results
