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

// The palette: distinct colours for the first 10 series, then repeating. `index` is the series' number.
std::string color(size_t index);

// True when the values are all positive and span more than 8x: grid values such as 16, 32, ..., 256
// are then evenly spread on a log axis and crowded on a linear one.
bool wants_log_scale(std::span<const double> values);

// A number in few characters for tick labels and hover text: 0.25, 128, 16.4k, 2.1M.
std::string short_number(double value);

struct Point {
  double x = 0, y = 0;
  std::string tip;  // hover text
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
  int width = 360, height = 250;
};

std::string xy_chart(const XyChart& chart);

struct Bar {
  std::optional<double> value;  // nullopt: no bar
  bool faded = false;           // drawn light with an outline (the report: an incomplete score)
  std::string tip;
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> groups;  // categories along x (tasks)
  std::vector<size_t> colors;       // palette index of each bar within a group (architectures)
  std::vector<std::vector<Bar>> bars;  // [group][bar within the group]
  double y_min = 0, y_max = 1;
  int width = 760, height = 280;
};

std::string bar_chart(const BarChart& chart);

}  // namespace mad::results::svg
