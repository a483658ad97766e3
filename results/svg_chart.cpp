#include "results/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mad::results::svg {

namespace {

// Space around the plot area for the title (top), tick labels and axis labels (left, bottom).
constexpr double kLeft = 54, kRight = 14, kTop = 28, kBottom = 46;

// Maps data values to pixels along one axis: [lo, hi] (in log10 when log) onto [from, to].
struct Scale {
  double lo = 0, hi = 1;
  bool log = false;
  double from = 0, to = 1;

  double operator()(double v) const {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return from + t * (to - from);
  }
};

// A data range widened by 6% each side (in log space for a log axis), so edge markers are not clipped.
Scale padded(double lo, double hi, bool log, double from, double to) {
  if (log) {
    const double a = std::log10(lo), b = std::log10(hi), pad = a == b ? 0.3 : 0.06 * (b - a);
    return {std::pow(10.0, a - pad), std::pow(10.0, b + pad), true, from, to};
  }
  const double pad = lo == hi ? std::max(1.0, std::abs(lo) * 0.5) : 0.06 * (hi - lo);
  return {lo - pad, hi + pad, false, from, to};
}

// The x ticks: the data's own values when few (the grid's values are what a reader looks for), else
// powers of ten (log) or about five round steps (linear).
std::vector<double> x_ticks(std::vector<double> values, const Scale& s) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  if (values.size() <= 8) return values;
  std::vector<double> ticks;
  if (s.log) {
    for (double p = std::pow(10.0, std::ceil(std::log10(s.lo))); p <= s.hi; p *= 10) ticks.push_back(p);
    if (ticks.size() >= 2) return ticks;
    ticks.clear();
    for (double p = std::pow(10.0, std::floor(std::log10(s.lo))); p <= s.hi; p *= 10) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (p * m >= s.lo && p * m <= s.hi) ticks.push_back(p * m);
      }
    }
    return ticks;
  }
  const double raw = (s.hi - s.lo) / 5, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = magnitude * (raw / magnitude < 2 ? 2 : raw / magnitude < 5 ? 5 : 10);
  for (double t = std::ceil(s.lo / step) * step; t <= s.hi; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);  // 0, not 1e-17, after rounding
  }
  return ticks;
}

std::string open_svg(int width, int height, const std::string& title) {
  return fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"100%\" role=\"img\" aria-label=\"{2}\">\n"
      "<text class=\"title\" x=\"{3:.1f}\" y=\"17\" text-anchor=\"middle\">{2}</text>\n",
      width, height, escape(title), width / 2.0);
}

// Horizontal grid lines and labels of the y axis (accuracies: quarters of [y_min, y_max]), and its name.
std::string y_axis(const Scale& y, double left, double right, const std::string& label) {
  std::string out;
  for (int i = 0; i <= 4; ++i) {
    const double v = y.lo + (y.hi - y.lo) * i / 4, py = y(v);
    out += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", left, py,
                       right, py);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 5, py + 4,
                       short_number(v));
  }
  const double mid = (y.from + y.to) / 2;
  out += fmt::format(
      "<text x=\"13\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 13 {0:.1f})\">{1}</text>\n", mid,
      escape(label));
  return out;
}

// A vertical error bar at pixel column px from value low to high (clamped to the axis), caps `cap` wide.
std::string error_bar(double px, const ErrorBar& e, const Scale& y, double cap) {
  const double lo = y(std::clamp(e.low, y.lo, y.hi)), hi = y(std::clamp(e.high, y.lo, y.hi));
  return fmt::format(
      "<path class=\"error\" d=\"M{0:.1f},{1:.1f}V{2:.1f}M{3:.1f},{1:.1f}H{4:.1f}M{3:.1f},{2:.1f}H{4:.1f}\" "
      "stroke=\"#333\" stroke-width=\"1.2\" fill=\"none\"/>\n",
      px, lo, hi, px - cap / 2, px + cap / 2);
}

std::string marker(const Point& p, const Scale& x, const Scale& y, const Series& s) {
  return marker_shape(s.color, x(p.x), y(p.y), s.hollow ? 4.5 : 4, s.hollow, p.tip);
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string color(size_t index) {
  // Okabe & Ito (2008), without its yellow (too light on white) and with black last.
  static const char* const kPalette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"};
  return kPalette[index % std::size(kPalette)];
}

std::string dash(size_t index) {
  static const char* const kDashes[] = {"", "7 3", "2 2.5", "9 3 2 3", "4 2 1 2 1 2"};
  return kDashes[index % std::size(kDashes)];
}

std::string marker_shape(size_t index, double cx, double cy, double r, bool hollow, std::string_view tip) {
  const std::string paint = fmt::format("fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\"",
                                        hollow ? "#fff" : color(index), color(index), hollow ? 1.8 : 1);
  const std::string title = fmt::format("<title>{}</title>", escape(tip));
  const double h = r * 1.15;  // triangles and diamonds a little larger, to look as heavy as the circle
  switch (index % 6) {
    case 0:
      return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" {}>{}</circle>\n", cx, cy, r, paint, title);
    case 1:
      return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" {}>{}</rect>\n", cx - r * 0.9,
                         cy - r * 0.9, r * 1.8, r * 1.8, paint, title);
    case 2:  // triangle up
      return fmt::format("<path d=\"M{:.1f},{:.1f}L{:.1f},{:.1f}L{:.1f},{:.1f}Z\" {}>{}</path>\n", cx, cy - h, cx + h,
                         cy + h * 0.8, cx - h, cy + h * 0.8, paint, title);
    case 3:  // diamond
      return fmt::format("<path d=\"M{0:.1f},{1:.1f}L{2:.1f},{3:.1f}L{0:.1f},{4:.1f}L{5:.1f},{3:.1f}Z\" {6}>{7}</path>\n", cx,
                         cy - h, cx + h, cy, cy + h, cx - h, paint, title);
    case 4:  // triangle down
      return fmt::format("<path d=\"M{:.1f},{:.1f}L{:.1f},{:.1f}L{:.1f},{:.1f}Z\" {}>{}</path>\n", cx, cy + h, cx + h,
                         cy - h * 0.8, cx - h, cy - h * 0.8, paint, title);
    default: {  // a filled plus: twelve corners, arms a third as wide as they are long
      const double a = h * 0.35;
      const double corners[12][2] = {{-a, -h}, {a, -h}, {a, -a}, {h, -a}, {h, a}, {a, a},
                                     {a, h},   {-a, h}, {-a, a}, {-h, a}, {-h, -a}, {-a, -a}};
      std::string d;
      for (const auto& [dx, dy] : corners) d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : "L", cx + dx, cy + dy);
      return fmt::format("<path d=\"{}Z\" {}>{}</path>\n", d, paint, title);
    }
  }
}

std::string legend_icon(size_t index, bool hollow) {
  return fmt::format(
      "<svg class=\"icon\" width=\"34\" height=\"14\" viewBox=\"0 0 34 14\" aria-hidden=\"true\">"
      "<line x1=\"1\" y1=\"7\" x2=\"33\" y2=\"7\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>{}</svg>",
      color(index), dash(index), marker_shape(index, 17, 7, 4, hollow, ""));
}

bool wants_log_scale(std::span<const double> values) {
  if (values.empty()) return false;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return *lo > 0 && *hi > 8 * *lo;
}

std::string short_number(double value) {
  const double a = std::abs(value);
  if (a >= 1e6) return fmt::format("{:.3g}M", value / 1e6);
  if (a >= 1e4) return fmt::format("{:.3g}k", value / 1e3);
  return fmt::format("{:.4g}", value);
}

std::string xy_chart(const XyChart& chart) {
  const double left = kLeft, right = chart.width - kRight, top = kTop, bottom = chart.height - kBottom;
  std::vector<double> xs;
  for (const Series& s : chart.series) {
    for (const Point& p : s.points) {
      if (!chart.log_x || p.x > 0) xs.push_back(p.x);
    }
  }
  std::string out = open_svg(chart.width, chart.height, chart.title);
  const Scale y{chart.y_min, chart.y_max, false, bottom, top};
  out += y_axis(y, left, right, chart.y_label);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}{}</text>\n", (left + right) / 2,
                     chart.height - 6, escape(chart.x_label), chart.log_x ? " (log scale)" : "");
  if (xs.empty()) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">no scores</text>\n</svg>\n",
                       (left + right) / 2, (top + bottom) / 2);
    return out;
  }
  const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  const Scale x = padded(*lo, *hi, chart.log_x, left, right);
  for (double t : x_ticks(xs, x)) {
    out += fmt::format("<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>", x(t),
                       bottom, bottom + 4);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x(t), bottom + 16,
                       short_number(t));
  }
  out += fmt::format("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n", left,
                     bottom, right);
  for (const Series& s : chart.series) {
    std::vector<Point> points;
    for (const Point& p : s.points) {
      if (!chart.log_x || p.x > 0) points.push_back(p);
    }
    std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
    if (s.connect && points.size() > 1) {
      std::string coordinates;
      for (const Point& p : points) {
        coordinates += fmt::format("{}{:.1f},{:.1f}", coordinates.empty() ? "" : " ", x(p.x), y(p.y));
      }
      out += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" stroke-dasharray=\"{}\" points=\"{}\">"
          "<title>{}</title></polyline>\n",
          color(s.color), dash(s.color), coordinates, escape(s.name));
    }
    for (const Point& p : points) {
      if (p.error) out += error_bar(x(p.x), *p.error, y, 6);
      out += marker(p, x, y, s);
    }
  }
  return out + "</svg>\n";
}

std::string bar_chart(const BarChart& chart) {
  const double left = kLeft, right = chart.width - kRight, top = kTop, bottom = chart.height - kBottom + 16;
  std::string out = open_svg(chart.width, chart.height, chart.title);
  const Scale y{chart.y_min, chart.y_max, false, bottom, top};
  out += y_axis(y, left, right, chart.y_label);
  out += fmt::format("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>\n", left,
                     bottom, right);
  if (chart.groups.empty()) return out + "</svg>\n";
  // Each group gets an equal band; its bars fill 80% of it, side by side.
  const double band = (right - left) / static_cast<double>(chart.groups.size());
  const double bar_width = 0.8 * band / static_cast<double>(std::max<size_t>(1, chart.colors.size()));
  for (size_t g = 0; g < chart.groups.size(); ++g) {
    const double start = left + band * static_cast<double>(g) + 0.1 * band;
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", start + 0.4 * band,
                       bottom + 16, escape(chart.groups[g]));
    for (size_t b = 0; b < chart.bars[g].size() && b < chart.colors.size(); ++b) {
      const Bar& bar = chart.bars[g][b];
      if (!bar.value) continue;
      const double v = std::clamp(*bar.value, chart.y_min, chart.y_max),
                   px = start + bar_width * static_cast<double>(b);
      const std::string c = color(chart.colors[b]);
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" fill-opacity=\"{}\" "
          "stroke=\"{}\">"
          "<title>{}</title></rect>\n",
          px, y(v), std::max(1.0, bar_width - 1), bottom - y(v), c, bar.faded ? 0.35 : 1.0, c, escape(bar.tip));
      if (bar.error) out += error_bar(px + (bar_width - 1) / 2, *bar.error, y, std::max(2.0, 0.5 * bar_width));
    }
  }
  return out + "</svg>\n";
}

}  // namespace mad::results::svg
