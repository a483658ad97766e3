#include "models/graph.h"

#include "models/projection_mask.h"
#include "models/wiring_graph.h"

#include <cctype>

namespace mad::models {
namespace {

const LayerRegistry& registry_of(const BuildContext& ctx) { return ctx.registry ? *ctx.registry : builtin_layers(); }

// The child entries of a group: `branches` of parallel, `layers` of sequential.
const char* children_key(std::string_view type) { return type == "parallel" ? "branches" : "layers"; }

std::string brick_names(const BrickDefinitions& bricks) {
  std::string s;
  for (const auto& [name, body] : bricks) s += (s.empty() ? "" : ", ") + name;
  return s.empty() ? "none" : s;
}

config::Value brick_node(const std::string& name, const config::Value& body, int64_t dim) {
  config::Value node = config::Value::map();
  node.set("type", config::Value("brick"));
  node.set("dim", config::Value(dim));
  node.set("name", config::Value(name));
  node.set("body", body);
  return node;
}

// ---- parallel ------------------------------------------------------------------------------------------

class Parallel : public Layer {
 public:
  Parallel(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const int64_t D = c.get<int64_t>("dim");
    const config::Value& branches = c.at("branches");
    const ParamScope bs = s.sub("branches");
    for (size_t b = 0; b < branches.as_list().size(); ++b) {
      const config::Value node = resolve_node(branches.as_list()[b], D, registry_of(ctx));
      branches_.push_back(build_node(node, bs.sub(static_cast<int>(b)), ctx));
    }
    const int64_t n = static_cast<int64_t>(branches_.size());
    combine_ = c.get<std::string>("combine");
    if (combine_ == "concat") proj_ = Linear(s.sub("proj"), n * D, D, false, ctx);
    // Zero gate weights: every branch starts with weight 1/n, whatever the input.
    if (combine_ == "gate") gate_ = Linear(s.sub("gate"), D, n, true, ctx, Init::zeros());
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    std::vector<Var>& ys = branch_outputs_;  // n x [B, T, D]
    ys.clear();
    for (const auto& branch : branches_) ys.push_back(branch->forward(tape, x));
    const int last = x.shape().rank() - 1;
    if (combine_ == "concat") return proj_(tape, concat(std::span<const Var>(ys), last));  // [B, T, n*D] -> [B, T, D]
    if (combine_ == "gate") {
      Var g = softmax(gate_(tape, x));  // [B, T, n]
      Var y = slice(g, last, 0, 1) * ys[0];
      for (size_t b = 1; b < ys.size(); ++b) {
        const auto bi = static_cast<int64_t>(b);
        y = y + slice(g, last, bi, bi + 1) * ys[b];
      }
      return y;
    }
    Var y = ys[0];
    for (size_t b = 1; b < ys.size(); ++b) y = y + ys[b];
    return y;
  }

 private:
  std::vector<std::unique_ptr<Layer>> branches_;
  // The branch results of the running forward, kept as a member so that steps after the first allocate
  // nothing (the no-allocation test covers every layer).
  mutable std::vector<Var> branch_outputs_;
  std::string combine_;
  Linear proj_, gate_;
};

// ---- sequential ----------------------------------------------------------------------------------------

class Sequential : public Layer {
 public:
  Sequential(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const int64_t D = c.get<int64_t>("dim");
    const config::Value& layers = c.at("layers");
    const ParamScope ls = s.sub("layers");
    for (size_t i = 0; i < layers.as_list().size(); ++i)
      parts_.push_back(build_node(resolve_node(layers.as_list()[i], D, registry_of(ctx)), ls.sub(static_cast<int>(i)), ctx));
  }
  Var forward(Tape& tape, Var x) const override {
    for (const auto& part : parts_) x = part->forward(tape, x);
    return x;
  }

 private:
  std::vector<std::unique_ptr<Layer>> parts_;
};

// ---- brick use -----------------------------------------------------------------------------------------

class BrickUse : public Layer {
 public:
  BrickUse(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const std::string name = c.get<std::string>("name");
    const config::Value body = resolve_node(c.at("body"), c.get<int64_t>("dim"), registry_of(ctx));
    if (!ctx.bricks) {  // no model around it (a layer built on its own): an ordinary, unshared layer
      body_ = build_node(body, s.sub("body"), ctx);
      return;
    }
    auto it = ctx.bricks->built.find(name);
    if (it == ctx.bricks->built.end()) {
      std::shared_ptr<Layer> layer = build_node(body, ctx.bricks->scope.sub(name), ctx);
      it = ctx.bricks->built.emplace(name, std::make_pair(body, std::move(layer))).first;
    }
    MAD_CHECK(it->second.first == body, "{}: brick '{}' is used with two different bodies; define it once under 'bricks:'",
              c.at("name").where(), name);
    body_ = it->second.second;
  }
  Var forward(Tape& tape, Var x) const override { return body_->forward(tape, x); }

 private:
  std::shared_ptr<Layer> body_;
};

template <typename L>
std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<L>(c, s, ctx);
}

// Composite state and mixing FLOPs: the sum over the parts (a brick use carries its own state).
StateSize group_state(const config::Value& c, const BuildContext& ctx) {
  StateSize total;
  const bool parallel = c.contains("branches") && c.contains("combine");
  const int64_t D = c.get<int64_t>("dim");
  for (const config::Value& child : c.at(parallel ? "branches" : "layers").as_list()) {
    const StateSize s = node_state(resolve_node(child, D, registry_of(ctx)), ctx);
    total.floats += s.floats;
    total.fixed_part += s.fixed_floats();
    total.fixed = total.fixed && s.fixed;
  }
  return total;
}
double group_flops(const config::Value& c, const BuildContext& ctx) {
  const bool parallel = c.contains("branches") && c.contains("combine");
  const int64_t D = c.get<int64_t>("dim");
  double total = 0;
  for (const config::Value& child : c.at(parallel ? "branches" : "layers").as_list())
    total += node_mixing_flops(resolve_node(child, D, registry_of(ctx)), ctx);
  return total;
}
// Size knobs of a group for iso-state normalisation (models/normalize.h): its children's own size_options,
// every combination up to kMaxGroupOptions, past that one child at a time from the original. With them
// `mad normalize` resizes the Hyena beside an attention in a parallel group, while the attention's KV cache
// (which grows) stays out of the count. A brick use keeps its size: its weights are shared with its other
// uses, so one use cannot be resized alone.
constexpr size_t kMaxGroupOptions = 4096;

std::vector<config::Value> group_size_options(const config::Value& c, const BuildContext& ctx) {
  const bool parallel = c.contains("branches") && c.contains("combine");
  const char* key = parallel ? "branches" : "layers";
  const int64_t D = c.get<int64_t>("dim");
  const LayerRegistry& registry = registry_of(ctx);
  std::vector<config::Value> combined = {c};
  const std::vector<config::Value> children = c.at(key).as_list();
  for (size_t i = 0; i < children.size(); ++i) {
    const config::Value child = resolve_node(children[i], D, registry);
    const std::string type = node_type(child);
    if (type == "brick" || !registry.find(type).size_options) continue;
    const std::vector<config::Value> alternatives = registry.find(type).size_options(node_config(child), ctx);
    const bool product = combined.size() * (alternatives.size() + 1) <= kMaxGroupOptions;
    const size_t n = product ? combined.size() : 1;  // past the cap: vary this child from the original only
    for (size_t j = 0; j < n; ++j)
      for (const config::Value& alternative : alternatives) {
        config::Value node = config::Value::map();
        node.set("type", config::Value(type));
        for (const auto& [k, v] : alternative.as_map()) node.set(k, v);
        config::Value list = config::Value::list();
        for (size_t k = 0; k < children.size(); ++k) list.push_back(k == i ? node : combined[j].at(key).as_list()[k]);
        config::Value option = combined[j];
        option.set(key, std::move(list));
        combined.push_back(std::move(option));
      }
  }
  combined.erase(combined.begin());  // the original itself
  return combined;
}

StateSize brick_state(const config::Value& c, const BuildContext& ctx) {
  return node_state(resolve_node(c.at("body"), c.get<int64_t>("dim"), registry_of(ctx)), ctx);
}
double brick_flops(const config::Value& c, const BuildContext& ctx) {
  return node_mixing_flops(resolve_node(c.at("body"), c.get<int64_t>("dim"), registry_of(ctx)), ctx);
}

// Checks a group's own settings and resolves its children in place.
void resolve_children(const std::string& type, config::Value& resolved, int64_t dim, const LayerRegistry& registry,
                      const BrickDefinitions* bricks) {
  const char* key = children_key(type);
  const config::Value& list = resolved.at(key);
  MAD_CHECK(list.is_list(), "{}: a {} group's '{}' is a list of layer entries, got {}", list.where(), type, key,
            list.describe());
  const size_t minimum = type == "parallel" ? 2 : 1;
  MAD_CHECK(list.as_list().size() >= minimum, "{}: a {} group needs at least {} entries in '{}', got {}",
            list.where(), type, minimum, key, list.as_list().size());
  if (type == "parallel") {
    const std::string combine = resolved.get<std::string>("combine");
    MAD_CHECK(combine == "add" || combine == "concat" || combine == "gate",
              "{}: unknown combine '{}'; use add, concat (+ projection back to dim) or gate (learned softmax gate)",
              resolved.at("combine").where(), combine);
  }
  config::Value children = config::Value::list();
  for (const config::Value& child : list.as_list()) children.push_back(resolve_node(child, dim, registry, bricks));
  resolved.set(key, children);
}

}  // namespace

bool is_group_type(std::string_view type) { return type == "parallel" || type == "sequential" || type == "brick"; }

std::string node_type(const config::Value& node) { return node.get<std::string>("type"); }

config::Value node_config(const config::Value& node) {
  config::Value c = config::Value::map();
  for (const auto& [key, value] : node.as_map())
    if (key != "type") c.set(key, value);
  return c;
}

config::Value resolve_node(const config::Value& entry, int64_t dim, const LayerRegistry& registry,
                           const BrickDefinitions* bricks) {
  // A brick use: a defined brick's name, or {brick: name}.
  const bool named_use = entry.kind() == config::Value::Kind::String && bricks && bricks->contains(entry.as_string());
  if (named_use || (entry.is_map() && entry.contains("brick"))) {
    if (!named_use) entry.check_keys({"brick"}, "brick use");
    const config::Value& name_v = named_use ? entry : entry.at("brick");
    const std::string name = name_v.as_string();
    MAD_CHECK(bricks && bricks->contains(name),
              "{}: brick '{}' is not defined; define it under the top-level 'bricks:' map (a brick may use only bricks "
              "defined above it; defined here: {})",
              name_v.where(), name, bricks ? brick_names(*bricks) : std::string("none"));
    return brick_node(name, bricks->at(name), dim);
  }
  std::string type;
  config::Value overrides;
  if (entry.kind() == config::Value::Kind::String) {
    type = entry.as_string();
    if (bricks && !registry.contains(type)) {
      std::string layers;
      for (const std::string& name : registry.names()) layers += (layers.empty() ? "" : ", ") + name;
      fail(fmt::format("{}: unknown layer '{}', and no brick of that name is defined above this point (bricks: {}); "
                       "valid layers: {} (see 'mad layers')",
                       entry.where(), type, brick_names(*bricks), layers));
    }
  } else {
    MAD_CHECK(entry.is_map() && entry.contains("type"),
              "{}: a layer entry is a layer name, a brick name or a map with 'type' (or 'brick'), got {}", entry.where(),
              entry.describe());
    type = entry.get<std::string>("type");
    overrides = node_config(entry);
  }
  if (registry.contains(type) && registry.find(type).block)
    fail(fmt::format("{}: '{}' is a wiring block, not a layer: use it as a node of a {{type: wiring, nodes: ...}} entry "
                     "(docs/graphs.md)", entry.where(), type));
  // A mask on a layer's own projections is kept only when given, so that the configs (and hashes) of
  // unmasked layers are what they were before masks existed.
  config::Value projection_wiring;
  if (overrides.is_map() && overrides.contains("wiring") && registry.contains(type) &&
      !registry.defaults(type).contains("wiring")) {
    const std::vector<std::string>& projections = registry.find(type).masked_projections;
    if (projections.empty())
      fail(fmt::format("{}: '{}' has no projection that takes a wiring mask; put the mask on a linear node of a wiring "
                       "entry (docs/graphs.md, \"Wiring masks\")", overrides.at("wiring").where(), type));
    projection_wiring = overrides.at("wiring");
    check_layer_wiring(projection_wiring, type, projections);
    overrides.erase("wiring");
  }
  // A wiring's knobs (models/wiring_knobs.h), likewise kept only when given.
  config::Value knobs;
  if (type == "wiring" && overrides.is_map() && overrides.contains("knobs")) {
    knobs = overrides.at("knobs");
    overrides.erase("knobs");
  }
  if (type == "wiring" && overrides.is_map() && overrides.contains("nodes") && !overrides.contains("output"))
    fail(fmt::format("{}: a wiring needs 'output: TENSOR' naming the tensor it returns (width {})", entry.where(), dim));
  config::Value resolved;
  try {
    resolved = registry.resolve(type, overrides, dim);
  } catch (const Error& e) {
    fail(fmt::format("{}: {}", entry.where(), e.what()));
  }
  if (type == "parallel" || type == "sequential") resolve_children(type, resolved, dim, registry, bricks);
  if (type == "brick") resolved.set("body", resolve_node(resolved.at("body"), dim, registry, bricks));
  if (!knobs.is_null()) resolved.set("knobs", knobs);
  if (type == "wiring") resolve_wiring(resolved, dim, registry, bricks);
  if (!projection_wiring.is_null()) resolved.set("wiring", projection_wiring);
  config::Value node = config::Value::map();
  node.set("type", config::Value(type));
  for (const auto& [key, value] : resolved.as_map()) node.set(key, value);
  return node;
}

std::unique_ptr<Layer> build_node(const config::Value& node, const ParamScope& scope, const BuildContext& ctx) {
  const std::string type = node_type(node);
  return registry_of(ctx).find(type).build(node_config(node), scope, ctx);
}

StateSize node_state(const config::Value& node, const BuildContext& ctx) {
  const std::string type = node_type(node);
  return registry_of(ctx).find(type).state(node_config(node), ctx);
}

double node_mixing_flops(const config::Value& node, const BuildContext& ctx) {
  const LayerEntry& entry = registry_of(ctx).find(node_type(node));
  return entry.mixing_flops ? entry.mixing_flops(node_config(node), ctx) : 0.0;
}

std::string node_summary(const std::string& type, const config::Value& c) {
  if (type == "brick") return "*" + c.get<std::string>("name");
  if (type != "parallel" && type != "sequential") return type;
  std::string s = type == "parallel" ? "parallel/" + c.get<std::string>("combine") + "(" : "sequential(";
  const config::Value& children = c.at(children_key(type));
  for (size_t i = 0; i < children.as_list().size(); ++i) {
    const config::Value& child = children.as_list()[i];
    const std::string child_type = child.kind() == config::Value::Kind::String ? child.as_string() : node_type(child);
    s += (i ? ", " : "") +
         (child.kind() == config::Value::Kind::String ? child_type : node_summary(child_type, node_config(child)));
  }
  return s + ")";
}

void count_brick_uses(const std::string& type, const config::Value& c, std::map<std::string, int>& uses) {
  if (type == "brick") {
    ++uses[c.get<std::string>("name")];
    const config::Value& body = c.at("body");
    if (body.is_map()) count_brick_uses(node_type(body), node_config(body), uses);
    return;
  }
  if (type != "parallel" && type != "sequential") return;
  for (const config::Value& child : c.at(children_key(type)).as_list())
    if (child.is_map()) count_brick_uses(node_type(child), node_config(child), uses);
}

MAD_REGISTER_LAYERS(r) {
  // The registry-wide tests use small MLPs as the parts (tests/models/test_graph.cpp checks richer graphs).
  LayerEntry parallel{"parallel", "graph", false,
                      "group: branches on the same input, combined by add, concat (+ projection to dim) or a learned gate",
                      &build<Parallel>, &group_state, &group_flops};
  parallel.small_test_overrides = "{branches: [{type: mlp, dim_inner: 4}, {type: mlp, dim_inner: 3}]}";
  parallel.size_options = &group_size_options;
  r.add(std::move(parallel));
  LayerEntry sequential{"sequential", "graph", false,
                        "group: its layers applied one after the other (no norm or residual between)",
                        &build<Sequential>, &group_state, &group_flops};
  sequential.small_test_overrides = "{layers: [{type: mlp, dim_inner: 4}, {type: mlp, dim_inner: 3}]}";
  sequential.size_options = &group_size_options;
  r.add(std::move(sequential));
  LayerEntry brick{"brick", "graph", false,
                   "a use of a named brick from the spec's 'bricks:' map (weights shared over uses)", &build<BrickUse>,
                   &brick_state, &brick_flops};
  brick.small_test_overrides = "{body: {type: mlp, dim_inner: 4}}";
  r.add(std::move(brick));
}

}  // namespace mad::models
