#include "tasks/protocol_grid.h"

#include <map>
#include <string_view>

#include "config/yaml.h"
#include "core/error.h"
#include "tasks/protocol_grid_files.h"

namespace mad::tasks {

TaskGrid parse_task_grid(TaskId task, const config::Value& document) {
  document.check_keys({"baseline", "changes"}, "a task grid");
  TaskGrid grid;
  TaskSettings defaults;
  defaults.task = task;
  const config::Value* baseline = document.find("baseline");
  if (baseline != nullptr) {
    MAD_CHECK(!baseline->contains("task"), "{}: the task is given by the file, not by a 'task' key",
              baseline->where());
    grid.baseline = settings_from_config(*baseline, defaults);
  } else {
    grid.baseline = defaults;
  }
  const config::Value* changes = document.find("changes");
  if (changes != nullptr && !changes->is_null()) {
    changes->check_keys(setting_names().subspan(1), "grid changes");  // every setting but the task
    for (const config::Value::Entry& entry : changes->as_map()) {
      grid.changes.emplace_back(entry.first, entry.second.as_list());
    }
  }
  return grid;
}

TaskGrid load_task_grid(TaskId task, const std::filesystem::path& path) {
  return parse_task_grid(task, config::load_file(path));
}

std::vector<TaskSettings> expand_grid(const TaskGrid& grid) {
  std::vector<TaskSettings> settings{grid.baseline};
  for (const auto& [name, values] : grid.changes) {
    for (const config::Value& value : values) {
      TaskSettings changed = grid.baseline;
      set_setting(changed, name, value);
      settings.push_back(changed);
    }
  }
  for (const TaskSettings& s : settings) validate(s);
  return settings;
}

const TaskGrid& protocol_grid(TaskId task) {
  // Parsed once, on first use.
  static const std::map<TaskId, TaskGrid> grids = [] {
    std::map<TaskId, TaskGrid> out;
    for (const EmbeddedGridFile& file : kEmbeddedGridFiles) {
      const std::string_view path = file.path;
      const std::string_view stem = path.substr(path.rfind('/') + 1, path.size() - path.rfind('/') - 5);
      const TaskId id = task_from_name(stem);
      out.emplace(id, parse_task_grid(id, config::load_string(file.text, path)));
    }
    return out;
  }();
  return grids.at(task);
}

std::vector<TaskSettings> protocol_settings() {
  std::vector<TaskSettings> out;
  for (const TaskInfo& task : all_tasks()) {
    for (const TaskSettings& s : expand_grid(protocol_grid(task.id))) out.push_back(s);
  }
  return out;
}

}  // namespace mad::tasks
