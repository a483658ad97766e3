// Two architectures side by side: the setting, task and overall scores results::mad_scores computes for
// each (so a comparison never disagrees with `mad scores`), and their differences B - A. With several
// seeds, each difference also comes with the paired statistics of B - A over the seeds both have
// (results/seed_stats.h): its mean, spread and 95% bootstrap interval, and whether that excludes 0.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"
#include "results/scores.h"
#include "results/seed_stats.h"

namespace mad::results {

// One task setting that A or B (or both) has runs of.
struct SettingComparison {
  std::string task;
  std::string name;  // compact (SettingGrid::name over the task's settings in the table): "vocab_size=32"
  config::Value settings;
  std::optional<double> a, b;   // setting scores; nullopt: no runs, or every run dropped
  std::optional<double> delta;  // b - a when both have a score
  PairedDifference paired;      // B - A seed by seed (stats.n: seeds both have)
};

// One task, or overall (task kOverallTask).
struct TaskComparison {
  std::string task;
  std::optional<double> a, b, delta;
  bool a_incomplete = false, b_incomplete = false;  // as TaskScore::incomplete
  PairedDifference paired;
};

struct Comparison {
  std::string a, b;  // display names, as ScoreTable::architectures
  std::string a_hash, b_hash;
  // Task by task in the table's column order; within a task the baseline first, then axis by axis
  // (SettingGrid::before).
  std::vector<SettingComparison> settings;
  std::vector<TaskComparison> tasks;  // the table's columns, then kOverallTask
};

// The display name of the architecture that `query` names in `table`: a display name, a name shared by
// several architectures' display names only if one of them has it ("name" for "name [1a2b3c4d]"), or a
// unique prefix of an architecture hash. Throws a one-line mad::Error listing the architectures when it
// names none, or listing the candidates when it names several.
std::string find_architecture(const ScoreTable& table, std::string_view query);

// A and B are queries for find_architecture.
Comparison compare_architectures(const ScoreTable& table, std::string_view a, std::string_view b);

}  // namespace mad::results
