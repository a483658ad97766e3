// Small SVG charts for the HTML report, generated as text: an x-y chart (lines through points, or
// points alone) and a grouped bar chart. Inline SVG in an HTML5 page needs no namespace declaration, so a
// chart contains no URL and no script; hover text is an SVG <title>. Every string given is HTML-escaped
// here. Sizes and coordinates are SVG user units (CSS pixels at 100% zoom).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mad::results::svg {

// Escapes & < > " ' so that any text (an architecture's name from a database) is inert in HTML and SVG.
std::string escape(std::string_view text);

// A series' look, by its number `index` (the report: an architecture's row): a colour of the Okabe-Ito
// palette (distinguishable with every common colour-vision deficiency), a marker shape and a line dash
// pattern, so that two series differ in all three and lines that overlap stay apart in print and in
// grey. The eight colours, six shapes and five dash patterns repeat independently.
std::string color(size_t index);
std::string dash(size_t index);  // an SVG stroke-dasharray value; "" is a solid line
// The marker of series `index` at (cx, cy), r its size; hollow: white inside. `tip` is its hover text.
std::string marker_shape(size_t index, double cx, double cy, double r, bool hollow, std::string_view tip);
// A small inline SVG of series `index`'s line and marker, for legends in HTML.
std::string legend_icon(size_t index, bool hollow);

// True when the values are all positive and span more than 8x: grid values such as 16, 32, ..., 256
// are then evenly spread on a log axis and crowded on a linear one.
bool wants_log_scale(std::span<const double> values);

// A number in few characters for tick labels and hover text: 0.25, 128, 16.4k, 2.1M.
std::string short_number(double value);

// An error bar: a vertical line from low to high with short caps (the report: a 95% interval over seeds).
struct ErrorBar {
  double low = 0, high = 0;
};

struct Point {
  double x = 0, y = 0;
  std::string tip;  // hover text
  std::optional<ErrorBar> error = {};
};

struct Series {
  std::string name;
  size_t color = 0;     // palette index, so a series keeps its colour across charts
  bool hollow = false;  // open markers (the report: a state that grows with the sequence length)
  bool connect = true;  // a line through the points in x order
  std::vector<Point> points;
};

struct XyChart {
  std::string title, x_label, y_label;
  bool log_x = false;
  double y_min = 0, y_max = 1;  // accuracies
  std::vector<Series> series;
  // The drawing's own units: a chart is drawn at the width of its container (the page), this aspect.
  int width = 960, height = 320;
};

std::string xy_chart(const XyChart& chart);

struct Bar {
  std::optional<double> value;  // nullopt: no bar
  bool faded = false;           // drawn light with an outline (the report: an incomplete score)
  std::string tip;
  std::optional<ErrorBar> error = {};
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> groups;  // categories along x (tasks)
  std::vector<size_t> colors;       // palette index of each bar within a group (architectures)
  std::vector<std::vector<Bar>> bars;  // [group][bar within the group]
  double y_min = 0, y_max = 1;
  int width = 960, height = 300;
};

std::string bar_chart(const BarChart& chart);

}  // namespace mad::results::svg
