#include "apps/score_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "config/canonical.h"
#include "core/error.h"
#include "config/yaml.h"
#include "results/results_db.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/sweep_spec.h"
#include "tasks/protocol_grid.h"

namespace mad::cli {

std::vector<results::StoredRun> read_runs(const std::string& db, const std::string& sweep) {
  results::ResultsDb store = results::ResultsDb::open(db, results::ResultsDb::Access::read_only);
  if (!sweep.empty()) {
    const std::vector<std::string> sweeps = store.sweeps();
    MAD_CHECK(std::find(sweeps.begin(), sweeps.end(), sweep) != sweeps.end(), "{}: no sweep '{}'; its sweeps: {}", db,
              sweep, sweeps.empty() ? "none" : fmt::format("{}", fmt::join(sweeps, ", ")));
  }
  std::vector<results::StoredRun> runs = store.runs({.sweep = sweep});
  // A sweep's membership keeps the runs of every version of its spec (a spec edited under the same name
  // adds its runs to the old ones): keep those of the version recorded last, the one the runner trains.
  const std::string spec = sweep.empty() ? "" : store.sweep_spec(sweep);
  if (spec.empty()) return runs;
  std::unordered_set<std::string> current;
  try {
    for (const sweeps::PlannedRun& run : sweeps::plan_sweep(sweeps::sweep_from_config(config::load_string(spec), ".")))
      current.insert(run.key);
  } catch (const std::exception&) {
    return runs;  // a spec this mad cannot plan (written by another version): every member counts
  }
  std::erase_if(runs, [&](const results::StoredRun& r) { return !current.contains(r.key); });
  return runs;
}

results::ScoreOptions protocol_expectations() {
  results::ScoreOptions options;
  for (const tasks::TaskInfo& task : tasks::all_tasks()) {
    const auto settings = static_cast<int64_t>(tasks::expand_grid(tasks::protocol_grid(task.id)).size());
    options.expected.push_back({std::string(task.name), settings});
  }
  // mqar (and any task beyond MAD) gets its own column, never a share of the MAD mean.
  for (const tasks::TaskInfo& task : tasks::extra_tasks()) options.outside_mean.emplace_back(task.name);
  return options;
}

std::map<std::string, std::string> task_shorthands() {
  std::map<std::string, std::string> names;
  for (const tasks::TaskInfo& info : tasks::all_tasks()) names.emplace(info.name, info.shorthand);
  return names;
}

std::string column_name(const std::string& task) {
  const std::map<std::string, std::string> names = task_shorthands();
  const auto it = names.find(task);
  return it == names.end() ? task : it->second;
}

void check_format(const std::string& command, const std::string& format, const std::vector<std::string>& valid) {
  MAD_CHECK(std::find(valid.begin(), valid.end(), format) != valid.end(),
            "{}: unknown --format '{}'; valid formats: {}", command, format, fmt::join(valid, ", "));
}

std::string score_text(std::optional<double> score) { return score ? fmt::format("{:.3f}", *score) : "-"; }

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

config::Value number_or_null(std::optional<double> v) {
  return v && !std::isnan(*v) ? config::Value(*v) : config::Value();
}

void set_seed_stats(config::Value& row, const results::SeedStats& s) {
  row.set("n_seeds", config::Value(s.n));
  row.set("mean", number_or_null(s.mean));
  row.set("std", number_or_null(s.std));
  row.set("ci_low", number_or_null(s.ci_low));
  row.set("ci_high", number_or_null(s.ci_high));
}

const char* const kSeedStatsCsvHeader = "n_seeds,mean,std,ci_low,ci_high";

std::string seed_stats_csv(const results::SeedStats& s) {
  const auto number = [](std::optional<double> v) { return v ? config::format_double(*v) : std::string(); };
  return fmt::format("{},{},{},{},{}", s.n, number(s.mean), number(s.std), number(s.ci_low), number(s.ci_high));
}

std::string interval_text(const results::SeedStats& s, bool signed_numbers) {
  if (!s.ci_low) return "";
  return signed_numbers ? fmt::format(" [{:+.3f}, {:+.3f}]", *s.ci_low, *s.ci_high)
                        : fmt::format(" [{:.3f}, {:.3f}]", *s.ci_low, *s.ci_high);
}

void print_columns(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                   bool markdown, size_t left) {
  if (markdown) {
    fmt::print("| {} |\n|", fmt::join(header, " | "));
    for (size_t c = 0; c < header.size(); ++c) fmt::print("{}|", c < left ? "---" : "---:");
    fmt::print("\n");
    for (const auto& row : rows) fmt::print("| {} |\n", fmt::join(row, " | "));
    fmt::print("\n");
    return;
  }
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += c == 0 ? "" : "  ";
      line += c < left ? fmt::format("{:<{}}", row[c], width[c]) : fmt::format("{:>{}}", row[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
  fmt::print("\n");
}

}  // namespace mad::cli
