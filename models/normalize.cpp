#include "models/normalize.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "config/canonical.h"
#include "core/params.h"

namespace mad::models {
namespace {

// One configuration a layer can take, measured at the model's shape.
struct Option {
  config::Value config;
  int64_t state = 0;   // counted towards N (0 for growing layers, whose state is excluded)
  int64_t params = 0;
  double change = 0;   // distance from the layer's original configuration
};

// A decision of the search: one option applied to `count` layers (a group of identical layers, or one layer).
struct Unit {
  std::vector<size_t> layers;  // indices into the spec
  std::vector<Option> options;  // options[0] is the original configuration
  bool carries_state() const {
    return std::any_of(options.begin(), options.end(), [](const Option& o) { return o.state != 0; });
  }
};

int64_t layer_params(const LayerEntry& entry, const config::Value& config, const BuildContext& ctx) {
  ParamStore store;
  entry.build(config, ParamScope(store).sub("layer"), ctx);
  int64_t masked = 0;  // the fixed zeros of wiring masks are not parameters (models/projection_mask.h)
  for (const auto& e : store.entries()) masked += e.init.masked_count();
  return store.num_params() - masked;
}

double change_of(const Option& o, const Option& original) {
  return std::abs(std::log((static_cast<double>(o.params) + 1) / (static_cast<double>(original.params) + 1))) +
         std::abs(std::log((static_cast<double>(o.state) + 1) / (static_cast<double>(original.state) + 1)));
}

// The original configuration and every valid, distinct size option of one layer. Options that fail to build,
// whose state is not fixed, or that duplicate another option's (state, params) with a larger change are dropped.
std::vector<Option> layer_options(const LayerEntry& entry, const config::Value& config, const BuildContext& ctx,
                                  bool growing) {
  Option original{config, growing ? 0 : entry.state(config, ctx).fixed_floats(), layer_params(entry, config, ctx), 0.0};
  std::vector<Option> out = {original};
  if (growing || !entry.size_options) return out;
  std::map<std::pair<int64_t, int64_t>, size_t> seen = {{{original.state, original.params}, 0}};
  for (config::Value& candidate : entry.size_options(config, ctx)) {
    Option o;
    try {
      const StateSize s = entry.state(candidate, ctx);
      if (!s.fixed && s.fixed_part == 0) continue;
      o.state = s.fixed_floats();  // a group's attention part grows and is not counted
      o.params = layer_params(entry, candidate, ctx);
    } catch (const Error&) {
      continue;  // an option the layer rejects at this shape (e.g. a window longer than the sequence)
    }
    o.config = std::move(candidate);
    o.change = change_of(o, original);
    const auto [it, inserted] = seen.emplace(std::pair{o.state, o.params}, out.size());
    if (inserted) out.push_back(std::move(o));
    else if (o.change < out[it->second].change) out[it->second] = std::move(o);
  }
  return out;
}

// A partial assignment of the units processed so far (back-pointer chain through the search's stages).
struct Node {
  int64_t params = 0;
  double change = 0;
  int parent = -1;  // index into the previous stage's nodes
  int option = 0;
};

struct SearchResult {
  std::vector<int> choice;  // option index per unit
  int64_t state = 0, params = 0;
  double change = 0;
};

constexpr size_t kKeptPerState = 80;  // nodes kept per state sum when a parameter target is given
// Candidate nodes one stage of the search may generate; beyond it fewer nodes per state sum are carried in
// (down to the least-change one), so that many layers with many options stay a fraction of a second.
constexpr double kWorkBudget = 4e6;

// Keeps at most `limit` nodes of one state sum: the least-change node when limit is 1; otherwise distinct
// parameter sums (the least change for each), four fifths spread over the parameter range, so that later
// units can still reach P, and one fifth the least-change ones (the balanced choices the tie-break prefers).
void thin(std::vector<Node>& nodes, size_t limit) {
  if (nodes.size() <= 1) return;
  if (limit <= 1) {
    auto best = std::min_element(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.change < b.change; });
    nodes = {*best};
    return;
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const Node& a, const Node& b) { return a.params != b.params ? a.params < b.params : a.change < b.change; });
  nodes.erase(std::unique(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.params == b.params; }),
              nodes.end());
  if (nodes.size() <= limit) return;
  const size_t least_change = std::max<size_t>(1, limit / 5), spread = std::max<size_t>(2, limit - least_change);
  std::vector<char> keep(nodes.size(), 0);
  for (size_t i = 0; i < spread; ++i) keep[i * (nodes.size() - 1) / (spread - 1)] = 1;
  std::vector<size_t> by_change(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) by_change[i] = i;
  std::partial_sort(by_change.begin(), by_change.begin() + static_cast<std::ptrdiff_t>(least_change), by_change.end(),
                    [&](size_t a, size_t b) { return nodes[a].change < nodes[b].change; });
  for (size_t i = 0; i < least_change; ++i) keep[by_change[i]] = 1;
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (keep[i]) kept.push_back(nodes[i]);
  nodes = std::move(kept);
}

// Picks one option per unit: the state sum closest to `target.state` (below wins a tie), then the parameters
// within half target.params_tolerance of target.params, or as close as possible (when given; `base_params`
// are the parameters outside the layers), then the least change. Units carrying state are searched first,
// over state sums (every reachable sum up to `bound` is kept); the others only change the parameters.
SearchResult search(const std::vector<Unit>& units, const NormalizeTarget& target, int64_t base_params) {
  const bool with_params = target.params > 0;
  std::vector<size_t> order;
  for (size_t u = 0; u < units.size(); ++u)
    if (units[u].carries_state()) order.push_back(u);
  const size_t state_units = order.size();
  for (size_t u = 0; u < units.size(); ++u)
    if (!units[u].carries_state()) order.push_back(u);
  // The unit with the most options last: its nodes are not thinned (the state sum is chosen by then), so it
  // fine-tunes the parameters.
  std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(state_units), order.end(),
                   [&](size_t a, size_t b) { return units[a].options.size() < units[b].options.size(); });

  // Sums above `bound` can never be the closest: something at most N is closer, or the smallest sum is.
  int64_t min_sum = 0;
  for (size_t k = 0; k < state_units; ++k) {
    const Unit& unit = units[order[k]];
    int64_t m = INT64_MAX;
    for (const Option& o : unit.options) m = std::min(m, o.state);
    min_sum += m * static_cast<int64_t>(unit.layers.size());
  }
  const int64_t bound = std::max(2 * target.state, min_sum);

  std::vector<std::vector<Node>> stages;            // nodes per processed unit
  std::map<int64_t, std::vector<int>> by_state = {{0, {-1}}};  // state sum -> node indices of the last stage
  // Extends every node of `frontier` (state sum -> node indices of the last stage) by each option of a unit.
  // `last`: the final unit of a search whose state sum is already chosen; its nodes are all kept, so that the
  // best is picked from all of them.
  auto extend = [&](size_t unit_index, std::map<int64_t, std::vector<int>> frontier, bool last) {
    const Unit& unit = units[unit_index];
    const int64_t count = static_cast<int64_t>(unit.layers.size());
    const std::vector<Node>* previous = stages.empty() ? nullptr : &stages.back();
    size_t limit = with_params ? kKeptPerState : 1;
    if (last && with_params) limit = SIZE_MAX;
    // Over budget: carry fewer nodes per state sum into this stage.
    size_t incoming = 0;
    for (const auto& [sum, nodes] : frontier) incoming += nodes.size();
    const double work = static_cast<double>(incoming) * static_cast<double>(unit.options.size());
    if (previous && work > kWorkBudget) {
      const double per_sum = kWorkBudget / (static_cast<double>(frontier.size()) * static_cast<double>(unit.options.size()));
      const size_t carried = static_cast<size_t>(std::max(1.0, per_sum));
      for (auto& [sum, indices] : frontier) {
        if (indices.size() <= carried) continue;
        std::vector<Node> nodes;
        for (int i : indices) nodes.push_back((*previous)[static_cast<size_t>(i)]);
        for (size_t k = 0; k < nodes.size(); ++k) nodes[k].parent = indices[k];  // remember the index
        thin(nodes, carried);
        indices.clear();
        for (const Node& n : nodes) indices.push_back(n.parent);
      }
    }
    std::unordered_map<int64_t, std::vector<Node>> next;
    for (const auto& [sum, nodes] : frontier)
      for (int parent : nodes) {
        const Node p = parent >= 0 ? (*previous)[static_cast<size_t>(parent)] : Node{};
        for (size_t o = 0; o < unit.options.size(); ++o) {
          const Option& option = unit.options[o];
          const int64_t s = sum + option.state * count;
          if (s > bound) continue;
          std::vector<Node>& bucket = next[s];
          bucket.push_back({p.params + option.params * count, p.change + option.change * static_cast<double>(count),
                            parent, static_cast<int>(o)});
          if (limit != SIZE_MAX && bucket.size() >= 4 * limit) thin(bucket, limit);  // bounded memory
        }
      }
    std::vector<int64_t> sums;
    for (const auto& [sum, nodes] : next) sums.push_back(sum);
    std::sort(sums.begin(), sums.end());
    std::vector<Node> stage;
    std::map<int64_t, std::vector<int>> result;
    for (int64_t sum : sums) {
      std::vector<Node>& nodes = next[sum];
      thin(nodes, limit);
      std::vector<int>& indices = result[sum];
      for (Node& n : nodes) {
        indices.push_back(static_cast<int>(stage.size()));
        stage.push_back(n);
      }
    }
    stages.push_back(std::move(stage));
    return result;
  };

  for (size_t k = 0; k < state_units; ++k) by_state = extend(order[k], by_state, false);
  // The state sum closest to N; the remaining units only move parameters.
  auto closest = by_state.begin();
  for (auto it = by_state.begin(); it != by_state.end(); ++it)
    if (std::llabs(it->first - target.state) < std::llabs(closest->first - target.state)) closest = it;
  std::map<int64_t, std::vector<int>> frontier = {*closest};
  for (size_t k = state_units; k < order.size(); ++k) frontier = extend(order[k], frontier, k + 1 == order.size());

  const auto& [state, finals] = *frontier.begin();
  const std::vector<Node>& last = stages.back();
  int best = finals.front();
  // With a parameter target: the distance beyond half the tolerance first (every count within it is as good;
  // half, so that the result is not at the tolerance's edge), then the least change, so that the state is
  // not shifted between layers for a closer parameter count.
  const double tolerance = 0.5 * target.params_tolerance * static_cast<double>(target.params);
  auto excess = [&](const Node& n) {
    return std::max(0.0, std::abs(static_cast<double>(base_params + n.params - target.params)) - tolerance);
  };
  for (int i : finals) {
    const Node& n = last[static_cast<size_t>(i)], &b = last[static_cast<size_t>(best)];
    const bool better = with_params ? (excess(n) < excess(b) || (excess(n) == excess(b) && n.change < b.change))
                                    : n.change < b.change;
    if (better) best = i;
  }
  SearchResult r;
  r.state = state;
  r.params = base_params + last[static_cast<size_t>(best)].params;
  r.change = last[static_cast<size_t>(best)].change;
  r.choice.assign(units.size(), 0);
  int node = best;
  for (size_t k = order.size(); k-- > 0;) {
    const Node& n = stages[k][static_cast<size_t>(node)];
    r.choice[order[k]] = n.option;
    node = n.parent;
  }
  return r;
}

}  // namespace

NormalizeResult normalize(const ArchSpec& spec, const NormalizeShape& shape, const NormalizeTarget& target,
                          const LayerRegistry& registry) {
  MAD_CHECK(target.state > 0, "normalize: the state target must be a positive number of floats, got {}", target.state);
  MAD_CHECK(target.params >= 0, "normalize: the parameter target must be positive (or 0 for none), got {}", target.params);
  const Model model(spec, shape.kind, shape.vocab_size, shape.seq_len, DType::F32, registry);
  BuildContext ctx;
  ctx.dim = spec.dim;
  ctx.seq_len = shape.seq_len;

  NormalizeResult result;
  result.spec = spec;
  result.params_before = model.params_without_embeddings();
  int64_t base_params = result.params_before;  // parameters outside the layers: norms and head
  bool any_fixed_mixer = false;
  std::vector<std::vector<Option>> options(spec.layers.size());
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& layer = spec.layers[i];
    const LayerEntry& entry = registry.find(layer.type);
    const StateSize state = model.layer_state(i);
    LayerChange change;
    change.type = layer.type;
    change.partly_growing = !state.fixed && state.fixed_part > 0;
    change.growing = !state.fixed && !change.partly_growing;
    change.has_options = entry.size_options != nullptr;
    change.state_before = change.growing ? state.floats : state.fixed_floats();
    change.params_before = model.layer_params(i);
    base_params -= change.params_before;
    result.state_before += state.fixed_floats();
    result.growing_state += state.floats - state.fixed_floats();
    // A wiring or group is not a registered sequence mixer, but its nodes' fixed state (a core, a conv, a
    // Hyena beside an attention) makes it one.
    any_fixed_mixer = any_fixed_mixer || (state.fixed && entry.sequence_mixer) || state.fixed_floats() > 0;
    try {
      options[i] = layer_options(entry, layer.config, ctx, change.growing);
    } catch (const Error& e) {
      fail(fmt::format("normalize: layer {} ({}): {}", i, layer.type, e.what()));
    }
    result.layers.push_back(change);
  }
  MAD_CHECK(any_fixed_mixer,
            "normalize: '{}' has no fixed-state sequence mixer: softmax attention's KV cache grows with the sequence "
            "and cannot be normalised for state; add a fixed-state mixer or drop the state target",
            arch_summary(spec));

  // Identical layers as one decision each; then, if that misses N, every layer on its own.
  std::vector<Unit> grouped, single;
  std::map<std::string, size_t> group_of;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    single.push_back({{i}, options[i]});
    const std::string key = spec.layers[i].type + config::canonical(spec.layers[i].config);
    const auto [it, inserted] = group_of.emplace(key, grouped.size());
    if (inserted) grouped.push_back({{i}, options[i]});
    else grouped[it->second].layers.push_back(i);
  }
  SearchResult best = search(grouped, target, base_params);
  std::vector<Unit>* units = &grouped;
  if (best.state != target.state && grouped.size() < single.size()) {
    const SearchResult independent = search(single, target, base_params);
    if (std::llabs(independent.state - target.state) < std::llabs(best.state - target.state)) {
      best = independent;
      units = &single;
      result.identical_choices = false;
    }
  }

  for (size_t u = 0; u < units->size(); ++u) {
    const Unit& unit = (*units)[u];
    const Option& option = unit.options[static_cast<size_t>(best.choice[u])];
    for (size_t i : unit.layers) {
      result.spec.layers[i].config = option.config;
      result.layers[i].state_after = result.layers[i].growing ? result.layers[i].state_before : option.state;
      result.layers[i].params_after = option.params;
    }
  }
  // Measured again on the built model, so the numbers are describe's, not the search's bookkeeping.
  const Model normalised(result.spec, shape.kind, shape.vocab_size, shape.seq_len, DType::F32, registry);
  result.params = normalised.params_without_embeddings();
  for (size_t i = 0; i < result.spec.layers.size(); ++i) {
    const StateSize s = normalised.layer_state(i);
    result.state += s.fixed_floats();
  }
  result.state_exact = result.state == target.state;
  if (target.params > 0)
    result.params_within_tolerance =
        std::abs(static_cast<double>(result.params - target.params)) <= target.params_tolerance * static_cast<double>(target.params);
  return result;
}

config::Value to_compact_config(const ArchSpec& spec, const LayerRegistry& registry) {
  config::Value c = config::Value::map();
  c.set("dim", config::Value(spec.dim));
  c.set("norm", config::Value(spec.norm));
  config::Value layers = config::Value::list();
  for (const LayerSpec& l : spec.layers) {
    const config::Value& defaults = registry.defaults(l.type);
    config::Value entry = config::Value::map();
    entry.set("type", config::Value(l.type));
    for (const auto& [key, value] : l.config.as_map())
      if (key != "dim" && !(defaults.contains(key) && defaults.at(key) == value)) entry.set(key, value);
    layers.push_back(entry.as_map().size() == 1 ? config::Value(l.type) : entry);
  }
  c.set("layers", layers);
  return c;
}

std::string to_yaml(const ArchSpec& spec, const LayerRegistry& registry) {
  const config::Value c = to_compact_config(spec, registry);
  std::string out = fmt::format("dim: {}\nnorm: {}\nlayers:\n", spec.dim, spec.norm);
  for (const config::Value& layer : c.at("layers").as_list()) {
    if (layer.kind() == config::Value::Kind::String) {
      out += fmt::format("  - {}\n", layer.as_string());
      continue;
    }
    // A flow map; canonical JSON values are valid YAML scalars, lists and maps.
    std::string entry;
    for (const auto& [key, value] : layer.as_map())
      entry += fmt::format("{}{}: {}", entry.empty() ? "" : ", ", key,
                           key == "type" ? value.as_string() : config::canonical(value));
    out += fmt::format("  - {{{}}}\n", entry);
  }
  return out;
}

std::string normalize_report(const NormalizeResult& r, const NormalizeTarget& target) {
  std::string out = fmt::format("{:>3}  {:<26} {:>16} {:>16}\n", "#", "layer", "state", "params");
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerChange& l = r.layers[i];
    std::string note = l.growing          ? "  (grows with the sequence: unchanged, not counted)"
                       : l.partly_growing ? "  (its attention's KV cache grows: not counted)"
                       : !l.has_options   ? "  (no size options: unchanged)"
                                          : "";
    out += fmt::format("{:>3}  {:<26} {:>16} {:>16}{}\n", i, l.type, fmt::format("{} -> {}", l.state_before, l.state_after),
                       fmt::format("{} -> {}", l.params_before, l.params_after), note);
  }
  out += fmt::format("fixed state: {} -> {} floats per sequence (target {}{})\n", r.state_before, r.state, target.state,
                     r.state_exact ? ", exact"
                                   : fmt::format(", NOT reachable exactly: {} is the closest value these layers allow",
                                                 r.state));
  if (r.growing_state > 0)
    out += fmt::format("growing state (attention's KV cache at this length, excluded from the target): {} floats\n",
                       r.growing_state);
  if (target.params > 0)
    out += fmt::format("parameters without embeddings: {} -> {} (target {}, {:+.2f}%{})\n", r.params_before, r.params,
                       target.params, 100.0 * static_cast<double>(r.params - target.params) / static_cast<double>(target.params),
                       r.params_within_tolerance ? "" : fmt::format(", OUTSIDE the {:.0f}% tolerance", 100 * target.params_tolerance));
  else
    out += fmt::format("parameters without embeddings: {} -> {}\n", r.params_before, r.params);
  if (!r.identical_choices) out += "identical layers received different sizes (no identical choice reaches the target)\n";
  return out;
}

}  // namespace mad::models
