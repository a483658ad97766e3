// The HTML report over a results database: one self-contained page (inline CSS, inline SVG charts, no
// script, no font, image or anything else fetched from a network) with
//   (a) the MAD score table (results::mad_scores: per task per architecture, the mean, incomplete cells
//       marked),
//   (b) a grouped bar chart of the scores per task,
//   (c) per task, the setting score against each difficulty axis it varies (SettingGrid), one line per
//       architecture,
//   (d) the scores (overall and per task) against each architecture's total state size, with a state
//       that grows with the sequence length (softmax attention) drawn hollow,
//   (e) the runs that diverged or failed, with the reason, and each architecture's drawing (when given),
//   (f) a footer with the database, sweep, run counts and the generation time.
// Only tasks with runs get a column, and sections with nothing to show are left out. Charts take the
// page's width; each architecture keeps one colour (Okabe-Ito), marker and line style in every chart; each
// chart's data is also written as a CSV file next to the page.
// Every string from the database is HTML-escaped.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "results/record.h"
#include "results/scores.h"

namespace mad::results {

struct ReportOptions {
  std::string db;     // the database's path, shown in the footer
  std::string sweep;  // the sweep the runs were taken from, shown in the footer; empty: every run
  ScoreOptions scores;  // expected settings per task (the protocol grid from the caller): marks incomplete cells
  std::map<std::string, std::string> task_labels;  // short column names ("CR"); a task without one shows its name
  std::string generated_at;  // the footer's time; empty: now (ISO 8601 UTC)
  // Architecture hash -> an SVG drawing of its spec (models/draw.h; results/ does not know the models),
  // shown in the section "Architectures". Architectures without one are left out of it.
  std::map<std::string, std::string> drawings;
};

// A file of the report: index.html, or a chart's data as CSV (linked from under the chart).
struct ReportFile {
  std::string name, content;
};

// index.html first, then the CSV files.
std::vector<ReportFile> report_files(std::span<const StoredRun> runs, const ReportOptions& options);

// The page for `runs` (as ResultsDb::runs returns them).
std::string report_html(std::span<const StoredRun> runs, const ReportOptions& options);

// Writes report_files to out_dir, creating it when missing. Atomic per file: each is written to NAME.tmp
// and renamed, the page last, so a reader never sees half a page or a page without its data. Returns the
// path of the page. Throws a
// one-line mad::Error naming the directory and the fix when it cannot be written.
std::string write_report(std::span<const StoredRun> runs, const ReportOptions& options, const std::string& out_dir);

}  // namespace mad::results
