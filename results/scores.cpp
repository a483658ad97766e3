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

namespace {

// The settings a seed belongs to: the task settings without their seed.
config::Value without_seed(const config::Value& settings) {
  config::Value out = config::Value::map();
  for (const auto& [key, value] : settings.as_map()) {
    if (key != "seed") out.set(key, value);
  }
  return out;
}

// One seed of one setting: the best run of its grid.
struct SeedBest {
  std::optional<double> score;
  double lr = 0, weight_decay = 0;
};

std::vector<double> values_of(const SeedScores& per_seed) {
  std::vector<double> out;
  for (const auto& [seed, v] : per_seed) out.push_back(v);
  return out;
}

}  // namespace

ScoreTable mad_scores(std::span<const StoredRun> runs, const ScoreOptions& options) {
  const std::map<std::string, std::string> name_of = display_names(runs);
  const bool use_max = options.stat == ScoreOptions::Stat::max;

  // Best accuracy per (architecture, task, setting) and seed, keyed so that the map iterates in output order.
  using SettingKey = std::tuple<std::string, std::string, std::string, std::string>;  // name, hash, task, settings
  std::map<SettingKey, SettingScore> per_setting;
  std::map<SettingKey, std::map<int64_t, SeedBest>> best_of;
  std::map<std::string, std::set<std::string>> settings_of_task;  // task -> settings present (without seed)
  for (const StoredRun& r : runs) {
    const std::string task = task_of(r.run.task_settings);
    const config::Value settings = without_seed(r.run.task_settings);
    const std::string canonical = config::canonical(settings);
    settings_of_task[task].insert(canonical);
    // Runs in progress have no result yet; pruned runs were stopped by a search and are never a
    // setting's best (nor dropped: they did not fail).
    if (r.run.status == RunStatus::running || r.run.status == RunStatus::paused || r.run.status == RunStatus::pruned)
      continue;
    const std::string& name = name_of.at(r.architecture_hash);
    const SettingKey key{name, r.architecture_hash, task, canonical};
    SettingScore& s = per_setting[key];
    if (s.architecture.empty()) {
      s.architecture = name;
      s.architecture_hash = r.architecture_hash;
      s.task = task;
      s.setting_hash = config::canonical_hash(settings);
      s.settings = settings;
    }
    const std::optional<double> acc = accuracy(r.run);
    if (!acc) {
      ++s.dropped;
      continue;
    }
    ++s.runs;
    const TrainingSettings& t = r.run.training;
    SeedBest& b = best_of[key][t.seed];
    const bool better = !b.score || *acc > *b.score ||
                        (*acc == *b.score && std::pair(t.lr, t.weight_decay) < std::pair(b.lr, b.weight_decay));
    if (better) b = SeedBest{acc, t.lr, t.weight_decay};
  }
  for (auto& [key, s] : per_setting) {
    std::optional<double> best;
    for (const auto& [seed, b] : best_of[key]) {
      s.per_seed[seed] = *b.score;
      if (!best || *b.score > *best) {
        best = b.score;
        s.lr = b.lr;
        s.weight_decay = b.weight_decay;
      }
    }
    const std::vector<double> values = values_of(s.per_seed);
    s.seeds = seed_stats(values);
    s.score = use_max ? best : s.seeds.mean;
  }

  // Columns: the expected tasks in the caller's order, then any other task present, by name.
  ScoreTable table;
  std::map<std::string, int64_t> expected;
  for (const TaskExpectation& e : options.expected) {
    table.tasks.push_back(e.task);
    expected[e.task] = e.settings;
  }
  for (const auto& [task, settings] : settings_of_task) {
    if (expected.emplace(task, static_cast<int64_t>(settings.size())).second) table.tasks.push_back(task);
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
    std::vector<double> task_scores;                    // Stat::max: the cells' scores
    std::map<int64_t, std::vector<double>> seed_tasks;  // per seed: its task scores
    for (const std::string& task : table.tasks) {
      TaskScore cell;
      cell.architecture = name;
      cell.architecture_hash = hash;
      cell.task = task;
      cell.expected_settings = expected.at(task);
      const bool in_mean = std::find(options.outside_mean.begin(), options.outside_mean.end(), task) ==
                           options.outside_mean.end();
      std::vector<double> setting_scores;
      std::map<int64_t, std::vector<double>> seed_settings;  // per seed: its setting scores
      for (const auto& [key, s] : per_setting) {
        if (s.architecture_hash != hash || s.task != task) continue;
        table.settings.push_back(s);
        cell.runs += s.runs;
        cell.dropped += s.dropped;
        if (s.score) setting_scores.push_back(*s.score);
        for (const auto& [seed, v] : s.per_seed) seed_settings[seed].push_back(v);
      }
      cell.settings = static_cast<int64_t>(setting_scores.size());
      bool unbalanced = false;
      for (const auto& [seed, scores] : seed_settings) {
        cell.per_seed[seed] = *mean(scores);
        if (in_mean) seed_tasks[seed].push_back(cell.per_seed[seed]);
        unbalanced = unbalanced || static_cast<int64_t>(scores.size()) < cell.settings;
      }
      cell.seeds = seed_stats(values_of(cell.per_seed));
      cell.score = use_max ? mean(setting_scores) : cell.seeds.mean;
      cell.incomplete = cell.settings < cell.expected_settings || unbalanced;
      if (in_mean) {
        if (cell.score) task_scores.push_back(*cell.score);
        overall.settings += cell.settings;
        overall.expected_settings += cell.expected_settings;
        overall.runs += cell.runs;
        overall.dropped += cell.dropped;
        overall.incomplete = overall.incomplete || cell.incomplete || !cell.score;
      }
      table.cells.push_back(std::move(cell));
    }
    for (const auto& [seed, scores] : seed_tasks) overall.per_seed[seed] = *mean(scores);
    overall.seeds = seed_stats(values_of(overall.per_seed));
    overall.score = use_max ? mean(task_scores) : overall.seeds.mean;
    table.cells.push_back(std::move(overall));
  }
  return table;
}

}  // namespace mad::results
