// `mad report --out DIR`: DIR/index.html, one self-contained HTML page over a results database: the score
// table, scores per task, accuracy against each difficulty axis and against state size (results/report.h).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/score_format.h"
#include "results/report.h"

namespace mad::cli {
namespace {

struct ReportCommandOptions {
  std::string db;
  std::string out;
  std::string sweep;
};

void run_report(const ReportCommandOptions& o) {
  const std::vector<results::StoredRun> runs = read_runs(o.db, o.sweep);
  results::ReportOptions options;
  options.db = o.db;
  options.sweep = o.sweep;
  options.scores = protocol_expectations();
  options.task_labels = task_shorthands();
  const std::string page = results::write_report(runs, options, o.out);
  fmt::print("wrote {} ({} runs); open it in a browser, it needs no network\n", page, runs.size());
}

}  // namespace

void setup_report(CLI::App& app) {
  auto o = std::make_shared<ReportCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write DIR/index.html: one self-contained HTML page (no scripts, nothing fetched) with the MAD score table,\n"
      "a bar chart of the scores per task, accuracy against each difficulty axis of each task, and accuracy\n"
      "against state size. Example: mad report --db results.db --out report");
  cmd->add_option("--db", o->db, "results database (SQLite), e.g. --db results.db")->required();
  cmd->add_option("--out", o->out, "directory for index.html, created when missing, e.g. --out report")->required();
  cmd->add_option("--sweep", o->sweep, "only the runs of this sweep, e.g. --sweep quick");
  cmd->callback([o] { run_report(*o); });
}

}  // namespace mad::cli
