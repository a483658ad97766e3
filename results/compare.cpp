#include "results/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "results/setting_axes.h"

namespace mad::results {

namespace {

std::optional<double> difference(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return std::nullopt;
  return *b - *a;
}

std::string hash_of(const ScoreTable& table, const std::string& architecture) {
  const TaskScore* overall = table.find(architecture, kOverallTask);
  return overall ? overall->architecture_hash : "";
}

// B - A for each seed both have.
PairedDifference paired(const SeedScores& a, const SeedScores& b) {
  std::vector<double> x, y;
  for (const auto& [seed, v] : a) {
    const auto it = b.find(seed);
    if (it == b.end()) continue;
    x.push_back(v);
    y.push_back(it->second);
  }
  return paired_difference(x, y);
}

const SettingScore* find_setting(const ScoreTable& table, const std::string& architecture, const std::string& hash) {
  for (const SettingScore& s : table.settings) {
    if (s.architecture == architecture && s.setting_hash == hash) return &s;
  }
  return nullptr;
}

}  // namespace

std::string find_architecture(const ScoreTable& table, std::string_view query) {
  const std::vector<std::string>& names = table.architectures;
  MAD_CHECK(!names.empty(), "no architectures to compare: the database (or sweep) has no scored runs");
  if (std::find(names.begin(), names.end(), query) != names.end()) return std::string(query);
  // "name" when display names are "name [hash8]" (two architectures share the name), else a hash prefix.
  std::vector<std::string> matches;
  for (const std::string& name : names) {
    if (name.starts_with(fmt::format("{} [", query))) matches.push_back(name);
  }
  if (matches.empty() && !query.empty()) {
    for (const std::string& name : names) {
      if (hash_of(table, name).starts_with(query)) matches.push_back(name);
    }
  }
  MAD_CHECK(!matches.empty(),
            "no architecture '{}'; the architectures: {} (give a name as 'mad scores' shows it, or a hash prefix)",
            query, fmt::join(names, ", "));
  MAD_CHECK(matches.size() == 1, "'{}' names {} architectures: {}; give one of those names or a longer hash prefix",
            query, matches.size(), fmt::join(matches, ", "));
  return matches[0];
}

Comparison compare_architectures(const ScoreTable& table, std::string_view a, std::string_view b) {
  Comparison out;
  out.a = find_architecture(table, a);
  out.b = find_architecture(table, b);
  out.a_hash = hash_of(table, out.a);
  out.b_hash = hash_of(table, out.b);

  for (const std::string& task : table.tasks) {
    // Every setting of the task in the table (any architecture) defines the grid, so that setting names
    // are the same as in a comparison of any other pair.
    std::map<std::string, const SettingScore*> of_task;  // setting hash -> one score row
    for (const SettingScore& s : table.settings) {
      if (s.task == task) of_task.emplace(s.setting_hash, &s);
    }
    std::vector<config::Value> all;
    for (const auto& [hash, s] : of_task) all.push_back(s->settings);
    const SettingGrid grid(all);

    std::vector<SettingComparison> rows;
    for (const auto& [hash, s] : of_task) {
      const SettingScore* sa = find_setting(table, out.a, hash);
      const SettingScore* sb = find_setting(table, out.b, hash);
      if (!sa && !sb) continue;
      SettingComparison row{task,
                            grid.name(s->settings),
                            s->settings,
                            sa ? sa->score : std::nullopt,
                            sb ? sb->score : std::nullopt,
                            std::nullopt,
                            {}};
      row.delta = difference(row.a, row.b);
      if (sa && sb) row.paired = paired(sa->per_seed, sb->per_seed);
      rows.push_back(std::move(row));
    }
    std::stable_sort(rows.begin(), rows.end(), [&](const SettingComparison& x, const SettingComparison& y) {
      return grid.before(x.settings, y.settings);
    });
    out.settings.insert(out.settings.end(), rows.begin(), rows.end());
  }

  std::vector<std::string> columns = table.tasks;
  columns.emplace_back(kOverallTask);
  for (const std::string& task : columns) {
    const TaskScore* ca = table.find(out.a, task);
    const TaskScore* cb = table.find(out.b, task);
    TaskComparison row{task,           ca->score,        cb->score, difference(ca->score, cb->score),
                       ca->incomplete, cb->incomplete, paired(ca->per_seed, cb->per_seed)};
    out.tasks.push_back(row);
  }
  return out;
}

}  // namespace mad::results
