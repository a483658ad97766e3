// `mad scores`: MAD scores from a results database (mad-protocol.md section 4): one row per architecture,
// one column per task plus the mean, the number of runs behind each cell and a mark on incomplete cells;
// with --by-setting, the best run of every task setting.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "apps/api.h"
#include "apps/commands.h"
#include "apps/score_format.h"
#include "config/canonical.h"
#include "core/error.h"
#include "results/scores.h"
#include "results/setting_axes.h"

namespace mad::cli {
namespace {

struct ScoresOptions {
  std::string db;
  std::string sweep;
  std::string format = "table";
  std::string stat = "mean";
  bool by_setting = false;
};

// Whether any cell of the table has more than one seed (then the outputs explain the statistic).
bool several_seeds(const results::ScoreTable& table) {
  for (const results::TaskScore& c : table.cells)
    if (c.seeds.n > 1) return true;
  return false;
}

// "0.650 (12)", with several seeds and the mean "0.650 [0.610, 0.690] (36)".
std::string cell_text(const results::TaskScore& cell, bool mean) {
  if (!cell.score) return "-";
  return fmt::format("{}{} ({}){}", score_text(cell.score), mean ? interval_text(cell.seeds) : "", cell.runs,
                     cell.incomplete ? "*" : "");
}

std::string seeds_legend(const results::ScoreTable& table, bool mean) {
  if (!several_seeds(table)) return "";
  return mean ? "With several seeds: per seed the best run of each setting's grid, then the mean over seeds with its "
                "95% bootstrap interval [low, high].\n"
              : "With several seeds: each setting's best seed (--stat max).\n";
}

std::string legend(const results::ScoreTable& table) {
  std::string columns;
  for (const std::string& task : table.tasks) {
    if (column_name(task) != task) columns += fmt::format("{}{} {}", columns.empty() ? "" : ", ", column_name(task), task);
  }
  return fmt::format(
      "{}{}score: best test MAD accuracy per setting over its lr x weight-decay runs (diverged and failed runs "
      "dropped), mean over the task's settings; mean: the mean of the task scores.\n"
      "(n): runs behind the cell; *: incomplete (fewer settings than the protocol grid).\n",
      columns, columns.empty() ? "" : ".\n");
}

// ---- one row per architecture ----------------------------------------------------------------------

void print_table(const results::ScoreTable& table, bool markdown, bool mean) {
  std::vector<std::string> header{"architecture"};
  for (const std::string& task : table.tasks) header.push_back(column_name(task));
  header.emplace_back(results::kOverallTask);
  std::vector<std::vector<std::string>> rows;
  const size_t columns = table.tasks.size() + 1;
  for (size_t a = 0; a < table.architectures.size(); ++a) {
    std::vector<std::string> row{table.architectures[a]};
    for (size_t c = 0; c < columns; ++c) row.push_back(cell_text(table.cells[a * columns + c], mean));
    rows.push_back(std::move(row));
  }
  print_columns(header, rows, markdown);
  fmt::print("{}{}", legend(table), seeds_legend(table, mean));
}

void print_cells_csv(const results::ScoreTable& table) {
  fmt::print("architecture,architecture_hash,task,score,settings,expected_settings,runs,dropped,incomplete,{}\n",
             kSeedStatsCsvHeader);
  for (const results::TaskScore& c : table.cells) {
    fmt::print("{},{},{},{},{},{},{},{},{},{}\n", csv_field(c.architecture), c.architecture_hash, csv_field(c.task),
               c.score ? config::format_double(*c.score) : "", c.settings, c.expected_settings, c.runs, c.dropped,
               c.incomplete ? 1 : 0, seed_stats_csv(c.seeds));
  }
}

config::Value cells_json(const results::ScoreTable& table) {
  config::Value out = config::Value::list();
  for (const results::TaskScore& c : table.cells) {
    config::Value row = config::Value::map();
    row.set("architecture", c.architecture);
    row.set("architecture_hash", c.architecture_hash);
    row.set("task", c.task);
    row.set("score", number_or_null(c.score));
    row.set("settings", config::Value(c.settings));
    row.set("expected_settings", config::Value(c.expected_settings));
    row.set("runs", config::Value(c.runs));
    row.set("dropped", config::Value(c.dropped));
    row.set("incomplete", c.incomplete);
    set_seed_stats(row, c.seeds);
    out.push_back(std::move(row));
  }
  return out;
}

// ---- one row per task setting ----------------------------------------------------------------------

// For each setting hash, "vocab_size=32 seq_len=128": the keys that vary among its task's settings.
std::map<std::string, std::string> setting_names(const results::ScoreTable& table) {
  std::map<std::string, std::vector<config::Value>> by_task;
  std::map<std::string, const results::SettingScore*> by_hash;
  for (const results::SettingScore& s : table.settings) {
    if (by_hash.emplace(s.setting_hash, &s).second) by_task[s.task].push_back(s.settings);
  }
  std::map<std::string, std::string> names;
  for (const auto& [hash, s] : by_hash) {
    names[hash] = results::describe_setting(s->settings, results::varying_keys(by_task[s->task]));
  }
  return names;
}

config::Value settings_json(const results::ScoreTable& table) {
  config::Value out = config::Value::list();
  for (const results::SettingScore& s : table.settings) {
    config::Value row = config::Value::map();
    row.set("architecture", s.architecture);
    row.set("task", s.task);
    row.set("setting", s.settings);
    row.set("score", number_or_null(s.score));
    row.set("lr", s.score ? config::Value(s.lr) : config::Value());
    row.set("weight_decay", s.score ? config::Value(s.weight_decay) : config::Value());
    row.set("runs", config::Value(s.runs));
    row.set("dropped", config::Value(s.dropped));
    set_seed_stats(row, s.seeds);
    out.push_back(std::move(row));
  }
  return out;
}

void print_settings(const results::ScoreTable& table, const std::string& format, bool mean) {
  const std::map<std::string, std::string> names = setting_names(table);
  if (format == "csv") {
    fmt::print("architecture,task,setting,settings,score,lr,weight_decay,runs,dropped,{}\n", kSeedStatsCsvHeader);
    for (const results::SettingScore& s : table.settings) {
      fmt::print("{},{},{},{},{},{},{},{},{},{}\n", csv_field(s.architecture), csv_field(s.task),
                 csv_field(names.at(s.setting_hash)), csv_field(config::canonical(s.settings)),
                 s.score ? config::format_double(*s.score) : "", s.score ? config::format_double(s.lr) : "",
                 s.score ? config::format_double(s.weight_decay) : "", s.runs, s.dropped, seed_stats_csv(s.seeds));
    }
    return;
  }
  const std::vector<std::string> header{"architecture", "task", "setting", "score", "lr", "weight decay", "runs",
                                        "dropped"};
  std::vector<std::vector<std::string>> rows;
  for (const results::SettingScore& s : table.settings) {
    rows.push_back({s.architecture, column_name(s.task), names.at(s.setting_hash),
                    score_text(s.score) + (mean ? interval_text(s.seeds) : ""),
                    s.score ? config::format_double(s.lr) : "-", s.score ? config::format_double(s.weight_decay) : "-",
                    std::to_string(s.runs), std::to_string(s.dropped)});
  }
  print_columns(header, rows, format == "markdown", 3);
  fmt::print("{}", seeds_legend(table, mean));
}

results::ScoreTable score_table(const std::string& db, const std::string& sweep, const std::string& stat) {
  MAD_CHECK(stat == "mean" || stat == "max", "scores: unknown --stat '{}'; use mean or max", stat);
  results::ScoreOptions options = protocol_expectations();
  options.stat = stat == "mean" ? results::ScoreOptions::Stat::mean : results::ScoreOptions::Stat::max;
  return results::mad_scores(read_runs(db, sweep), options);
}

void run_scores(const ScoresOptions& o) {
  check_format("scores", o.format, {"table", "markdown", "csv", "json"});
  const bool mean = o.stat == "mean";
  const results::ScoreTable table = score_table(o.db, o.sweep, o.stat);
  if (table.architectures.empty() && (o.format == "table" || o.format == "markdown")) {
    fmt::print("{}: no runs{}\n", o.db, o.sweep.empty() ? "" : " in sweep " + o.sweep);
    return;
  }
  if (o.format == "json") fmt::print("{}\n", config::canonical(o.by_setting ? settings_json(table) : cells_json(table)));
  else if (o.by_setting) print_settings(table, o.format, mean);
  else if (o.format == "csv") print_cells_csv(table);
  else print_table(table, o.format == "markdown", mean);
}

}  // namespace

config::Value scores_json(const std::string& db, const std::string& sweep, bool by_setting, const std::string& stat) {
  const results::ScoreTable table = score_table(db, sweep, stat);
  return by_setting ? settings_json(table) : cells_json(table);
}

void setup_scores(CLI::App& app) {
  auto o = std::make_shared<ScoresOptions>();
  CLI::App* cmd = app.add_subcommand(
      "scores",
      "MAD scores from a results database: best test accuracy per setting over the lr x weight-decay runs,\n"
      "mean over each task's settings, mean over the tasks. Example: mad scores --db results.db");
  cmd->add_option("--db", o->db, "results database (SQLite)")->required();
  cmd->add_option("--sweep", o->sweep, "only the runs of this sweep");
  cmd->add_option("--format", o->format, "table, markdown, csv or json")->capture_default_str();
  cmd->add_option("--stat", o->stat,
                  "with several seeds: mean (over seeds, with std and a 95% bootstrap interval) or max (each "
                  "setting's best seed)")
      ->capture_default_str();
  cmd->add_flag("--by-setting", o->by_setting, "one row per architecture and task setting, with the best run's lr and weight decay");
  cmd->callback([o] { run_scores(*o); });
}

}  // namespace mad::cli
