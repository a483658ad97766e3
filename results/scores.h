// MAD scores, exactly as mad-protocol.md section 4 defines them:
//   setting score = the best test MAD accuracy over the architecture's runs of that task setting (its
//                   lr x weight-decay grid); diverged and failed runs, and runs whose accuracy is NaN,
//                   are dropped, not counted as 0;
//   task score    = the mean of the setting scores over the task's settings;
//   overall score = the mean of the task scores (the task named "mean").
// The test accuracy of a run is the one it reports: that of its epoch with the lowest test perplexity.
// Running runs have no result yet and are ignored.
//
// A cell is incomplete when it has fewer scored settings than expected: the protocol grid's count when
// the caller gives it (results/ does not know the tasks; `mad scores` passes tasks/protocol_grid.h's
// counts), else the number of distinct settings of that task among the runs given. The overall cell is
// incomplete when any task cell is incomplete or has no score.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"
#include "results/record.h"

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
};

// One architecture on one task setting.
struct SettingScore {
  std::string architecture;  // display name
  std::string architecture_hash;
  std::string task;
  std::string setting_hash;
  config::Value settings;
  std::optional<double> score;      // nullopt: every run was dropped
  double lr = 0, weight_decay = 0;  // of the best run (the first in (lr, weight_decay) order on a tie)
  int64_t runs = 0;                 // runs with a result
  int64_t dropped = 0;              // diverged, failed, or NaN accuracy
};

// One cell of the score table: an architecture on a task, or overall (task kOverallTask).
struct TaskScore {
  std::string architecture;  // display name
  std::string architecture_hash;
  std::string task;
  std::optional<double> score;  // nullopt: no setting has a score
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
