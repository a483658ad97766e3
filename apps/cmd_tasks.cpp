// `mad tasks`: the six MAD tasks with their backbones, token layouts and protocol baselines; with
// --grid, every setting of the protocol grid and its reference directory name.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "apps/commands.h"
#include "config/canonical.h"
#include "tasks/dataset_name.h"
#include "tasks/protocol_grid.h"

namespace mad::cli {
namespace {

struct TasksOptions {
  bool grid = false;
};

// "name=value" of one setting.
std::string setting_text(const tasks::TaskSettings& s, const tasks::SettingField& field) {
  return std::visit(
      [&](auto member) {
        const auto value = s.*member;
        if constexpr (std::is_same_v<decltype(value), const double>) {
          return fmt::format("{}={}", field.name, config::format_double(value));
        } else {
          return fmt::format("{}={}", field.name, value);
        }
      },
      field.member);
}

bool differs(const tasks::TaskSettings& a, const tasks::TaskSettings& b, const tasks::SettingField& field) {
  return std::visit([&](auto member) { return a.*member != b.*member; }, field.member);
}

// The settings that define a baseline: size and length always, anything else that is not a default.
std::string baseline_text(const tasks::TaskSettings& s) {
  const tasks::TaskSettings defaults;
  std::vector<std::string> parts;
  for (const tasks::SettingField& field : tasks::setting_fields()) {
    const bool always = field.name == "vocab_size" || field.name == "seq_len" || field.name == "num_train_examples";
    if (always || differs(s, defaults, field)) parts.push_back(setting_text(s, field));
  }
  return fmt::format("{}", fmt::join(parts, " "));
}

// "vocab_size=32" for a grid setting that differs from its baseline in one factor, "baseline" for the baseline.
std::string change_text(const tasks::TaskSettings& s, const tasks::TaskSettings& baseline) {
  for (const tasks::SettingField& field : tasks::setting_fields()) {
    if (differs(s, baseline, field)) return setting_text(s, field);
  }
  return "baseline";
}

void print_task(const tasks::TaskInfo& task) {
  const tasks::TaskGrid& grid = tasks::protocol_grid(task.id);
  fmt::print("\n{} ({}), {} backbone, {} settings\n", task.name, task.shorthand, tasks::backbone_name(task.backbone),
             tasks::expand_grid(grid).size());
  fmt::print("  {}\n", task.summary);
  fmt::print("  pairs:    {}\n", task.pairs);
  fmt::print("  baseline: {}\n", baseline_text(grid.baseline));
  std::vector<std::string> changes;
  for (const auto& [name, values] : grid.changes) {
    std::vector<std::string> texts;
    for (const config::Value& v : values) texts.push_back(config::canonical(v));
    changes.push_back(fmt::format("{} {}", name, fmt::join(texts, ", ")));
  }
  fmt::print("  changes:  {}\n", fmt::join(changes, "; "));
}

void print_tasks() {
  fmt::print("The six MAD tasks and their protocol baselines (mad tasks --grid lists all 66 settings):\n");
  for (const tasks::TaskInfo& task : tasks::all_tasks()) print_task(task);
  fmt::print("\nExtra tasks, outside the MAD protocol and the MAD score (by name: --task, sweep specs):\n");
  for (const tasks::TaskInfo& task : tasks::extra_tasks()) print_task(task);
}

void print_grid() {
  fmt::print("{:>3}  {:<24} {:<24} {}\n", "#", "task", "change", "reference directory name");
  int index = 0;
  for (const tasks::TaskInfo& task : tasks::all_tasks()) {
    const tasks::TaskGrid& grid = tasks::protocol_grid(task.id);
    for (const tasks::TaskSettings& s : tasks::expand_grid(grid)) {
      fmt::print("{:>3}  {:<24} {:<24} {}\n", ++index, task.name, change_text(s, grid.baseline),
                 tasks::dataset_dir_name(s));
    }
  }
}

}  // namespace

void setup_tasks(CLI::App& app) {
  auto options = std::make_shared<TasksOptions>();
  CLI::App* cmd = app.add_subcommand("tasks", "List the six MAD tasks (and the extra task mqar) with their token layouts and baselines");
  cmd->add_flag("--grid", options->grid, "list every protocol setting (66) with its reference directory name");
  cmd->callback([options] { options->grid ? print_grid() : print_tasks(); });
}

}  // namespace mad::cli
