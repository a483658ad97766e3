// The HTML report: one self-contained page (no URL, no script), a chart per expected figure, every
// database string escaped, each architecture's scores shown, written atomically, and one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "results/report.h"
#include "results/results_db.h"
#include "results/svg_chart.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::error_of;
using testing::make_run;
using testing::record_example;
using testing::TempDir;

const std::string kRecall = testing::kRecall;
const std::string kCompression = testing::kCompression;
const std::string kEvilName = "<b>x</b>&";

// The scores example (A and B), plus an attention-like architecture with a hostile name and a state that
// grows with the sequence length: recall V16 0.556 (one of two settings: incomplete), compression 0.444.
std::vector<StoredRun> example_runs(const std::string& path) {
  ResultsDb db = ResultsDb::open(path);
  record_example(db);
  for (const auto& [task, acc] : {std::pair{kRecall, 0.556}, std::pair{kCompression, 0.444}}) {
    RunRecord run = make_run({.architecture = "attention", .task = task, .test_acc = acc});
    run.architecture.name = kEvilName;
    run.architecture.state_size = 65536;
    run.architecture.fixed_state = false;
    db.record_run(run);
  }
  return db.runs();
}

ReportOptions options(const std::string& db) {
  ReportOptions o;
  o.db = db;
  o.scores = ScoreOptions{{{kRecall, 2}, {kCompression, 2}}};
  o.task_labels = {{kRecall, "CR"}};
  o.generated_at = "2024-05-01T12:00:00Z";
  return o;
}

std::string read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Report, WritesOneSelfContainedPage) {
  TempDir dir("report_page");
  const std::vector<StoredRun> runs = example_runs(dir.file("r.db"));
  const std::string out = dir.file("report");  // does not exist yet: write_report creates it
  const std::string page = write_report(runs, options(dir.file("r.db")), out);
  EXPECT_EQ(page, out + "/index.html");
  ASSERT_TRUE(std::filesystem::exists(page));
  EXPECT_FALSE(std::filesystem::exists(page + ".tmp"));
  const std::string html = read(page);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>\n<html", 0), 0u);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
  EXPECT_EQ(count(html, "<body>"), 1u);
  EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
  // Nothing fetched from anywhere, nothing run.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST(Report, HasAChartPerExpectedFigure) {
  TempDir dir("report_charts");
  const std::string html = report_html(example_runs(dir.file("r.db")), options(dir.file("r.db")));
  // 1 bar chart; accuracy against vocab_size for recall (compression has one setting: no axis); state
  // size overall and per task (2).
  EXPECT_EQ(count(html, "<svg class=\"chart\""), 1u + 1u + 3u);
  EXPECT_NE(html.find("CR: accuracy against vocab_size"), std::string::npos);
  EXPECT_EQ(html.find("<h3>compression"), std::string::npos);  // no axis: no empty heading
  EXPECT_NE(html.find("mean score against state size"), std::string::npos);
  // The vocabulary axis of the recall chart spans 2x: linear. The state sizes (4096, 65536) span 16x: log.
  EXPECT_EQ(count(html, "vocab_size (log scale)"), 0u);
  EXPECT_EQ(count(html, "state size (floats per sequence) (log scale)"), 3u);
  // The growing state, and only it, is drawn hollow (a white fill) in the 3 state charts and their legend;
  // a note says why.
  EXPECT_EQ(count(html, "fill=\"#fff\""), 3u + 1u);
  EXPECT_NE(html.find("Hollow markers"), std::string::npos);
}

TEST(Report, EscapesEveryDatabaseString) {
  TempDir dir("report_escape");
  ReportOptions o = options(dir.file("r&<db>.db"));
  o.sweep = "\"sweep\"";
  std::vector<StoredRun> runs = example_runs(dir.file("r.db"));
  const std::string html = report_html(runs, o);
  EXPECT_EQ(html.find(kEvilName), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;x&lt;/b&gt;&amp;"), std::string::npos);
  EXPECT_NE(html.find("r&amp;&lt;db&gt;.db"), std::string::npos);
  EXPECT_NE(html.find("&quot;sweep&quot;"), std::string::npos);
  EXPECT_EQ(svg::escape("a<'&\">"), "a&lt;&#39;&amp;&quot;&gt;");
}

TEST(Report, ShowsEachArchitecturesScores) {
  TempDir dir("report_scores");
  const std::string html = report_html(example_runs(dir.file("r.db")), options(dir.file("r.db")));
  // Table cells: A recall 0.650, mean 0.725 (incomplete); B mean 0.600; the third architecture 0.556,
  // 0.444 and their mean 0.5.
  for (const std::string text :
       {"0.650 <small>(4)</small>", "0.725 <small>(5)</small>*", "0.600 <small>(2)</small>*",
        "0.556 <small>(1)</small>*", "0.444 <small>(1)</small>*", "0.500 <small>(2)</small>*"}) {
    EXPECT_NE(html.find(text), std::string::npos) << text;
  }
  EXPECT_NE(html.find("<td class=\"score incomplete\""), std::string::npos);
  EXPECT_NE(html.find("Database <code>"), std::string::npos);
  EXPECT_NE(html.find("13 runs (10 completed, 1 diverged, 1 failed, 1 running) of 3 architectures on 3 task settings"),
            std::string::npos);
  EXPECT_NE(html.find("Generated 2024-05-01T12:00:00Z"), std::string::npos);
}

TEST(Report, AnEmptyDatabaseGivesAPageWithoutCharts) {
  const std::string html = report_html({}, options("empty.db"));
  EXPECT_NE(html.find("No scored runs yet"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
}

TEST(Report, AnUnwritableDirectoryIsAOneLineError) {
  TempDir dir("report_unwritable");
  std::ofstream(dir.file("file.txt")) << "x";
  const std::string message = error_of([&] { write_report({}, options("r.db"), dir.file("file.txt") + "/report"); });
  EXPECT_NE(message.find("cannot create the report directory"), std::string::npos) << message;
  EXPECT_NE(message.find("give --out a directory you can write"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(SvgChart, LogScaleOnlyWhenPositiveValuesSpanMoreThan8x) {
  EXPECT_TRUE(svg::wants_log_scale(std::vector<double>{16, 256}));
  EXPECT_FALSE(svg::wants_log_scale(std::vector<double>{16, 128}));
  EXPECT_FALSE(svg::wants_log_scale(std::vector<double>{0, 100}));
  EXPECT_FALSE(svg::wants_log_scale(std::vector<double>{}));
  EXPECT_EQ(svg::short_number(16384), "16.4k");
  EXPECT_EQ(svg::short_number(0.25), "0.25");
}

TEST(Report, SeveralSeedsDrawErrorBarsAndOneSeedNone) {
  TempDir dir("report_seeds");
  ResultsDb db = ResultsDb::open(dir.file("r.db"));
  for (int64_t seed = 1; seed <= 3; ++seed) {
    db.record_run(make_run({.architecture = "A", .test_acc = 0.2 * static_cast<double>(seed), .seed = seed}));
    db.record_run(make_run({.architecture = "A", .vocab_size = 32, .test_acc = 0.5, .seed = seed}));
  }
  const std::vector<StoredRun> runs = db.runs();
  const std::string html = report_html(runs, options(dir.file("r.db")));
  // Error bars on A's recall and mean bars (it has no compression runs), on its two recall points and
  // on its two state-size points.
  size_t bars = 0;
  for (size_t at = html.find("class=\"error\""); at != std::string::npos; at = html.find("class=\"error\"", at + 1)) ++bars;
  EXPECT_EQ(bars, 4u + 2u) << html;
  EXPECT_NE(html.find("mean of 3 seeds, 95% interval ["), std::string::npos);
  const std::string single = report_html(example_runs(dir.file("one.db")), options(dir.file("one.db")));
  EXPECT_EQ(single.find("class=\"error\""), std::string::npos);
}

TEST(Report, CountsAndShowsOnlyTasksWithRuns) {
  TempDir dir("report_tasks");
  ReportOptions o = options(dir.file("r.db"));
  o.scores.expected.push_back({"memorization", 6});  // expected by the grid, but no run
  const std::string html = report_html(example_runs(dir.file("r.db")), o);
  EXPECT_NE(html.find("3 architectures on 2 tasks"), std::string::npos);
  EXPECT_EQ(html.find("<th title=\"memorization\""), std::string::npos);
  EXPECT_EQ(html.find("memorization against state size"), std::string::npos);
}

TEST(Report, WritesEachChartsDataAsCsvNextToThePage) {
  TempDir dir("report_csv");
  const std::vector<ReportFile> files = report_files(example_runs(dir.file("r.db")), options(dir.file("r.db")));
  ASSERT_EQ(files.front().name, "index.html");
  std::map<std::string, std::string> by_name;
  for (const ReportFile& f : files) by_name[f.name] = f.content;
  for (const char* name : {"scores.csv", "difficulty-in-context-recall-vocab-size.csv", "state.csv"}) {
    ASSERT_TRUE(by_name.contains(name)) << name;
    EXPECT_NE(files.front().content.find(fmt::format("<a href=\"{0}\">{0}</a>", name)), std::string::npos) << name;
  }
  EXPECT_EQ(files.size(), 4u);
  // Numbers exactly as computed (the mean of 0.7 and 0.6 in doubles), not rounded as on the page.
  EXPECT_NE(by_name["scores.csv"].find("A,in-context-recall,0.6499999999999999,1,,,0\n"), std::string::npos) << by_name["scores.csv"];
  EXPECT_NE(by_name["scores.csv"].find("A,mean,0.725,"), std::string::npos);
  EXPECT_NE(by_name["difficulty-in-context-recall-vocab-size.csv"].find("A,32,0.6,"), std::string::npos);
  // CSV is not HTML: the name as it is.
  EXPECT_NE(by_name["state.csv"].find("<b>x</b>&,in-context-recall,65536,0,0.556,"), std::string::npos)
      << by_name["state.csv"];
  const std::string out = dir.file("report");
  write_report(example_runs(dir.file("r2.db")), options(dir.file("r2.db")), out);
  EXPECT_TRUE(std::filesystem::exists(out + "/scores.csv"));
  EXPECT_FALSE(std::filesystem::exists(out + "/scores.csv.tmp"));
}

TEST(Report, ListsDivergedAndFailedRunsWithTheReason) {
  TempDir dir("report_diverged");
  const std::string html = report_html(example_runs(dir.file("r.db")), options(dir.file("r.db")));
  EXPECT_NE(html.find("Runs that diverged or failed"), std::string::npos);
  EXPECT_NE(html.find("loss became NaN at epoch 3"), std::string::npos);
  EXPECT_NE(html.find("worker killed"), std::string::npos);
  TempDir clean("report_clean");
  ResultsDb db = ResultsDb::open(clean.file("r.db"));
  db.record_run(make_run({}));
  EXPECT_EQ(report_html(db.runs(), options(clean.file("r.db"))).find("Runs that diverged"), std::string::npos);
}

TEST(Report, EmbedsTheArchitecturesDrawings) {
  TempDir dir("report_drawings");
  const std::vector<StoredRun> runs = example_runs(dir.file("r.db"));
  ReportOptions o = options(dir.file("r.db"));
  EXPECT_EQ(report_html(runs, o).find("<h2 id=\"architectures\">"), std::string::npos);  // none given: no section
  for (const StoredRun& r : runs) o.drawings[r.architecture_hash] = "<svg><text>drawing of " + r.run.architecture.name + "</text></svg>";
  const std::string html = report_html(runs, o);
  EXPECT_NE(html.find("<h2 id=\"architectures\">"), std::string::npos);
  EXPECT_NE(html.find("drawing of A"), std::string::npos);
  EXPECT_NE(html.find("drawing of B"), std::string::npos);
}

TEST(SvgChart, EverySeriesDiffersInColourMarkerAndDash) {
  std::set<std::string> colors, shapes, dashes;
  for (size_t i = 0; i < 5; ++i) {
    colors.insert(svg::color(i));
    dashes.insert(svg::dash(i));
    shapes.insert(svg::marker_shape(i, 10, 10, 4, false, ""));  // the same place and size: differ in shape only
  }
  EXPECT_EQ(colors.size(), 5u);
  EXPECT_EQ(dashes.size(), 5u);
  EXPECT_EQ(shapes.size(), 5u);
  EXPECT_EQ(svg::color(0), "#0072b2");  // Okabe-Ito blue first
}

}  // namespace
}  // namespace mad::results
