// `mad runs`: the runs of a results database, one line each (or a JSON array); `mad runs show KEY`: one
// run with its provenance, reported metrics and every epoch. KEY may be any unique prefix of a run key.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "apps/api.h"
#include "apps/commands.h"
#include "config/canonical.h"
#include "core/error.h"
#include "results/results_db.h"
#include "results/setting_axes.h"

namespace mad::cli {
namespace {

struct RunsOptions {
  std::string db;
  std::string status;
  std::string format = "table";
  std::string key;  // `runs show`
};

config::Value number_or_null(double v) { return std::isnan(v) ? config::Value() : config::Value(v); }

std::string metric_text(double v) { return std::isnan(v) ? "nan" : fmt::format("{:.4f}", v); }

config::Value metrics_json(const results::Metrics& m) {
  config::Value v = config::Value::map();
  v.set("loss", number_or_null(m.loss));
  v.set("ppl", number_or_null(m.ppl));
  v.set("acc", number_or_null(m.acc));
  v.set("token_acc", number_or_null(m.token_acc));
  return v;
}

config::Value run_json(const results::StoredRun& s) {
  const results::RunRecord& r = s.run;
  config::Value v = config::Value::map();
  v.set("key", s.key);
  v.set("sweep", r.sweep.empty() ? config::Value() : config::Value(r.sweep));
  v.set("architecture", r.architecture.name);
  v.set("architecture_hash", s.architecture_hash);
  v.set("params", config::Value(r.architecture.params));
  v.set("state_size", config::Value(r.architecture.state_size));
  v.set("task", results::task_of(r.task_settings));
  v.set("setting", r.task_settings);
  v.set("lr", r.training.lr);
  v.set("weight_decay", r.training.weight_decay);
  v.set("epochs", config::Value(r.training.epochs));
  v.set("batch_size", config::Value(r.training.batch_size));
  v.set("seed", config::Value(r.training.seed));
  v.set("status", std::string(results::status_name(r.status)));
  v.set("test_acc", r.final ? number_or_null(r.final->test.acc) : config::Value());
  v.set("test_token_acc", r.final ? number_or_null(r.final->test.token_acc) : config::Value());
  v.set("test_loss", r.final ? number_or_null(r.final->test.loss) : config::Value());
  v.set("best_epoch", r.final ? config::Value(r.final->best_epoch) : config::Value());
  v.set("epochs_run", r.final ? config::Value(r.final->epochs_run) : config::Value());
  v.set("seconds", r.final ? number_or_null(r.final->seconds) : config::Value());
  v.set("cpu_seconds", r.cpu_seconds ? number_or_null(*r.cpu_seconds) : config::Value());
  v.set("error", r.error.empty() ? config::Value() : config::Value(r.error));
  v.set("code_version", r.provenance.code_version);
  v.set("build_flags", r.provenance.build_flags);
  v.set("threads", config::Value(r.provenance.threads));
  v.set("host", r.provenance.host);
  v.set("started_at", r.provenance.started_at);
  v.set("finished_at", r.provenance.finished_at.empty() ? config::Value() : config::Value(r.provenance.finished_at));
  return v;
}

void check_format(const std::string& format) {
  MAD_CHECK(format == "table" || format == "json", "runs: unknown --format '{}'; valid formats: table, json", format);
}

// ---- list ------------------------------------------------------------------------------------------

void run_list(const RunsOptions& o) {
  check_format(o.format);
  results::RunFilter filter;
  if (!o.status.empty()) filter.status = results::status_from_name(o.status);
  if (o.format == "json") {
    fmt::print("{}\n", config::canonical(runs_json(o.db, o.status)));
    return;
  }
  results::ResultsDb db = results::ResultsDb::open(o.db, results::ResultsDb::Access::read_only);
  const std::vector<results::StoredRun> runs = db.runs(filter);
  if (runs.empty()) {
    fmt::print("{}: no runs{}\n", o.db, o.status.empty() ? "" : " with status " + o.status);
    return;
  }
  // A setting is named by the keys that vary among the listed settings of its task.
  std::map<std::string, std::vector<config::Value>> settings_of_task;
  std::map<std::string, bool> seen;
  for (const results::StoredRun& s : runs) {
    if (!seen[s.setting_hash]) settings_of_task[results::task_of(s.run.task_settings)].push_back(s.run.task_settings);
    seen[s.setting_hash] = true;
  }
  std::map<std::string, std::vector<std::string>> axes;
  for (const auto& [task, settings] : settings_of_task) axes[task] = results::varying_keys(settings);

  std::vector<std::vector<std::string>> rows{
      {"key", "sweep", "architecture", "task", "setting", "lr", "wd", "status", "test_acc", "epochs", "started"}};
  for (const results::StoredRun& s : runs) {
    const results::RunRecord& r = s.run;
    const std::string task = results::task_of(r.task_settings);
    rows.push_back({s.key.substr(0, 12), r.sweep.empty() ? "-" : r.sweep, r.architecture.name, task,
                    results::describe_setting(r.task_settings, axes[task]), config::format_double(r.training.lr),
                    config::format_double(r.training.weight_decay), std::string(results::status_name(r.status)),
                    r.final ? metric_text(r.final->test.acc) : "-",
                    r.final ? fmt::format("{}", r.final->epochs_run) : "-", r.provenance.started_at});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) line += fmt::format("{}{:<{}}", c ? "  " : "", row[c], width[c]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  }
  fmt::print("\n{} run(s); 'mad runs show KEY --db {}' shows one with its epochs.\n", runs.size(), o.db);
}

// ---- show ------------------------------------------------------------------------------------------

void print_run(const results::StoredRun& s, const std::vector<results::EpochMetrics>& epochs) {
  const results::RunRecord& r = s.run;
  const results::ArchitectureInfo& a = r.architecture;
  const results::Provenance& p = r.provenance;
  fmt::print("run           {}\n", s.key);
  fmt::print("sweep         {}\n", r.sweep.empty() ? "-" : r.sweep);
  fmt::print("architecture  {} ({} parameters, state {}{}; hash {})\n", a.name, a.params, a.state_size,
             a.fixed_state ? "" : " at the recorded length", s.architecture_hash.substr(0, 12));
  fmt::print("spec          {}\n", config::canonical(a.spec));
  fmt::print("task          {}\n", config::canonical(r.task_settings));
  fmt::print("training      lr {}, weight decay {}, {} epochs, batch {}, seed {}\n", config::format_double(r.training.lr),
             config::format_double(r.training.weight_decay), r.training.epochs, r.training.batch_size, r.training.seed);
  fmt::print("status        {}{}\n", results::status_name(r.status), r.error.empty() ? "" : " (" + r.error + ")");
  fmt::print("provenance    mad {}, {}, {} thread(s), host {}\n", p.code_version, p.build_flags, p.threads, p.host);
  fmt::print("time          {} to {}{}\n", p.started_at, p.finished_at.empty() ? "(not finished)" : p.finished_at,
             r.cpu_seconds ? fmt::format(", {:.1f} CPU s", *r.cpu_seconds) : "");
  if (r.final) {
    const results::FinalMetrics& f = *r.final;
    fmt::print("reported      epoch {} of {} (lowest test perplexity), {:.1f} s\n", f.best_epoch, f.epochs_run, f.seconds);
    for (const auto& [name, m] : {std::pair{"  train", f.train}, std::pair{"  test", f.test}, std::pair{"  last test", f.last_test}}) {
      fmt::print("{:<12}  acc {}  token acc {}  loss {}  ppl {}\n", name, metric_text(m.acc), metric_text(m.token_acc),
                 metric_text(m.loss), metric_text(m.ppl));
    }
  }
  if (epochs.empty()) return;
  fmt::print("\n{:>5}  {:>10}  {:>10}  {:>9}  {:>10}  {:>10}  {:>9}  {:>9}  {:>8}\n", "epoch", "lr", "train loss", "train acc",
             "test loss", "test ppl", "test acc", "token acc", "seconds");
  for (const results::EpochMetrics& e : epochs) {
    fmt::print("{:>5}  {:>10.3e}  {:>10}  {:>9}  {:>10}  {:>10}  {:>9}  {:>9}  {:>8.2f}\n", e.epoch, e.lr,
               metric_text(e.train.loss), metric_text(e.train.acc), metric_text(e.test.loss), metric_text(e.test.ppl),
               metric_text(e.test.acc), metric_text(e.test.token_acc), e.seconds);
  }
}

// The one run whose key starts with `prefix`, with its epochs.
std::pair<results::StoredRun, std::vector<results::EpochMetrics>> find_run(const std::string& path, const std::string& prefix) {
  results::ResultsDb db = results::ResultsDb::open(path, results::ResultsDb::Access::read_only);
  const std::vector<results::StoredRun> runs = db.runs({.key_prefix = prefix});
  MAD_CHECK(!runs.empty(), "{}: no run with a key starting with '{}'; 'mad runs --db {}' lists the keys", path, prefix, path);
  MAD_CHECK(runs.size() == 1, "{}: {} runs have keys starting with '{}'; give more characters of the key", path,
            runs.size(), prefix);
  return {runs[0], db.epochs(runs[0].key)};
}

void run_show(const RunsOptions& o) {
  check_format(o.format);
  if (o.format == "table") {
    const auto [run, epochs] = find_run(o.db, o.key);
    print_run(run, epochs);
    return;
  }
  fmt::print("{}\n", config::canonical(run_show_json(o.db, o.key)));
}

}  // namespace

config::Value runs_json(const std::string& path, const std::string& status) {
  results::RunFilter filter;
  if (!status.empty()) filter.status = results::status_from_name(status);
  config::Value out = config::Value::list();
  for (const results::StoredRun& s : results::ResultsDb::open(path, results::ResultsDb::Access::read_only).runs(filter))
    out.push_back(run_json(s));
  return out;
}

config::Value run_show_json(const std::string& path, const std::string& key) {
  const auto [run, epochs] = find_run(path, key);
  config::Value out = run_json(run);
  if (run.run.final) {
    out.set("train", metrics_json(run.run.final->train));
    out.set("last_test", metrics_json(run.run.final->last_test));
  }
  config::Value list = config::Value::list();
  for (const results::EpochMetrics& e : epochs) {
    config::Value v = config::Value::map();
    v.set("epoch", config::Value(e.epoch));
    v.set("lr", number_or_null(e.lr));
    v.set("train", metrics_json(e.train));
    v.set("test", metrics_json(e.test));
    v.set("seconds", number_or_null(e.seconds));
    list.push_back(std::move(v));
  }
  out.set("epoch_metrics", list);
  return out;
}

void setup_runs(CLI::App& app) {
  auto o = std::make_shared<RunsOptions>();
  CLI::App* cmd = app.add_subcommand("runs", "List the runs of a results database; 'mad runs show KEY' shows one with its epochs");
  cmd->add_option("--db", o->db, "results database (SQLite)")->required();
  cmd->add_option("--status", o->status, "only runs with this status: completed, diverged, failed or running");
  cmd->add_option("--format", o->format, "table or json")->capture_default_str();
  CLI::App* show = cmd->add_subcommand("show", "Show one run: settings, provenance, reported metrics and every epoch");
  show->add_option("key", o->key, "the run's key, or a unique prefix of it")->required();
  // `mad runs show KEY --db FILE`: options after KEY belong to `runs`.
  show->fallthrough();
  show->callback([o] { run_show(*o); });
  cmd->callback([o, cmd] {
    if (cmd->get_subcommands().empty()) run_list(*o);
  });
}

}  // namespace mad::cli
