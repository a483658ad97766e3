#include "results/report.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
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
  ArchitectureInfo info;
  size_t color = 0;  // palette index: its row in the score table, the same in every chart
};

// Everything the sections read, computed once.
struct Page {
  const ReportOptions& options;
  std::span<const StoredRun> runs;
  ScoreTable table;
  std::vector<Architecture> architectures;  // in table row order
};

std::string task_label(const Page& page, const std::string& task) {
  const auto it = page.options.task_labels.find(task);
  return it == page.options.task_labels.end() ? task : it->second;
}

std::string score_text(std::optional<double> score) { return score ? fmt::format("{:.3f}", *score) : "-"; }

// An HTML key of the architectures' colours; `hollow` draws the growing-state ones as open circles.
std::string legend(const Page& page, bool hollow) {
  std::string out = "<div class=\"legend\">";
  for (const Architecture& a : page.architectures) {
    const bool open = hollow && !a.info.fixed_state;
    out +=
        fmt::format("<span class=\"key\"><span class=\"swatch{}\" style=\"{}:{}\"></span>{}</span>",
                    open ? " hollow" : "", open ? "border-color" : "background", svg::color(a.color), escape(a.name));
  }
  return out + "</div>\n";
}

// ---- (a) the score table ---------------------------------------------------------------------------

std::string score_table(const Page& page) {
  const ScoreTable& t = page.table;
  std::string out = "<table class=\"scores\">\n<thead><tr><th>architecture</th><th>params</th><th>state size</th>";
  for (const std::string& task : t.tasks) {
    out += fmt::format("<th title=\"{}\">{}</th>", escape(task), escape(task_label(page, task)));
  }
  out += "<th>mean</th></tr></thead>\n<tbody>\n";
  const size_t columns = t.tasks.size() + 1;
  for (size_t r = 0; r < page.architectures.size(); ++r) {
    const Architecture& a = page.architectures[r];
    out += fmt::format("<tr><th><span class=\"swatch\" style=\"background:{}\"></span>{}</th><td>{}</td><td>{}{}</td>",
                       svg::color(a.color), escape(a.name), a.info.params, a.info.state_size,
                       a.info.fixed_state ? "" : "&#8224;");
    for (size_t c = 0; c < columns; ++c) {
      const TaskScore& cell = t.cells[r * columns + c];
      const std::string tip = fmt::format("{} of {} settings scored, {} runs, {} dropped", cell.settings,
                                          cell.expected_settings, cell.runs, cell.dropped);
      out += fmt::format("<td class=\"{}{}\" title=\"{}\">{}{}</td>", c + 1 == columns ? "mean" : "score",
                         cell.incomplete ? " incomplete" : "", tip,
                         cell.score ? fmt::format("{} <small>({})</small>", score_text(cell.score), cell.runs) : "-",
                         cell.incomplete ? "*" : "");
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  std::string names;
  for (const std::string& task : t.tasks) {
    if (task_label(page, task) != task) {
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

std::string score_bars(const Page& page) {
  const ScoreTable& t = page.table;
  svg::BarChart chart;
  chart.title = "MAD score per task";
  chart.y_label = "score";
  const size_t columns = t.tasks.size() + 1;
  for (size_t c = 0; c < columns; ++c) {
    chart.groups.push_back(c < t.tasks.size() ? task_label(page, t.tasks[c]) : std::string(kOverallTask));
    std::vector<svg::Bar> bars;
    for (size_t r = 0; r < page.architectures.size(); ++r) {
      const TaskScore& cell = t.cells[r * columns + c];
      bars.push_back({cell.score, cell.incomplete,
                      fmt::format("{}, {}: {}{}", cell.architecture, cell.task, score_text(cell.score),
                                  cell.incomplete ? " (incomplete)" : "")});
    }
    chart.bars.push_back(std::move(bars));
  }
  for (const Architecture& a : page.architectures) chart.colors.push_back(a.color);
  chart.width = std::max(480, static_cast<int>(80 + columns * (24 + 14 * page.architectures.size())));
  return legend(page, false) + svg::bar_chart(chart) + "<p class=\"note\">Light bars: incomplete scores.</p>\n";
}

// ---- (c) accuracy against each difficulty axis -----------------------------------------------------

bool is_number(const config::Value* v) {
  return v && (v->kind() == config::Value::Kind::Int || v->kind() == config::Value::Kind::Double);
}

std::string axis_charts(const Page& page) {
  const ScoreTable& t = page.table;
  std::string out = legend(page, false);
  for (const std::string& task : t.tasks) {
    std::map<std::string, config::Value> settings;  // setting hash -> settings, every architecture's
    for (const SettingScore& s : t.settings) {
      if (s.task == task) settings.emplace(s.setting_hash, s.settings);
    }
    std::vector<config::Value> all;
    for (const auto& [hash, s] : settings) all.push_back(s);
    const SettingGrid grid(all);
    out += fmt::format("<h3>{} <small>{}</small></h3>\n<div class=\"charts\">\n", escape(task),
                       escape(task_label(page, task)));
    if (grid.axes().empty()) {
      out += fmt::format("<p class=\"note\">{}</p>\n",
                         settings.empty() ? "No scored runs." : "One setting: no difficulty axis to plot.");
    }
    for (const std::string& axis : grid.axes()) {
      svg::XyChart chart;
      chart.title = fmt::format("{}: accuracy against {}", task_label(page, task), axis);
      chart.x_label = axis;
      chart.y_label = "setting score";
      std::vector<double> xs;
      for (const Architecture& a : page.architectures) {
        svg::Series series{a.name, a.color, false, true, {}};
        for (const SettingScore& s : t.settings) {
          const config::Value* x = s.settings.find(axis);
          if (s.architecture != a.name || s.task != task || !s.score || !is_number(x) ||
              !grid.on_axis(s.settings, axis))
            continue;
          series.points.push_back(
              {x->as_double(), *s.score,
               fmt::format("{}: {}={}, score {:.3f} (lr {}, weight decay {})", a.name, axis, config::canonical(*x),
                           *s.score, config::format_double(s.lr), config::format_double(s.weight_decay))});
          xs.push_back(x->as_double());
        }
        chart.series.push_back(std::move(series));
      }
      if (xs.empty()) {
        out += fmt::format("<p class=\"note\">{}: no numeric values to plot.</p>\n", escape(axis));
        continue;
      }
      chart.log_x = svg::wants_log_scale(xs);
      out += svg::xy_chart(chart);
    }
    out += "</div>\n";
  }
  return out +
         "<p class=\"note\">Each line runs through a task's baseline and the settings that change only this axis "
         "(the baseline is each axis' most common value). Setting score: the best test MAD accuracy over the "
         "lr &times; weight-decay runs.</p>\n";
}

// ---- (d) accuracy against state size ---------------------------------------------------------------

std::string state_chart(const Page& page, const std::string& task, int width, int height) {
  svg::XyChart chart;
  chart.title = task == kOverallTask ? "mean score against state size" : task_label(page, task) + " against state size";
  chart.x_label = "state size (floats per sequence)";
  chart.y_label = task == kOverallTask ? "mean score" : "task score";
  chart.width = width;
  chart.height = height;
  std::vector<double> xs;
  for (const Architecture& a : page.architectures) {
    const TaskScore* cell = page.table.find(a.name, task);
    svg::Series series{a.name, a.color, !a.info.fixed_state, false, {}};
    if (cell && cell->score) {
      const double x = static_cast<double>(a.info.state_size);
      series.points.push_back({x, *cell->score,
                               fmt::format("{}: state {}{}, score {:.3f}{}", a.name, a.info.state_size,
                                           a.info.fixed_state ? "" : " (grows with length)", *cell->score,
                                           cell->incomplete ? " (incomplete)" : "")});
      xs.push_back(x);
    }
    chart.series.push_back(std::move(series));
  }
  chart.log_x = svg::wants_log_scale(xs);
  return svg::xy_chart(chart);
}

std::string state_charts(const Page& page) {
  bool growing = false;
  for (const Architecture& a : page.architectures) growing = growing || !a.info.fixed_state;
  std::string out =
      legend(page, true) + "<div class=\"charts\">\n" + state_chart(page, std::string(kOverallTask), 480, 300);
  for (const std::string& task : page.table.tasks) {
    bool scored = false;  // a task no architecture has a score on would give an empty chart
    for (const Architecture& a : page.architectures) scored = scored || page.table.find(a.name, task)->score;
    if (scored) out += state_chart(page, task, 330, 240);
  }
  out += "</div>\n";
  out += growing
             ? "<p class=\"note\">Hollow markers: a state that grows with the sequence length (softmax attention, "
               "<code>fixed_state = 0</code>); its size is the one recorded, at the recorded sequence length, so it "
               "is not comparable with a fixed state.</p>\n"
             : "<p class=\"note\">Every architecture here has a fixed-size state.</p>\n";
  return out;
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
  for (RunStatus s : {RunStatus::completed, RunStatus::diverged, RunStatus::failed, RunStatus::running}) {
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
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; }
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
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.35em; border-radius: 50%;
          border: 2px solid transparent; vertical-align: -0.05em; box-sizing: border-box; }
.swatch.hollow { background: #fff; }
.charts { display: flex; flex-wrap: wrap; gap: 0.5em 1.5em; align-items: flex-start; }
svg.chart { font-size: 11px; font-family: inherit; }
svg.chart text { fill: #333; }
svg.chart text.title { font-size: 12px; font-weight: 600; }
svg.chart line.grid { stroke: #eee; } svg.chart line.axis, svg.chart line.tick { stroke: #888; }
footer { margin-top: 3em; color: #666; font-size: 0.85em; border-top: 1px solid #ddd; }
)css";

}  // namespace

std::string report_html(std::span<const StoredRun> runs, const ReportOptions& options) {
  Page page{options, runs, mad_scores(runs, options.scores), {}};
  std::map<std::string, ArchitectureInfo> info;  // hash -> the architectures table's row
  for (const StoredRun& r : runs) info.emplace(r.architecture_hash, r.run.architecture);
  for (size_t i = 0; i < page.table.architectures.size(); ++i) {
    const std::string& name = page.table.architectures[i];
    page.architectures.push_back({name, info.at(page.table.find(name, kOverallTask)->architecture_hash), i});
  }

  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>MAD report: {0}</title>\n"
      "<style>{1}</style>\n</head>\n<body>\n<h1>MAD report</h1>\n<p>{2} architectures on {3} tasks, from "
      "<code>{0}</code>{4}.</p>\n",
      escape(options.db), kStyle, page.architectures.size(), page.table.tasks.size(),
      options.sweep.empty() ? "" : fmt::format(", sweep <code>{}</code>", escape(options.sweep)));
  if (page.architectures.empty()) {
    html += "<p>No scored runs yet.</p>\n";
  } else {
    html += "<h2 id=\"scores\">MAD scores</h2>\n" + score_table(page);
    html += "<h2 id=\"tasks\">Scores per task</h2>\n" + score_bars(page);
    html += "<h2 id=\"difficulty\">Accuracy against difficulty</h2>\n" + axis_charts(page);
    html += "<h2 id=\"state\">Accuracy against state size</h2>\n" + state_charts(page);
  }
  return html + footer(page) + "</body>\n</html>\n";
}

std::string write_report(std::span<const StoredRun> runs, const ReportOptions& options, const std::string& out_dir) {
  namespace fs = std::filesystem;
  const std::string html = report_html(runs, options);
  std::error_code error;
  fs::create_directories(out_dir, error);
  MAD_CHECK(!error && fs::is_directory(out_dir),
            "cannot create the report directory '{}' ({}); give --out a directory you can write", out_dir,
            error ? error.message() : "a file has that name");
  const fs::path page = fs::path(out_dir) / "index.html";
  const fs::path partial = fs::path(out_dir) / "index.html.tmp";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    MAD_CHECK(file.is_open(), "cannot write '{}' ({}); give --out a directory you can write", partial.string(),
              std::strerror(errno));
    file << html;
    file.close();
    MAD_CHECK(!file.fail(), "cannot write '{}' (disk full?); free space or give --out another directory",
              partial.string());
  }
  fs::rename(partial, page, error);
  if (error) fs::remove(partial);
  MAD_CHECK(!error, "cannot rename '{}' to '{}' ({}); give --out a directory you can write", partial.string(),
            page.string(), error.message());
  return page.string();
}

}  // namespace mad::results
