// `mad compare A B`: two architectures side by side from a results database: the setting score of each
// (the best test MAD accuracy over its lr x weight-decay runs, as `mad scores` computes it), the task and
// overall scores, and the differences B - A.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/score_format.h"
#include "config/canonical.h"
#include "results/compare.h"
#include "results/scores.h"

namespace mad::cli {
namespace {

struct CompareOptions {
  std::string db;
  std::string a, b;
  std::string sweep;
  std::string format = "table";
};

// "+0.100"; with several seeds "+0.100 [+0.050, +0.150]" and a "!" when the interval excludes 0. When A and B
// have different seeds, the paired mean over the seeds both have is shown too, as the interval is its.
std::string delta_text(std::optional<double> delta, const results::PairedDifference& paired) {
  if (!delta) return "-";
  const results::SeedStats& s = paired.stats;
  const bool other_mean = s.ci_low && std::abs(*s.mean - *delta) > 1e-12;
  return fmt::format("{:+.3f}{}{}{}", *delta, other_mean ? fmt::format(" (paired {:+.3f})", *s.mean) : "",
                     interval_text(s, true), paired.excludes_zero ? "!" : "");
}

bool several_seeds(const results::Comparison& c) {
  for (const results::TaskComparison& t : c.tasks)
    if (t.paired.stats.n > 1) return true;
  return false;
}

std::string task_score_text(std::optional<double> score, bool incomplete) {
  return score_text(score) + (score && incomplete ? "*" : "");
}

void print_table(const results::Comparison& c, bool markdown) {
  const std::vector<std::string> header{"task", "setting", c.a, c.b, "delta"};
  std::vector<std::vector<std::string>> rows;
  for (const results::TaskComparison& t : c.tasks) {
    if (t.task == results::kOverallTask) {
      rows.push_back({std::string(results::kOverallTask), "all tasks", task_score_text(t.a, t.a_incomplete),
                      task_score_text(t.b, t.b_incomplete), delta_text(t.delta, t.paired)});
      continue;
    }
    const size_t before = rows.size();
    for (const results::SettingComparison& s : c.settings) {
      if (s.task == t.task) {
        rows.push_back({column_name(s.task), s.name, score_text(s.a), score_text(s.b), delta_text(s.delta, s.paired)});
      }
    }
    if (rows.size() == before) continue;  // neither has run the task: the overall row's * says so
    rows.push_back({column_name(t.task), "task score", task_score_text(t.a, t.a_incomplete),
                    task_score_text(t.b, t.b_incomplete), delta_text(t.delta, t.paired)});
  }
  print_columns(header, rows, markdown, 2);
  fmt::print(
      "delta: {} - {}. Setting score: the best test MAD accuracy over the lr x weight-decay runs; task score: the\n"
      "mean over the task's settings; mean: the mean of the task scores. -: no score. *: incomplete (fewer settings\n"
      "than the protocol grid). Tasks neither architecture has run are left out.\n",
      c.b, c.a);
  if (several_seeds(c))
    fmt::print("With several seeds: scores are means over seeds; [low, high] is the 95% paired bootstrap interval of\n"
               "B - A over the seeds both have (with their mean difference as 'paired' where A and B have other\n"
               "seeds too), and ! marks a difference whose interval excludes 0.\n");
}

void print_csv(const results::Comparison& c) {
  // The seed statistics describe B - A over the seeds both have.
  fmt::print("level,task,setting,settings,architecture_a,score_a,architecture_b,score_b,delta,incomplete_a,incomplete_b,"
             "{},significant\n",
             kSeedStatsCsvHeader);
  const auto number = [](std::optional<double> v) { return v ? config::format_double(*v) : std::string(); };
  for (const results::SettingComparison& s : c.settings) {
    fmt::print("setting,{},{},{},{},{},{},{},{},,,{},{}\n", csv_field(s.task), csv_field(s.name),
               csv_field(config::canonical(s.settings)), csv_field(c.a), number(s.a), csv_field(c.b), number(s.b),
               number(s.delta), seed_stats_csv(s.paired.stats), s.paired.excludes_zero ? 1 : 0);
  }
  for (const results::TaskComparison& t : c.tasks) {
    fmt::print("{},{},,,{},{},{},{},{},{},{},{},{}\n", t.task == results::kOverallTask ? "overall" : "task",
               csv_field(t.task), csv_field(c.a), number(t.a), csv_field(c.b), number(t.b), number(t.delta),
               t.a_incomplete ? 1 : 0, t.b_incomplete ? 1 : 0, seed_stats_csv(t.paired.stats),
               t.paired.excludes_zero ? 1 : 0);
  }
}

void print_json(const results::Comparison& c) {
  const auto architecture = [](const std::string& name, const std::string& hash) {
    config::Value v = config::Value::map();
    v.set("architecture", name);
    v.set("hash", hash);
    return v;
  };
  config::Value out = config::Value::map();
  out.set("a", architecture(c.a, c.a_hash));
  out.set("b", architecture(c.b, c.b_hash));
  config::Value settings = config::Value::list();
  for (const results::SettingComparison& s : c.settings) {
    config::Value row = config::Value::map();
    row.set("task", s.task);
    row.set("setting", s.name);
    row.set("settings", s.settings);
    row.set("a", number_or_null(s.a));
    row.set("b", number_or_null(s.b));
    row.set("delta", number_or_null(s.delta));
    set_seed_stats(row, s.paired.stats);  // of B - A over the seeds both have
    row.set("significant", s.paired.excludes_zero);
    settings.push_back(std::move(row));
  }
  out.set("settings", settings);
  config::Value tasks = config::Value::list();
  for (const results::TaskComparison& t : c.tasks) {
    config::Value row = config::Value::map();
    row.set("task", t.task);
    row.set("a", number_or_null(t.a));
    row.set("b", number_or_null(t.b));
    row.set("delta", number_or_null(t.delta));
    row.set("a_incomplete", t.a_incomplete);
    row.set("b_incomplete", t.b_incomplete);
    set_seed_stats(row, t.paired.stats);
    row.set("significant", t.paired.excludes_zero);
    tasks.push_back(std::move(row));
  }
  out.set("tasks", tasks);
  fmt::print("{}\n", config::canonical(out));
}

void run_compare(const CompareOptions& o) {
  check_format("compare", o.format, {"table", "markdown", "csv", "json"});
  const std::vector<results::StoredRun> runs = read_runs(o.db, o.sweep);
  const results::Comparison c =
      results::compare_architectures(results::mad_scores(runs, protocol_expectations()), o.a, o.b);
  if (o.format == "csv") print_csv(c);
  else if (o.format == "json") print_json(c);
  else print_table(c, o.format == "markdown");
}

}  // namespace

void setup_compare(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Two architectures side by side: the score of each on every task setting either has run, the task and\n"
      "overall scores, and the differences B - A (scores as 'mad scores' computes them).\n"
      "Example: mad compare --db results.db transformer mamba");
  cmd->add_option("a", o->a, "architecture A: its name as 'mad scores' shows it, or a prefix of its hash (e.g. 3f2a9c)")
      ->required();
  cmd->add_option("b", o->b, "architecture B, the same way; delta = B - A (e.g. mamba)")->required();
  cmd->add_option("--db", o->db, "results database (SQLite), e.g. --db results.db")->required();
  cmd->add_option("--sweep", o->sweep, "only the runs of this sweep, e.g. --sweep quick");
  cmd->add_option("--format", o->format,
                  "table, markdown, csv (column 'level': setting, task or overall) or json, e.g. --format markdown")
      ->capture_default_str();
  cmd->callback([o] { run_compare(*o); });
}

}  // namespace mad::cli
