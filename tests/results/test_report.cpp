// The HTML report: one self-contained page (no URL, no script), a chart per expected figure, every
// database string escaped, each architecture's scores shown, written atomically, and one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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
  EXPECT_EQ(count(html, "<svg"), 1u + 1u + 3u);
  EXPECT_NE(html.find("CR: accuracy against vocab_size"), std::string::npos);
  EXPECT_NE(html.find("One setting: no difficulty axis"), std::string::npos);
  EXPECT_NE(html.find("mean score against state size"), std::string::npos);
  // The vocabulary axis of the recall chart spans 2x: linear. The state sizes (4096, 65536) span 16x: log.
  EXPECT_EQ(count(html, "vocab_size (log scale)"), 0u);
  EXPECT_EQ(count(html, "state size (floats per sequence) (log scale)"), 3u);
  // The growing state, and only it, is drawn hollow (a white fill) in the 3 state charts; a note says why.
  EXPECT_EQ(count(html, "fill=\"#fff\""), 3u);
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

}  // namespace
}  // namespace mad::results
