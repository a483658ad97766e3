#include "models/wiring_graph.h"

#include <algorithm>
#include <cctype>

#include "models/blocks/block.h"
#include "models/wiring_knobs.h"

namespace mad::models {
namespace {

const LayerRegistry& registry_of(const BuildContext& ctx) { return ctx.registry ? *ctx.registry : builtin_layers(); }

// Keys of a node entry that belong to the wiring, not to the block.
constexpr std::string_view kNodeKeys[] = {"in", "out", "in_widths"};
bool is_node_key(std::string_view key) { return std::find(std::begin(kNodeKeys), std::end(kNodeKeys), key) != std::end(kNodeKeys); }

bool valid_name(const std::string& name) {
  bool ok = !name.empty();
  for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
  return ok;
}

std::vector<std::string> name_list(const config::Value& v, const char* what) {
  std::vector<std::string> out;
  if (v.kind() == config::Value::Kind::String) {
    out.push_back(v.as_string());
  } else {
    MAD_CHECK(v.is_list() && !v.as_list().empty(), "{}: {} is a tensor name or a non-empty list of them, got {}",
              v.where(), what, v.describe());
    for (const config::Value& item : v.as_list()) out.push_back(item.as_string());
  }
  return out;
}

// One node of a planned wiring, in run order.
struct PlannedNode {
  std::string name;
  config::Value node;          // resolved {type, in, in_widths, ...}
  std::vector<int> in_slots;   // tensor slots read
  int out_begin = 0, out_count = 1;
};

struct Plan {
  std::vector<PlannedNode> nodes;  // dependency order
  std::vector<std::string> tensor_names;
  std::vector<int64_t> tensor_widths;
  int output_slot = 0;
};

// Resolves and orders the nodes of a wiring configuration (which may already be resolved).
Plan plan_wiring(const config::Value& c, int64_t dim, const LayerRegistry& registry, const BrickDefinitions* bricks) {
  const config::Value& input_v = c.at("input");
  const std::string input = input_v.as_string();
  MAD_CHECK(valid_name(input), "{}: input name '{}' may contain only letters, digits, '-' and '_'", input_v.where(), input);
  const config::Value& nodes = c.at("nodes");
  MAD_CHECK(nodes.is_map() && !nodes.as_map().empty(),
            "{}: a wiring's 'nodes' is a map from node name to {{type: BLOCK, in: TENSOR, ...}}, got {}", nodes.where(),
            nodes.describe());
  const config::Value& output_v = c.at("output");
  MAD_CHECK(!output_v.is_null(), "{}: a wiring needs 'output: TENSOR' naming the tensor it returns (width {})",
            c.at("nodes").where(), dim);
  const std::string output = output_v.as_string();

  // Every name a node may produce: its own, its `out` names, and name.<i> (checked when the node is planned).
  struct Pending {
    std::string name;
    const config::Value* entry;
    std::vector<std::string> reads, outs;
  };
  std::vector<Pending> pending;
  std::vector<std::string> produced{input};
  for (const auto& [name, entry] : nodes.as_map()) {
    MAD_CHECK(valid_name(name), "{}: node name '{}' may contain only letters, digits, '-' and '_'", entry.where(), name);
    MAD_CHECK(name != input, "{}: node '{}' has the name of the wiring's input; rename one", entry.where(), name);
    MAD_CHECK(entry.is_map() && (entry.contains("type") || entry.contains("brick")),
              "{}: node '{}' is a map {{type: BLOCK_OR_LAYER, in: TENSOR, ...settings}}, got {}", entry.where(), name,
              entry.describe());
    MAD_CHECK(entry.contains("in"), "{}: node '{}' has no 'in': name the tensor(s) it reads (e.g. in: {})",
              entry.where(), name, input);
    Pending p{name, &entry, name_list(entry.at("in"), "in"), {}};
    if (entry.contains("out")) {
      p.outs = name_list(entry.at("out"), "out");
      for (const std::string& o : p.outs)
        MAD_CHECK(valid_name(o) && std::find(produced.begin(), produced.end(), o) == produced.end(),
                  "{}: node '{}': output name '{}' is not a fresh name (letters, digits, '-', '_')", entry.at("out").where(),
                  name, o);
    }
    produced.push_back(name);
    for (const std::string& o : p.outs) produced.push_back(o);
    pending.push_back(std::move(p));
  }
  auto known = [&](const std::string& t) {
    if (std::find(produced.begin(), produced.end(), t) != produced.end()) return true;
    const size_t dot = t.rfind('.');
    return dot != std::string::npos && std::find(produced.begin(), produced.end(), t.substr(0, dot)) != produced.end();
  };
  for (const Pending& p : pending)
    for (const std::string& t : p.reads)
      MAD_CHECK(known(t), "{}: node '{}' reads unknown tensor '{}'; tensors: {} (a split's parts are name.0, name.1, ...)",
                p.entry->at("in").where(), p.name, t, fmt::join(produced, ", "));
  MAD_CHECK(known(output), "{}: output '{}' is not a tensor of this wiring; tensors: {}", output_v.where(), output,
            fmt::join(produced, ", "));

  Plan plan;
  plan.tensor_names.push_back(input);
  plan.tensor_widths.push_back(dim);
  auto slot_of = [&](const std::string& t) {
    for (size_t i = 0; i < plan.tensor_names.size(); ++i)
      if (plan.tensor_names[i] == t) return static_cast<int>(i);
    return -1;
  };
  std::vector<bool> done(pending.size(), false);
  for (size_t planned = 0; planned < pending.size(); ++planned) {
    // The first node in file order whose inputs all exist.
    size_t next = pending.size();
    for (size_t i = 0; i < pending.size() && next == pending.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const std::string& t : pending[i].reads) ready = ready && slot_of(t) >= 0;
      if (ready) next = i;
    }
    if (next == pending.size()) {  // every remaining node waits on another remaining node
      std::string waiting;
      for (size_t i = 0; i < pending.size(); ++i)
        if (!done[i]) waiting += (waiting.empty() ? "" : ", ") + pending[i].name;
      for (size_t i = 0; i < pending.size(); ++i) {
        if (done[i]) continue;
        for (const std::string& t : pending[i].reads) {
          const size_t dot = t.rfind('.');
          const std::string owner = dot == std::string::npos ? t : t.substr(0, dot);
          bool owner_done = false;
          for (size_t j = 0; j < pending.size(); ++j) owner_done = owner_done || (done[j] && pending[j].name == owner);
          MAD_CHECK(!owner_done, "{}: node '{}' reads '{}', which node '{}' does not produce", pending[i].entry->at("in").where(),
                    pending[i].name, t, owner);
        }
      }
      const Pending& first = *std::find_if(pending.begin(), pending.end(),
                                           [&](const Pending& p) { return !done[static_cast<size_t>(&p - pending.data())]; });
      fail(fmt::format("{}: the wiring has a cycle: nodes {} read each other's results (node '{}' reads {}); a "
                       "wiring is acyclic (recurrence lives inside blocks such as mlstm-core)",
                       first.entry->at("in").where(), waiting, first.name, fmt::join(first.reads, ", ")));
    }
    done[next] = true;
    const Pending& p = pending[next];
    PlannedNode n;
    n.name = p.name;
    std::vector<int64_t> widths;
    for (const std::string& t : p.reads) {
      n.in_slots.push_back(slot_of(t));
      widths.push_back(plan.tensor_widths[static_cast<size_t>(n.in_slots.back())]);
    }
    config::Value entry = config::Value::map();
    for (const auto& [key, value] : p.entry->as_map())
      if (!is_node_key(key)) entry.set(key, value);
    entry.set_location(p.entry->location());
    const std::string type = entry.contains("type") ? entry.get<std::string>("type") : "brick";
    const LayerEntry* spec = registry.contains(type) ? &registry.find(type) : nullptr;
    std::vector<int64_t> out_widths;
    if (spec && spec->block) {
      const BlockSpec& b = *spec->block;
      const auto count = static_cast<int>(widths.size());
      MAD_CHECK(count >= b.min_inputs && (b.max_inputs < 0 || count <= b.max_inputs),
                "{}: node '{}' ({}) reads {} tensor(s); {} reads {}", p.entry->at("in").where(), p.name, type, count, type,
                b.max_inputs < 0 ? fmt::format("at least {}", b.min_inputs)
                                 : (b.min_inputs == b.max_inputs ? fmt::format("{}", b.min_inputs)
                                                                 : fmt::format("{} to {}", b.min_inputs, b.max_inputs)));
      config::Value resolved;
      try {
        resolved = registry.resolve(type, node_config(entry), dim);
        out_widths = b.widths(resolved, widths);
      } catch (const Error& e) {
        fail(fmt::format("{}: node '{}' ({}, reading {} of widths {}): {}", p.entry->where(), p.name, type,
                         fmt::join(p.reads, ", "), fmt::join(widths, ", "), e.what()));
      }
      config::Value in_widths = config::Value::list();
      for (int64_t w : widths) in_widths.push_back(config::Value(w));
      resolved.set("in_widths", in_widths);
      n.node = config::Value::map();
      n.node.set("type", config::Value(type));
      for (const auto& [key, value] : resolved.as_map()) n.node.set(key, value);
    } else {
      // A layer, group or brick use: one input of the model width, output of the model width.
      MAD_CHECK(widths.size() == 1 && widths[0] == dim,
                "{}: node '{}' is the layer '{}', a map [B, T, {}] -> [B, T, {}]: it reads one tensor of width {}, got {} "
                "of widths {}", p.entry->at("in").where(), p.name, type, dim, dim, dim, widths.size(), fmt::join(widths, ", "));
      n.node = resolve_node(entry, dim, registry, bricks);
      out_widths = {dim};
    }
    n.node.set("in", config::Value::list([&] {
      config::Value::List l;
      for (const std::string& t : p.reads) l.push_back(config::Value(t));
      return l;
    }()));
    if (!p.outs.empty()) {
      MAD_CHECK(p.outs.size() == out_widths.size(), "{}: node '{}' names {} outputs; {} gives {}", p.entry->at("out").where(),
                p.name, p.outs.size(), type, out_widths.size());
      config::Value outs = config::Value::list();
      for (const std::string& o : p.outs) outs.push_back(config::Value(o));
      n.node.set("out", outs);
    }
    n.out_begin = static_cast<int>(plan.tensor_names.size());
    n.out_count = static_cast<int>(out_widths.size());
    for (size_t j = 0; j < out_widths.size(); ++j) {
      std::string t = !p.outs.empty() ? p.outs[j] : (out_widths.size() == 1 ? p.name : p.name + "." + std::to_string(j));
      plan.tensor_names.push_back(std::move(t));
      plan.tensor_widths.push_back(out_widths[j]);
    }
    plan.nodes.push_back(std::move(n));
  }

  // Every tensor but the output is read by someone; every node's result is used.
  std::vector<int> reads(plan.tensor_names.size(), 0);
  for (const PlannedNode& n : plan.nodes)
    for (int s : n.in_slots) ++reads[static_cast<size_t>(s)];
  plan.output_slot = slot_of(output);
  MAD_CHECK(plan.output_slot >= 0, "{}: output '{}' is not produced (node outputs: {})", output_v.where(), output,
            fmt::join(plan.tensor_names, ", "));
  ++reads[static_cast<size_t>(plan.output_slot)];
  MAD_CHECK(plan.tensor_widths[static_cast<size_t>(plan.output_slot)] == dim,
            "{}: output '{}' has width {}; a wiring returns the model width {} (add a linear node to project it)",
            output_v.where(), output, plan.tensor_widths[static_cast<size_t>(plan.output_slot)], dim);
  MAD_CHECK(reads[0] > 0, "{}: the wiring's input '{}' is never read; name it in some node's 'in'", input_v.where(), input);
  for (const PlannedNode& n : plan.nodes) {
    int used = 0;
    for (int j = 0; j < n.out_count; ++j) used += reads[static_cast<size_t>(n.out_begin + j)];
    MAD_CHECK(used > 0, "{}: node '{}' is never read: feed its result to another node or the output, or remove it",
              nodes.at(n.name).where(), n.name);
  }
  return plan;
}

// ---- the layer -----------------------------------------------------------------------------------------

class Wiring : public Layer {
 public:
  Wiring(const config::Value& c, const ParamScope& s, const BuildContext& ctx)
      : plan_(plan_wiring(c, c.get<int64_t>("dim"), registry_of(ctx), nullptr)) {
    const ParamScope ns = s.sub("nodes");
    for (const PlannedNode& n : plan_.nodes) {
      layers_.push_back(build_node(n.node, ns.sub(n.name), ctx));
      blocks_.push_back(dynamic_cast<const Block*>(layers_.back().get()));
    }
    tensors_.resize(plan_.tensor_names.size());
    inputs_.reserve(8);
  }

  // x [B, T, D] -> [B, T, D]; every tensor of the graph lives in tensors_ until the next forward.
  Var forward(Tape& tape, Var x) const override {
    tensors_[0] = x;
    for (size_t i = 0; i < plan_.nodes.size(); ++i) {
      const PlannedNode& n = plan_.nodes[i];
      const std::span<Var> out(tensors_.data() + n.out_begin, static_cast<size_t>(n.out_count));
      if (blocks_[i]) {
        inputs_.clear();
        for (int s : n.in_slots) inputs_.push_back(tensors_[static_cast<size_t>(s)]);
        blocks_[i]->apply(tape, inputs_, out);
      } else {
        out[0] = layers_[i]->forward(tape, tensors_[static_cast<size_t>(n.in_slots[0])]);
      }
    }
    Var y = tensors_[static_cast<size_t>(plan_.output_slot)];
    for (Var& t : tensors_) t = Var();  // hold no step memory past the forward
    return y;
  }

 private:
  Plan plan_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<const Block*> blocks_;  // null for a layer node
  // Members so that steps after the first allocate nothing (the no-allocation test covers every layer).
  mutable std::vector<Var> tensors_, inputs_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Wiring>(c, s, ctx);
}

StateSize state(const config::Value& c, const BuildContext& ctx) {
  StateSize total;
  for (const auto& [name, node] : c.at("nodes").as_map()) {
    const StateSize s = node_state(node_without_wiring_keys(node), ctx);
    total.floats += s.floats;
    total.fixed_part += s.fixed_floats();
    total.fixed = total.fixed && s.fixed;
  }
  return total;
}

double mixing_flops(const config::Value& c, const BuildContext& ctx) {
  double total = 0;
  for (const auto& [name, node] : c.at("nodes").as_map()) total += node_mixing_flops(node_without_wiring_keys(node), ctx);
  return total;
}

// Size knobs for iso-state normalisation (models/normalize.h): the wiring's own `knobs` (models/wiring_knobs.h),
// which set several node settings at once (a core's heads and q/k/v widths with the linear nodes around
// it), and the knobs of nodes that change their state without changing any tensor's width: a causal-conv
// node's kernel_size (1 to 8, its K - 1 carried inputs) and a layer node's own size_options (a layer maps
// [B, T, D] to [B, T, D] whatever its knobs). Options combine, up to kMaxWiringOptions; past that, the
// remaining nodes vary one at a time. Every option is resolved again (widths re-planned); the ones that do
// not resolve (e.g. heads that do not divide a width) are dropped.
constexpr size_t kMaxWiringOptions = 4096;

// Settings to write into a node, one map per alternative.
std::vector<config::Value> node_alternatives(const config::Value& node, const BuildContext& ctx) {
  std::vector<config::Value> out;
  const std::string type = node_type(node);
  const LayerEntry& entry = registry_of(ctx).find(type);
  if (type == "causal-conv") {
    for (int64_t k = 1; k <= 8; ++k) {
      if (k == node.get<int64_t>("kernel_size")) continue;
      out.push_back(config::Value::map());
      out.back().set("kernel_size", config::Value(k));
    }
  } else if (!entry.block && entry.size_options) {
    out = entry.size_options(node_config(node_without_wiring_keys(node)), ctx);
  }
  return out;
}

std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> combined = {c};
  for (config::Value& option : wiring_knob_options(c, kMaxWiringOptions)) combined.push_back(std::move(option));
  for (const auto& [name, node] : c.at("nodes").as_map()) {
    const std::vector<config::Value> alternatives = node_alternatives(node, ctx);
    if (alternatives.empty()) continue;
    const bool product = combined.size() * (alternatives.size() + 1) <= kMaxWiringOptions;
    const size_t n = product ? combined.size() : 1;  // past the cap: vary this node from the original only
    for (size_t i = 0; i < n; ++i)
      for (const config::Value& settings : alternatives) {
        config::Value option = combined[i];
        config::Value nodes = option.at("nodes");
        config::Value changed = nodes.at(name);
        for (const auto& [key, value] : settings.as_map()) changed.set(key, value);
        nodes.set(name, changed);
        option.set("nodes", nodes);
        combined.push_back(std::move(option));
      }
  }
  std::vector<config::Value> out;
  const int64_t dim = c.get<int64_t>("dim");
  for (size_t i = 1; i < combined.size(); ++i) {  // combined[0] is the original itself
    try {
      resolve_wiring(combined[i], dim, registry_of(ctx), nullptr);
    } catch (const Error&) {
      continue;
    }
    out.push_back(std::move(combined[i]));
  }
  return out;
}

}  // namespace

config::Value node_without_wiring_keys(const config::Value& node) {
  // A block keeps in_widths (its functions read them); in and out are the wiring's.
  config::Value n = config::Value::map();
  for (const auto& [key, value] : node.as_map())
    if (key != "in" && key != "out") n.set(key, value);
  return n;
}

void resolve_wiring(config::Value& resolved, int64_t dim, const LayerRegistry& registry, const BrickDefinitions* bricks) {
  apply_wiring_knobs(resolved);
  const Plan plan = plan_wiring(resolved, dim, registry, bricks);
  config::Value nodes = config::Value::map();
  for (const PlannedNode& n : plan.nodes) nodes.set(n.name, n.node);  // dependency order
  resolved.set("nodes", nodes);
}

bool brings_own_residual(const config::Value& node) {
  if (!node.is_map()) return false;  // a layer name
  const std::string type = node_type(node);
  if (type == "brick") return brings_own_residual(node.at("body"));
  return type == "wiring" && !node.get<bool>("wrap");
}

MAD_REGISTER_LAYERS(r) {
  r.add({"wiring", "graph", false,
         "a layer wired from named tensors: nodes of blocks (linear, split, causal-conv, mlstm-core, ...) or layers",
         &build, &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
