#include "results/scores.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "config/canonical.h"

namespace mad::results {

namespace {

// "name", or "name [hash8]" when another architecture has the same name.
std::map<std::string, std::string> display_names(std::span<const StoredRun> runs) {
  std::map<std::string, std::string> name_of;  // hash -> name
  for (const StoredRun& r : runs) name_of.emplace(r.architecture_hash, r.run.architecture.name);
  std::map<std::string, int> uses;
  for (const auto& [hash, name] : name_of) ++uses[name];
  for (auto& [hash, name] : name_of) {
    if (uses[name] > 1) name = fmt::format("{} [{}]", name, hash.substr(0, 8));
  }
  return name_of;
}

// The result a run contributes to its setting's score, or nullopt when it is dropped.
std::optional<double> accuracy(const RunRecord& run) {
  if (run.status != RunStatus::completed || !run.final || std::isnan(run.final->test.acc)) return std::nullopt;
  return run.final->test.acc;
}

std::optional<double> mean(const std::vector<double>& values) {
  if (values.empty()) return std::nullopt;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

}  // namespace

const TaskScore* ScoreTable::find(std::string_view architecture, std::string_view task) const {
  for (const TaskScore& cell : cells) {
    if (cell.architecture == architecture && cell.task == task) return &cell;
  }
  return nullptr;
}

ScoreTable mad_scores(std::span<const StoredRun> runs, const ScoreOptions& options) {
  const std::map<std::string, std::string> name_of = display_names(runs);

  // Best accuracy per (architecture, task, setting), keyed so that the map iterates in output order.
  using SettingKey = std::tuple<std::string, std::string, std::string, std::string>;  // name, hash, task, settings
  std::map<SettingKey, SettingScore> per_setting;
  std::map<std::string, std::set<std::string>> settings_of_task;  // task -> setting hashes present
  for (const StoredRun& r : runs) {
    const std::string task = task_of(r.run.task_settings);
    settings_of_task[task].insert(r.setting_hash);
    if (r.run.status == RunStatus::running) continue;
    const std::string& name = name_of.at(r.architecture_hash);
    SettingScore& s = per_setting[{name, r.architecture_hash, task, config::canonical(r.run.task_settings)}];
    if (s.architecture.empty()) {
      s.architecture = name;
      s.architecture_hash = r.architecture_hash;
      s.task = task;
      s.setting_hash = r.setting_hash;
      s.settings = r.run.task_settings;
    }
    const std::optional<double> acc = accuracy(r.run);
    if (!acc) {
      ++s.dropped;
      continue;
    }
    ++s.runs;
    const TrainingSettings& t = r.run.training;
    const bool better = !s.score || *acc > *s.score ||
                        (*acc == *s.score && std::pair(t.lr, t.weight_decay) < std::pair(s.lr, s.weight_decay));
    if (better) {
      s.score = acc;
      s.lr = t.lr;
      s.weight_decay = t.weight_decay;
    }
  }

  // Columns: the expected tasks in the caller's order, then any other task present, by name.
  ScoreTable table;
  std::map<std::string, int64_t> expected;
  for (const TaskExpectation& e : options.expected) {
    table.tasks.push_back(e.task);
    expected[e.task] = e.settings;
  }
  for (const auto& [task, hashes] : settings_of_task) {
    if (expected.emplace(task, static_cast<int64_t>(hashes.size())).second) table.tasks.push_back(task);
  }

  // Rows: architectures by display name (the map orders its keys that way).
  std::map<std::string, std::string> hash_of;  // display name -> hash
  for (const auto& [hash, name] : name_of) hash_of.emplace(name, hash);
  for (const auto& [name, hash] : hash_of) {
    table.architectures.push_back(name);
    TaskScore overall;
    overall.architecture = name;
    overall.architecture_hash = hash;
    overall.task = kOverallTask;
    std::vector<double> task_scores;
    for (const std::string& task : table.tasks) {
      TaskScore cell;
      cell.architecture = name;
      cell.architecture_hash = hash;
      cell.task = task;
      cell.expected_settings = expected.at(task);
      std::vector<double> setting_scores;
      for (const auto& [key, s] : per_setting) {
        if (s.architecture_hash != hash || s.task != task) continue;
        table.settings.push_back(s);
        cell.runs += s.runs;
        cell.dropped += s.dropped;
        if (s.score) setting_scores.push_back(*s.score);
      }
      cell.settings = static_cast<int64_t>(setting_scores.size());
      cell.score = mean(setting_scores);
      cell.incomplete = cell.settings < cell.expected_settings;
      if (cell.score) task_scores.push_back(*cell.score);
      overall.settings += cell.settings;
      overall.expected_settings += cell.expected_settings;
      overall.runs += cell.runs;
      overall.dropped += cell.dropped;
      overall.incomplete = overall.incomplete || cell.incomplete || !cell.score;
      table.cells.push_back(std::move(cell));
    }
    overall.score = mean(task_scores);
    table.cells.push_back(std::move(overall));
  }
  return table;
}

}  // namespace mad::results
