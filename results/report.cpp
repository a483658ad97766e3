#include "results/report.h"

#include "config/atomic_file.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <cctype>
#include <set>

#include "config/canonical.h"
#include "core/error.h"
#include "results/provenance.h"
#include "results/setting_axes.h"
#include "results/svg_chart.h"

namespace mad::results {

namespace {

using svg::escape;

// What the charts need of an architecture besides its scores: the architectures table's row.
struct Architecture {
  std::string name;  // display name
  std::string hash;
  ArchitectureInfo info;
  size_t color = 0;  // palette index: its row in the score table, the same in every chart
};

// Everything the sections read, computed once.
struct Page {
  const ReportOptions& options;
  std::span<const StoredRun> runs;
  ScoreTable table;
  std::vector<Architecture> architectures;  // in table row order
  // The score table's columns shown: the tasks with at least one run (a task that is only expected, by
  // the protocol grid, would be an empty column), then the overall column.
  std::vector<size_t> columns;
  std::vector<ReportFile> data;  // each chart's data as CSV, written next to index.html
};

size_t overall_column(const Page& page) { return page.table.tasks.size(); }

const TaskScore& cell_at(const Page& page, size_t row, size_t column) {
  return page.table.cells[row * (page.table.tasks.size() + 1) + column];
}

std::string column_task(const Page& page, size_t column) {
  return column == overall_column(page) ? std::string(kOverallTask) : page.table.tasks[column];
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_number(std::optional<double> v) { return v ? config::format_double(*v) : ""; }

// Adds a CSV file to the page's data and returns the link a chart shows under it.
std::string add_data(Page& page, std::string name, const std::string& header, const std::vector<std::string>& rows) {
  std::string content = header + "\n";
  for (const std::string& row : rows) content += row + "\n";
  page.data.push_back({name, std::move(content)});
  return fmt::format("<p class=\"data\">Data: <a href=\"{0}\">{0}</a></p>\n", escape(name));
}

// A file name from a task and an axis: letters, digits and dashes only.
std::string file_stem(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
  return out;
}

std::string task_label(const Page& page, const std::string& task) {
  const auto it = page.options.task_labels.find(task);
  return it == page.options.task_labels.end() ? task : it->second;
}

std::string score_text(std::optional<double> score) { return score ? fmt::format("{:.3f}", *score) : "-"; }

// The error bar of a score over several seeds: its 95% bootstrap interval.
std::optional<svg::ErrorBar> error_of(const SeedStats& seeds) {
  if (!seeds.ci_low) return std::nullopt;
  return svg::ErrorBar{*seeds.ci_low, *seeds.ci_high};
}

std::string interval_tip(const SeedStats& seeds) {
  if (!seeds.ci_low) return "";
  return fmt::format(", mean of {} seeds, 95% interval [{:.3f}, {:.3f}]", seeds.n, *seeds.ci_low, *seeds.ci_high);
}

// An HTML key of the architectures' colours, markers and line styles; `hollow` draws the growing-state
// ones with open markers.
std::string legend(const Page& page, bool hollow) {
  std::string out = "<div class=\"legend\">";
  for (const Architecture& a : page.architectures) {
    out += fmt::format("<span class=\"key\">{}{}</span>", svg::legend_icon(a.color, hollow && !a.info.fixed_state),
                       escape(a.name));
  }
  return out + "</div>\n";
}

// ---- (a) the score table ---------------------------------------------------------------------------

std::string score_table(const Page& page) {
  const ScoreTable& t = page.table;
  std::string out = "<table class=\"scores\">\n<thead><tr><th>architecture</th><th>params</th><th>state size</th>";
  for (size_t c : page.columns) {
    if (c == overall_column(page)) continue;
    out += fmt::format("<th title=\"{}\">{}</th>", escape(t.tasks[c]), escape(task_label(page, t.tasks[c])));
  }
  out += "<th>mean</th></tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < page.architectures.size(); ++r) {
    const Architecture& a = page.architectures[r];
    out += fmt::format("<tr><th>{}{}</th><td>{}</td><td>{}{}</td>", svg::legend_icon(a.color, false), escape(a.name),
                       a.info.params, a.info.state_size, a.info.fixed_state ? "" : "&#8224;");
    for (size_t c : page.columns) {
      const TaskScore& cell = cell_at(page, r, c);
      const std::string tip = fmt::format("{} of {} settings scored, {} runs, {} dropped", cell.settings,
                                          cell.expected_settings, cell.runs, cell.dropped);
      out += fmt::format("<td class=\"{}{}\" title=\"{}\">{}{}</td>", c == overall_column(page) ? "mean" : "score",
                         cell.incomplete ? " incomplete" : "", tip,
                         cell.score ? fmt::format("{} <small>{}({})</small>", score_text(cell.score),
                                                  cell.seeds.ci_low ? fmt::format("[{:.3f}, {:.3f}] ", *cell.seeds.ci_low,
                                                                                  *cell.seeds.ci_high)
                                                                    : "",
                                                  cell.runs)
                                    : "-",
                         cell.incomplete ? "*" : "");
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  std::string names;
  for (size_t c : page.columns) {
    const std::string task = column_task(page, c);
    if (c != overall_column(page) && task_label(page, task) != task) {
      names += fmt::format("{}{}: {}", names.empty() ? "" : ", ", escape(task_label(page, task)), escape(task));
    }
  }
  out += fmt::format(
      "<p class=\"note\">{}{}Score: the best test MAD accuracy of each task setting over its lr &times; weight-decay "
      "runs "
      "(diverged and failed runs dropped), averaged over the task's settings; mean: the mean of the task scores. "
      "(n): runs behind the cell. <span class=\"incomplete\">*: incomplete</span>, fewer scored settings than the "
      "protocol grid has. &#8224;: the state grows with the sequence length (softmax attention); its size is at the "
      "recorded length.</p>\n",
      names, names.empty() ? "" : ". ");
  return out;
}

// ---- (b) scores per task ---------------------------------------------------------------------------

std::string score_bars(Page& page) {
  svg::BarChart chart;
  chart.title = "MAD score per task";
  chart.y_label = "score";
  std::vector<std::string> rows;
  for (size_t c : page.columns) {
    const std::string task = column_task(page, c);
    chart.groups.push_back(c == overall_column(page) ? task : task_label(page, task));
    std::vector<svg::Bar> bars;
    for (size_t r = 0; r < page.architectures.size(); ++r) {
      const TaskScore& cell = cell_at(page, r, c);
      bars.push_back({cell.score, cell.incomplete,
                      fmt::format("{}, {}: {}{}{}", cell.architecture, cell.task, score_text(cell.score),
                                  interval_tip(cell.seeds), cell.incomplete ? " (incomplete)" : ""),
                      error_of(cell.seeds)});
      rows.push_back(fmt::format("{},{},{},{},{},{},{}", csv_field(cell.architecture), csv_field(task),
                                 csv_number(cell.score), cell.seeds.n, csv_number(cell.seeds.ci_low),
                                 csv_number(cell.seeds.ci_high), cell.incomplete ? 1 : 0));
    }
    chart.bars.push_back(std::move(bars));
  }
  for (const Architecture& a : page.architectures) chart.colors.push_back(a.color);
  return legend(page, false) + svg::bar_chart(chart) +
         add_data(page, "scores.csv", "architecture,task,score,n_seeds,ci_low,ci_high,incomplete", rows) +
         "<p class=\"note\">Light bars: incomplete scores. Error bars (with several seeds): the 95% bootstrap "
         "interval of the mean over seeds.</p>\n";
}

// ---- (c) accuracy against each difficulty axis -----------------------------------------------------

bool is_number(const config::Value* v) {
  return v && (v->kind() == config::Value::Kind::Int || v->kind() == config::Value::Kind::Double);
}

// Empty when no task varies an axis (the section is then left out).
std::string axis_charts(Page& page) {
  const ScoreTable& t = page.table;
  std::string out;
  for (size_t c : page.columns) {
    if (c == overall_column(page)) continue;
    const std::string& task = t.tasks[c];
    std::map<std::string, config::Value> settings;  // setting hash -> settings, every architecture's
    for (const SettingScore& s : t.settings) {
      if (s.task == task) settings.emplace(s.setting_hash, s.settings);
    }
    std::vector<config::Value> all;
    for (const auto& [hash, s] : settings) all.push_back(s);
    const SettingGrid grid(all);
    std::string charts;
    for (const std::string& axis : grid.axes()) {
      svg::XyChart chart;
      chart.title = fmt::format("{}: accuracy against {}", task_label(page, task), axis);
      chart.x_label = axis;
      chart.y_label = "setting score";
      std::vector<double> xs;
      std::vector<std::string> rows;
      for (const Architecture& a : page.architectures) {
        svg::Series series{a.name, a.color, false, true, {}};
        for (const SettingScore& s : t.settings) {
          const config::Value* x = s.settings.find(axis);
          if (s.architecture != a.name || s.task != task || !s.score || !is_number(x) ||
              !grid.on_axis(s.settings, axis))
            continue;
          series.points.push_back(
              {x->as_double(), *s.score,
               fmt::format("{}: {}={}, score {:.3f}{} (lr {}, weight decay {})", a.name, axis, config::canonical(*x),
                           *s.score, interval_tip(s.seeds), config::format_double(s.lr),
                           config::format_double(s.weight_decay)),
               error_of(s.seeds)});
          xs.push_back(x->as_double());
          rows.push_back(fmt::format("{},{},{},{},{},{},{},{}", csv_field(a.name), config::canonical(*x),
                                     csv_number(s.score), s.seeds.n, csv_number(s.seeds.ci_low),
                                     csv_number(s.seeds.ci_high), config::format_double(s.lr),
                                     config::format_double(s.weight_decay)));
        }
        chart.series.push_back(std::move(series));
      }
      if (xs.empty()) continue;  // a non-numeric axis
      chart.log_x = svg::wants_log_scale(xs);
      charts += svg::xy_chart(chart) +
                add_data(page, fmt::format("difficulty-{}-{}.csv", file_stem(task), file_stem(axis)),
                         fmt::format("architecture,{},score,n_seeds,ci_low,ci_high,lr,weight_decay", axis), rows);
    }
    if (charts.empty()) continue;  // one setting, or no numeric axis: nothing to plot
    out += fmt::format("<h3>{} <small>{}</small></h3>\n<div class=\"charts\">\n{}</div>\n", escape(task),
                       escape(task_label(page, task)), charts);
  }
  if (out.empty()) return out;
  return legend(page, false) + out +
         "<p class=\"note\">Each line runs through a task's baseline and the settings that change only this axis "
         "(the baseline is each axis' most common value). Setting score: the best test MAD accuracy over the "
         "lr &times; weight-decay runs. Tasks with a single setting have no axis and are not shown.</p>\n";
}

// ---- (d) accuracy against state size ---------------------------------------------------------------

std::string state_chart(const Page& page, const std::string& task, std::vector<std::string>& rows) {
  svg::XyChart chart;
  chart.title = task == kOverallTask ? "mean score against state size" : task_label(page, task) + " against state size";
  chart.x_label = "state size (floats per sequence)";
  chart.y_label = task == kOverallTask ? "mean score" : "task score";
  std::vector<double> xs;
  for (const Architecture& a : page.architectures) {
    const TaskScore* cell = page.table.find(a.name, task);
    svg::Series series{a.name, a.color, !a.info.fixed_state, false, {}};
    if (cell && cell->score) {
      const double x = static_cast<double>(a.info.state_size);
      series.points.push_back({x, *cell->score,
                               fmt::format("{}: state {}{}, score {:.3f}{}{}", a.name, a.info.state_size,
                                           a.info.fixed_state ? "" : " (grows with length)", *cell->score,
                                           interval_tip(cell->seeds), cell->incomplete ? " (incomplete)" : ""),
                               error_of(cell->seeds)});
      xs.push_back(x);
      rows.push_back(fmt::format("{},{},{},{},{},{},{},{}", csv_field(a.name), csv_field(task), a.info.state_size,
                                 a.info.fixed_state ? 1 : 0, csv_number(cell->score), cell->seeds.n,
                                 csv_number(cell->seeds.ci_low), csv_number(cell->seeds.ci_high)));
    }
    chart.series.push_back(std::move(series));
  }
  chart.log_x = svg::wants_log_scale(xs);
  return svg::xy_chart(chart);
}

std::string state_charts(Page& page) {
  bool growing = false;
  for (const Architecture& a : page.architectures) growing = growing || !a.info.fixed_state;
  std::vector<std::string> rows;
  std::string out = legend(page, true) + "<div class=\"charts\">\n";
  for (size_t c : page.columns) {
    const std::string task = column_task(page, c);
    bool scored = false;  // a task no architecture has a score on would give an empty chart
    for (const Architecture& a : page.architectures) scored = scored || page.table.find(a.name, task)->score;
    if (scored) out += state_chart(page, task, rows);
  }
  out += "</div>\n" + add_data(page, "state.csv", "architecture,task,state_size,fixed_state,score,n_seeds,ci_low,ci_high", rows);
  out += growing
             ? "<p class=\"note\">Hollow markers: a state that grows with the sequence length (softmax attention, "
               "<code>fixed_state = 0</code>); its size is the one recorded, at the recorded sequence length, so it "
               "is not comparable with a fixed state.</p>\n"
             : "<p class=\"note\">Every architecture here has a fixed-size state.</p>\n";
  return out;
}

// ---- runs that did not complete, and the architectures ---------------------------------------------

// Diverged and failed runs with the reason; empty when there are none.
std::string unfinished_runs(const Page& page) {
  std::string rows;
  for (const StoredRun& r : page.runs) {
    if (r.run.status != RunStatus::diverged && r.run.status != RunStatus::failed) continue;
    rows += fmt::format("<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                        escape(r.run.architecture.name), escape(task_label(page, task_of(r.run.task_settings))),
                        escape(config::canonical(r.run.task_settings)), config::format_double(r.run.training.lr),
                        config::format_double(r.run.training.weight_decay), r.run.training.seed,
                        status_name(r.run.status), escape(r.run.error.empty() ? "-" : r.run.error));
  }
  if (rows.empty()) return "";
  return "<h2 id=\"unfinished\">Runs that diverged or failed</h2>\n<table class=\"runs\">\n<thead><tr><th>architecture</th>"
         "<th>task</th><th>settings</th><th>lr</th><th>wd</th><th>seed</th><th>status</th><th>reason</th></tr></thead>\n"
         "<tbody>\n" + rows + "</tbody></table>\n<p class=\"note\">Diverged runs (the loss became NaN or infinite) "
         "are dropped from the scores, not counted as 0; failed runs are retried by the next run of the sweep.</p>\n";
}

// Each architecture's drawing (given by the caller, ReportOptions::drawings); empty without drawings.
std::string architecture_drawings(const Page& page) {
  std::string out;
  for (const Architecture& a : page.architectures) {
    const auto it = page.options.drawings.find(a.hash);
    if (it == page.options.drawings.end()) continue;
    out += fmt::format("<figure class=\"drawing\"><figcaption>{}{} <small>{} parameters, state {}{}</small></figcaption>\n{}</figure>\n",
                       svg::legend_icon(a.color, false), escape(a.name), a.info.params, a.info.state_size,
                       a.info.fixed_state ? "" : " (grows with the sequence length)", it->second);
  }
  return out.empty() ? "" : "<h2 id=\"architectures\">Architectures</h2>\n" + out;
}

// ---- (e) footer ------------------------------------------------------------------------------------

std::string footer(const Page& page) {
  std::map<RunStatus, int64_t> by_status;
  std::set<std::string> settings;
  for (const StoredRun& r : page.runs) {
    ++by_status[r.run.status];
    settings.insert(r.setting_hash);
  }
  std::string counts;
  for (RunStatus s : {RunStatus::completed, RunStatus::diverged, RunStatus::pruned, RunStatus::paused, RunStatus::failed,
                      RunStatus::running}) {
    if ((s == RunStatus::pruned || s == RunStatus::paused) && by_status[s] == 0) continue;  // no search here
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", by_status[s], status_name(s));
  }
  const ReportOptions& o = page.options;
  return fmt::format(
      "<footer><p>Database <code>{}</code>, {}. {} runs ({}) of {} architectures on {} task settings.</p>\n"
      "<p>Generated {} by madcpp {}.</p></footer>\n",
      escape(o.db), o.sweep.empty() ? "all runs" : fmt::format("sweep <code>{}</code>", escape(o.sweep)),
      page.runs.size(), counts, page.architectures.size(), settings.size(),
      escape(o.generated_at.empty() ? utc_timestamp() : o.generated_at), MAD_VERSION);
}

constexpr const char* kStyle = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1400px;
       padding: 0 1.5em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 small { color: #777; font-weight: normal; }
code { font-size: 0.95em; }
table.scores { border-collapse: collapse; font-variant-numeric: tabular-nums; }
table.scores th, table.scores td { padding: 0.3em 0.7em; border-bottom: 1px solid #e4e4e4; text-align: right; }
table.scores th:first-child { text-align: left; }
table.scores td.mean { font-weight: 600; }
.incomplete { color: #a05a00; }
td.incomplete { background: #fff6e8; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
.legend { margin: 0.5em 0; }
.key { margin-right: 1.2em; white-space: nowrap; }
.charts { display: block; }
svg.chart { display: block; width: 100%; height: auto; margin: 0.5em 0; font-size: 11px; font-family: inherit; }
svg.icon { vertical-align: -0.15em; margin-right: 0.35em; }
p.data { font-size: 0.8em; margin: 0 0 1em; text-align: right; }
table.runs { border-collapse: collapse; font-size: 0.9em; }
table.runs th, table.runs td { padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; text-align: left; }
figure.drawing { margin: 1em 0; } figure.drawing svg { max-width: 100%; height: auto; }
svg.chart text { fill: #333; }
svg.chart text.title { font-size: 12px; font-weight: 600; }
svg.chart line.grid { stroke: #eee; } svg.chart line.axis, svg.chart line.tick { stroke: #888; }
footer { margin-top: 3em; color: #666; font-size: 0.85em; border-top: 1px solid #ddd; }
)css";

}  // namespace

std::vector<ReportFile> report_files(std::span<const StoredRun> runs, const ReportOptions& options) {
  Page page{options, runs, mad_scores(runs, options.scores), {}, {}, {}};
  std::map<std::string, ArchitectureInfo> info;  // hash -> the architectures table's row
  for (const StoredRun& r : runs) info.emplace(r.architecture_hash, r.run.architecture);
  for (size_t i = 0; i < page.table.architectures.size(); ++i) {
    const std::string& name = page.table.architectures[i];
    const std::string& hash = page.table.find(name, kOverallTask)->architecture_hash;
    page.architectures.push_back({name, hash, info.at(hash), i});
  }
  for (size_t c = 0; c < page.table.tasks.size(); ++c) {
    bool has_runs = false;
    for (size_t r = 0; r < page.architectures.size(); ++r) has_runs = has_runs || cell_at(page, r, c).runs > 0;
    if (has_runs) page.columns.push_back(c);
  }
  page.columns.push_back(overall_column(page));

  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>MAD report: {0}</title>\n"
      "<style>{1}</style>\n</head>\n<body>\n<h1>MAD report</h1>\n<p>{2} architecture{5} on {3} task{6}, from "
      "<code>{0}</code>{4}.</p>\n",
      escape(options.db), kStyle, page.architectures.size(), page.columns.size() - 1,
      options.sweep.empty() ? "" : fmt::format(", sweep <code>{}</code>", escape(options.sweep)),
      page.architectures.size() == 1 ? "" : "s", page.columns.size() == 2 ? "" : "s");
  if (page.architectures.empty()) {
    html += "<p>No scored runs yet.</p>\n";
  } else {
    html += "<h2 id=\"scores\">MAD scores</h2>\n" + score_table(page);
    html += "<h2 id=\"tasks\">Scores per task</h2>\n" + score_bars(page);
    const std::string difficulty = axis_charts(page);
    if (!difficulty.empty()) html += "<h2 id=\"difficulty\">Accuracy against difficulty</h2>\n" + difficulty;
    html += "<h2 id=\"state\">Accuracy against state size</h2>\n" + state_charts(page);
  }
  html += unfinished_runs(page) + architecture_drawings(page);
  std::vector<ReportFile> files{{"index.html", html + footer(page) + "</body>\n</html>\n"}};
  for (ReportFile& f : page.data) files.push_back(std::move(f));
  return files;
}

std::string report_html(std::span<const StoredRun> runs, const ReportOptions& options) {
  return report_files(runs, options).front().content;
}

namespace {

// Atomic (config/atomic_file.h): a reader never sees half a file, and a full disk leaves the old file, or
// none, and no temporary behind.
void write_atomically(const std::filesystem::path& dir, const std::string& name, const std::string& content) {
  config::write_file_atomically(dir / name, content);
}

}  // namespace

std::string write_report(std::span<const StoredRun> runs, const ReportOptions& options, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const std::vector<ReportFile> files = report_files(runs, options);
  std::error_code error;
  fs::create_directories(out_dir, error);
  MAD_CHECK(!error && fs::is_directory(out_dir),
            "cannot create the report directory '{}' ({}); give --out a directory you can write", out_dir,
            error ? error.message() : "a file has that name");
  // The data first and the page last: a page on disk always has its CSV files next to it.
  for (size_t i = files.size(); i-- > 0;) write_atomically(out_dir, files[i].name, files[i].content);
  return (fs::path(out_dir) / "index.html").string();
}

}  // namespace mad::results
