// `mad report --out DIR`: DIR/index.html, one self-contained HTML page over a results database: the score
// table, scores per task, accuracy against each difficulty axis and against state size (results/report.h).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/score_format.h"
#include "models/arch_spec.h"
#include "models/draw.h"
#include "results/report.h"

namespace mad::cli {
namespace {

struct ReportCommandOptions {
  std::string db;
  std::string out;
  std::string sweep;
};

// A standalone SVG made fit for inlining into the page next to others: no namespace URL (HTML5 inline
// SVG needs none, and the page names no URL) and its arrowhead marker's id made unique per drawing.
std::string inline_drawing(std::string svg, size_t index) {
  const auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t at = svg.find(from); at != std::string::npos; at = svg.find(from, at + to.size())) svg.replace(at, from.size(), to);
  };
  replace_all(" xmlns=\"http://www.w3.org/2000/svg\"", "");
  const std::string id = fmt::format("arrow{}", index);
  replace_all("id=\"a\"", "id=\"" + id + "\"");
  replace_all("url(#a)", "url(#" + id + ")");
  return svg;
}

void run_report(const ReportCommandOptions& o) {
  const std::vector<results::StoredRun> runs = read_runs(o.db, o.sweep);
  results::ReportOptions options;
  options.db = o.db;
  options.sweep = o.sweep;
  options.scores = protocol_expectations();
  options.task_labels = task_shorthands();
  // Each architecture's drawing, as `mad describe --graph svg` draws it (results/ does not know the models).
  for (const results::StoredRun& r : runs) {
    if (options.drawings.contains(r.architecture_hash)) continue;
    try {
      options.drawings[r.architecture_hash] =
          inline_drawing(models::arch_svg(models::arch_from_config(r.run.architecture.spec)), options.drawings.size());
    } catch (const std::exception&) {
      // A spec this mad cannot build (a layer from another version): the report goes without its drawing.
    }
  }
  const std::string page = results::write_report(runs, options, o.out);
  fmt::print("wrote {} ({} runs) and each chart's data as CSV next to it; open it in a browser, it needs no network\n",
             page, runs.size());
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
