#include "models/draw.h"

#include <algorithm>
#include <map>

#include "models/graph.h"

namespace mad::models {
namespace {

struct Drawing {
  struct Node {
    std::string label, cluster;
  };
  struct Edge {
    int from, to;
    std::string label;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  std::vector<std::string> clusters;  // in order of appearance

  int add(std::string label, std::string cluster = "") {
    if (!cluster.empty() && std::find(clusters.begin(), clusters.end(), cluster) == clusters.end())
      clusters.push_back(cluster);
    nodes.push_back({std::move(label), std::move(cluster)});
    return static_cast<int>(nodes.size()) - 1;
  }
  void edge(int a, int b, std::string label = "") { edges.push_back({a, b, std::move(label)}); }
};

// Draws one resolved entry fed by node `from`; returns the node that carries its result.
int draw_entry(Drawing& d, const std::string& type, const config::Value& c, int from, const std::string& cluster) {
  if (type == "wiring") {
    std::map<std::string, int> tensors;
    const int in = d.add("input " + c.get<std::string>("input"), cluster);
    d.edge(from, in);
    tensors[c.get<std::string>("input")] = in;
    for (const auto& [name, node] : c.at("nodes").as_map()) {
      const std::string t = node_type(node);
      const int id = d.add(name + ": " + (is_group_type(t) ? node_summary(t, node_config(node)) : t), cluster);
      for (const config::Value& r : node.at("in").as_list()) {
        const std::string tensor = r.as_string();
        const auto it = tensors.find(tensor);
        if (it != tensors.end()) d.edge(it->second, id, tensor.find('.') != std::string::npos || node.contains("out") ? tensor : "");
        else {  // a named output of a multi-output node: drawn from its node
          const size_t dot = tensor.rfind('.');
          if (dot != std::string::npos && tensors.contains(tensor.substr(0, dot))) d.edge(tensors[tensor.substr(0, dot)], id, tensor);
        }
      }
      tensors[name] = id;
      if (node.contains("out"))
        for (const config::Value& o : node.at("out").as_list()) tensors[o.as_string()] = id;
    }
    const std::string out = c.get<std::string>("output");
    const size_t dot = out.rfind('.');
    return tensors.contains(out) ? tensors[out] : tensors[out.substr(0, dot)];
  }
  if (type == "parallel") {
    const int combine = d.add("combine: " + c.get<std::string>("combine"), cluster);
    int b = 0;
    for (const config::Value& child : c.at("branches").as_list()) {
      const std::string sub = cluster + "/branch " + std::to_string(b++);
      d.edge(draw_entry(d, node_type(child), node_config(child), from, sub), combine);
    }
    return combine;
  }
  if (type == "sequential") {
    int last = from;
    for (const config::Value& child : c.at("layers").as_list()) last = draw_entry(d, node_type(child), node_config(child), last, cluster);
    return last;
  }
  const int id = d.add(node_summary(type, c), cluster);
  d.edge(from, id);
  return id;
}

Drawing draw(const ArchSpec& spec) {
  Drawing d;
  int last = d.add("token embedding");
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const std::string cluster = fmt::format("{}: {}", i, node_summary(l.type, l.config));
    last = draw_entry(d, l.type, l.config, last, cluster);
  }
  d.edge(last, d.add("norm, head"));
  return d;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

std::string xml(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else out += ch;
  }
  return out;
}

}  // namespace

std::string arch_dot(const ArchSpec& spec) {
  const Drawing d = draw(spec);
  std::string s = fmt::format("digraph arch {{\n  rankdir=TB; node [shape=box, fontname=\"Helvetica\"];\n  label=\"dim {}, "
                              "norm {}; each top-level entry: x + entry(norm(x)) unless wrap: false\";\n",
                              spec.dim, spec.norm);
  for (size_t k = 0; k < d.clusters.size(); ++k) {
    s += fmt::format("  subgraph cluster_{} {{\n    label=\"{}\";\n", k, escape(d.clusters[k]));
    for (size_t i = 0; i < d.nodes.size(); ++i)
      if (d.nodes[i].cluster == d.clusters[k]) s += fmt::format("    n{} [label=\"{}\"];\n", i, escape(d.nodes[i].label));
    s += "  }\n";
  }
  for (size_t i = 0; i < d.nodes.size(); ++i)
    if (d.nodes[i].cluster.empty()) s += fmt::format("  n{} [label=\"{}\"];\n", i, escape(d.nodes[i].label));
  for (const auto& e : d.edges)
    s += e.label.empty() ? fmt::format("  n{} -> n{};\n", e.from, e.to)
                         : fmt::format("  n{} -> n{} [label=\"{}\"];\n", e.from, e.to, escape(e.label));
  return s + "}\n";
}

std::string arch_svg(const ArchSpec& spec) {
  const Drawing d = draw(spec);
  // Row of a node: its longest path from the embedding (edges go from earlier to later nodes).
  std::vector<int> row(d.nodes.size(), 0);
  for (const auto& e : d.edges) row[static_cast<size_t>(e.to)] = std::max(row[static_cast<size_t>(e.to)], row[static_cast<size_t>(e.from)] + 1);
  for (int pass = 0; pass < 2; ++pass)  // edges are recorded in creation order, which is not always row order
    for (const auto& e : d.edges) row[static_cast<size_t>(e.to)] = std::max(row[static_cast<size_t>(e.to)], row[static_cast<size_t>(e.from)] + 1);
  std::vector<int> col(d.nodes.size(), 0);
  std::map<int, int> per_row;
  for (size_t i = 0; i < d.nodes.size(); ++i) col[i] = per_row[row[i]]++;
  int width_cols = 1, rows = 1;
  for (const auto& [r, n] : per_row) {
    width_cols = std::max(width_cols, n);
    rows = std::max(rows, r + 1);
  }
  constexpr int W = 190, H = 28, GX = 20, GY = 26;
  auto x_of = [&](size_t i) {
    const int n = per_row[row[i]];
    return GX + (width_cols - n) * (W + GX) / 2 + col[i] * (W + GX);
  };
  auto y_of = [&](size_t i) { return GY + row[i] * (H + GY); };
  std::string s = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"Helvetica\" "
                              "font-size=\"11\">\n<defs><marker id=\"a\" markerWidth=\"8\" markerHeight=\"8\" refX=\"8\" refY=\"4\" "
                              "orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\"/></marker></defs>\n",
                              GX + width_cols * (W + GX), GY + rows * (H + GY));
  for (const auto& e : d.edges) {
    const auto a = static_cast<size_t>(e.from), b = static_cast<size_t>(e.to);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#555\" marker-end=\"url(#a)\"/>\n", x_of(a) + W / 2,
                     y_of(a) + H, x_of(b) + W / 2, y_of(b));
    if (!e.label.empty())
      s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#555\">{}</text>\n", (x_of(a) + x_of(b)) / 2 + W / 2 + 3,
                       (y_of(a) + H + y_of(b)) / 2, xml(e.label));
  }
  for (size_t i = 0; i < d.nodes.size(); ++i) {
    const std::string label = d.nodes[i].label.size() > 30 ? d.nodes[i].label.substr(0, 29) + "..." : d.nodes[i].label;
    s += fmt::format("<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"{}\" stroke=\"#333\"/>"
                     "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>\n",
                     xml(d.nodes[i].cluster.empty() ? d.nodes[i].label : d.nodes[i].cluster + " / " + d.nodes[i].label),
                     x_of(i), y_of(i), W, H, d.nodes[i].cluster.empty() ? "#eee" : "#dde8f5", x_of(i) + W / 2, y_of(i) + 18, xml(label));
  }
  return s + "</svg>\n";
}

}  // namespace mad::models
