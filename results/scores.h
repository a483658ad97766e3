// MAD scores, exactly as mad-protocol.md section 4 defines them:
//   setting score = the best test MAD accuracy over the architecture's runs of that task setting (its
//                   lr x weight-decay grid); diverged and failed runs, and runs whose accuracy is NaN,
//                   are dropped, not counted as 0;
//   task score    = the mean of the setting scores over the task's settings;
//   overall score = the mean of the task scores (the task named "mean"), except the tasks the caller
//                   names in ScoreOptions::outside_mean (those get a column of their own only).
// The test accuracy of a run is the one it reports: that of its epoch with the lowest test perplexity.
// Running and paused runs have no result yet and are ignored, as are pruned runs (a halving search stopped
// them: they are never a setting's best, and not dropped either).
//
// A cell is incomplete when it has fewer scored settings than expected: the protocol grid's count when
// the caller gives it (results/ does not know the tasks; `mad scores` passes tasks/protocol_grid.h's
// counts), else the number of distinct settings of that task among the runs given. The overall cell is
// incomplete when any task cell is incomplete or has no score.
//
// Seeds. A task setting trained with several seeds (the spec's `seeds:`; the seed is the runs' training
// seed, and the setting is its settings without the seed) has a setting score per seed: the best of its
// grid for that seed. Per seed, the task score is the mean of that seed's setting scores and the overall
// score the mean of its task scores. A cell then reports the mean over seeds (Stat::mean, the default)
// with the seeds' statistics (results/seed_stats.h: standard deviation, 95% bootstrap interval), or
// (Stat::max) the best seed's score per setting, averaged over settings and tasks as above. With one seed
// both are exactly the single-seed scores. A cell is also incomplete when one of its seeds has fewer
// scored settings than another.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"
#include "results/record.h"
#include "results/seed_stats.h"

namespace mad::results {

inline constexpr std::string_view kOverallTask = "mean";

struct TaskExpectation {
  std::string task;
  int64_t settings = 0;  // e.g. 11 for in-context-recall in the protocol grid
};

struct ScoreOptions {
  // Tasks in column order with their expected setting counts; empty: the tasks present, in name order,
  // each expected to have every setting present among the runs.
  std::vector<TaskExpectation> expected;
  // Tasks scored in their own columns but left out of the overall score (`mad scores` passes the tasks
  // beyond MAD, mqar: its score is not part of the MAD score).
  std::vector<std::string> outside_mean = {};
  enum class Stat { mean, max };
  Stat stat = Stat::mean;  // over seeds (see above)
};

// A score per seed: seed -> score.
using SeedScores = std::map<int64_t, double>;

// One architecture on one task setting (all its seeds).
struct SettingScore {
  std::string architecture;  // display name
  std::string architecture_hash;
  std::string task;
  std::string setting_hash;  // of `settings`
  config::Value settings;    // the task settings without the seed
  std::optional<double> score;      // the options' statistic over seeds; nullopt: every run was dropped
  SeedScores per_seed;              // the best of the grid for each seed with a result
  SeedStats seeds;                  // statistics of per_seed
  double lr = 0, weight_decay = 0;  // of the best run over all seeds (the first in (seed, lr, weight_decay)
                                    // order on a tie)
  int64_t runs = 0;                 // runs with a result
  int64_t dropped = 0;              // diverged, failed, or NaN accuracy
};

// One cell of the score table: an architecture on a task, or overall (task kOverallTask).
struct TaskScore {
  std::string architecture;  // display name
  std::string architecture_hash;
  std::string task;
  std::optional<double> score;  // nullopt: no setting has a score
  SeedScores per_seed;            // the task (or overall) score of each seed
  SeedStats seeds;                // statistics of per_seed
  int64_t settings = 0;           // settings with a score
  int64_t expected_settings = 0;
  int64_t runs = 0;               // runs behind the cell (with a result)
  int64_t dropped = 0;
  bool incomplete = false;
};

struct ScoreTable {
  std::vector<std::string> tasks;          // column order, without kOverallTask
  std::vector<std::string> architectures;  // row order (display names)
  // For each architecture in row order: one cell per task in column order, then the overall cell.
  std::vector<TaskScore> cells;
  // For each architecture and task in that order, the settings in the order of their canonical JSON.
  std::vector<SettingScore> settings;

  const TaskScore* find(std::string_view architecture, std::string_view task) const;
};

// Display names are the architectures' names; when two architectures (two hashes) share a name, each is
// shown as "name [first 8 hex digits of its hash]". Rows are sorted by display name.
ScoreTable mad_scores(std::span<const StoredRun> runs, const ScoreOptions& options = {});

}  // namespace mad::results
