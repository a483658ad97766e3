#include "apps/task_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "config/yaml.h"
#include "core/error.h"
#include "tasks/protocol_grid.h"

namespace mad::cli {

bool TaskOptions::any_given() const {
  if (task_option && task_option->count()) return true;
  if (!settings_file.empty()) return true;
  for (const auto& [name, option] : setting_flags)
    if (option->count()) return true;
  return false;
}

void add_task_options(CLI::App* cmd, TaskOptions& o, bool task_required) {
  o.task_option = cmd->add_option("--task", o.task, "task name (see 'mad tasks')");
  if (task_required) o.task_option->required();
  cmd->add_option("--settings", o.settings_file, "YAML file of task settings (flags override it)");
  const std::span<const tasks::SettingField> fields = tasks::setting_fields();
  o.setting_texts.resize(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string flag = "--" + std::string(fields[i].name);
    std::replace(flag.begin(), flag.end(), '_', '-');
    o.setting_flags.emplace_back(fields[i].name, cmd->add_option(flag, o.setting_texts[i], std::string(fields[i].help)));
  }
}

tasks::TaskSettings resolve_task_settings(const TaskOptions& o) {
  MAD_CHECK(!o.task.empty(), "no task given; use --task (see 'mad tasks')");
  return resolve_task_settings(o, tasks::protocol_grid(tasks::task_from_name(o.task)).baseline);
}

tasks::TaskSettings resolve_task_settings(const TaskOptions& o, tasks::TaskSettings settings) {
  if (!o.settings_file.empty()) {
    const config::Value file = config::load_file(o.settings_file);
    if (const config::Value* task = file.find("task")) {
      MAD_CHECK(tasks::task_from_name(task->as_string()) == settings.task, "{}: task '{}' differs from --task {}",
                task->where(), task->as_string(), o.task);
    }
    settings = tasks::settings_from_config(file, settings);
  }
  for (size_t i = 0; i < o.setting_flags.size(); ++i) {
    const auto& [name, option] = o.setting_flags[i];
    if (option->count() == 0) continue;
    // Type errors read "--vocab-size: expected an integer, got 'abc'".
    tasks::set_setting(settings, name, config::parse_scalar(o.setting_texts[i], config::Location{option->get_name(), 0}));
  }
  tasks::validate(settings);
  return settings;
}

}  // namespace mad::cli
