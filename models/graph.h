// Architectures beyond a list (docs/graphs.md): composite layers built recursively through the registry.
//
//   parallel    every branch sees the same input x [B, T, D]; the outputs y_b [B, T, D] are combined by
//               add:    sum_b y_b
//               concat: W [concat_b y_b]          (W: n*D -> D, no bias; parameters `proj.*`)
//               gate:   sum_b softmax_b(G x + g) y_b per token (G: D -> n, bias; parameters `gate.*`)
//               branches' parameters live under `branches.<b>.*`
//   sequential  y = f_n(... f_1(x)): plain composition, no norm or residual between the parts
//               (parameters `layers.<i>.*`)
//   brick       a use of a named brick defined once under the spec's top-level `bricks:` map. Every use
//               runs the same Layer object, so its weights (`bricks.<name>.*`, declared at the first use)
//               are shared and their gradients accumulate over the uses; each use carries its own state.
//
// A node of the resolved graph is a config map {type: <registered name>, ...resolved config}; a group's
// children are nodes too (under `branches` / `layers`), a brick use is {type: brick, name, body: <node>}.
// That tree is the architecture's canonical form, so the arch hash covers the whole graph. Groups are
// ordinary registered layers: the backbone wraps a top-level group entry as x = x + group(norm(x)), like
// any other entry, and nothing inside a group gets a norm or residual of its own.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "models/registry.h"

namespace mad::models {

// The shared bricks of one model, built once on first use with their parameters under `scope`.
struct BrickTable {
  ParamScope scope;
  std::map<std::string, std::pair<config::Value, std::shared_ptr<Layer>>> built;  // name -> (body node, layer)
};

// Named brick definitions while parsing a spec: name -> resolved body node.
using BrickDefinitions = std::map<std::string, config::Value>;

// Resolves one layer entry into a node {type, ...config}: a layer name, a map {type, overrides...}, a group
// map (children resolved recursively), a brick use (`name` or {brick: name}, looked up in `bricks` when
// given), or an already resolved node. Errors name the entry's file and line.
config::Value resolve_node(const config::Value& entry, int64_t dim, const LayerRegistry& registry,
                           const BrickDefinitions* bricks = nullptr);

// The type and the configuration (the node without `type`) of a resolved node.
std::string node_type(const config::Value& node);
config::Value node_config(const config::Value& node);

// Builds a resolved node through the registry (ctx.registry, or the built-in one).
std::unique_ptr<Layer> build_node(const config::Value& node, const ParamScope& scope, const BuildContext& ctx);
StateSize node_state(const config::Value& node, const BuildContext& ctx);
double node_mixing_flops(const config::Value& node, const BuildContext& ctx);

// "parallel/add(mh-attention, hyena)", "sequential(mlp, swiglu)", "*mix" for a use of brick mix.
std::string node_summary(const std::string& type, const config::Value& config);
// How many times each brick is run by one forward of `config` (a brick's own nested uses included per use).
void count_brick_uses(const std::string& type, const config::Value& config, std::map<std::string, int>& uses);

bool is_group_type(std::string_view type);

}  // namespace mad::models
