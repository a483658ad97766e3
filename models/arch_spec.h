// Architecture specs in the LFM2 `layer_types` style: a width and a list of layer entries, each a layer
// name with optional overrides of its default configuration.
//
// From the command line: `--layers mh-attention swiglu mh-attention swiglu`. From YAML:
//   dim: 128
//   norm: rmsnorm              # the backbone's norm: rmsnorm (default) or layernorm
//   layers: [ {type: mh-attention, n_heads: 8}, swiglu, mh-attention, swiglu ]
// Entries may be groups and uses of shared bricks (models/graph.h, docs/graphs.md):
//   bricks: { mix: {type: parallel, combine: concat, branches: [mh-attention, hyena]} }
//   layers: [ mix, swiglu, {type: sequential, layers: [mix, mlp]}, swiglu ]
// or, instead of `layers`, LFM2's shorthand: an operator per entry, each followed by a feed-forward
// (every one with the backbone's pre-norm and residual):
//   layer_types: [conv, conv, full_attention, conv]
//   feed_forward: swiglu                       # optional; any layer entry
//   layer_type_overrides: {full_attention: {n_heads: 8}}   # optional, per type name
// `full_attention` maps to mh-attention (with qk_norm: true when the attention defaults have that key).
// A resolved spec has every layer's full configuration; its canonical form (sorted-key JSON) and that
// form's SHA-256 identify the architecture (the run identity of sweeps builds on it).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "models/registry.h"

namespace mad::models {

struct LayerSpec {
  std::string type;
  config::Value config;  // resolved: the defaults with the overrides applied and dim set; for groups and brick
                         // uses the children are resolved nodes {type, ...} (models/graph.h)
};

struct ArchSpec {
  int64_t dim = 128;
  std::string norm = "rmsnorm";
  std::vector<LayerSpec> layers;
};

ArchSpec arch_from_names(std::span<const std::string> names, int64_t dim, const LayerRegistry& registry = builtin_layers());
// `dim_override` (> 0) replaces the file's dim (the command line's --dim).
ArchSpec arch_from_config(const config::Value& spec, const LayerRegistry& registry = builtin_layers(),
                          int64_t dim_override = 0);
ArchSpec arch_from_file(const std::string& path, const LayerRegistry& registry = builtin_layers(), int64_t dim_override = 0);

config::Value to_config(const ArchSpec& spec);
std::string arch_hash(const ArchSpec& spec);
// "mh-attention swiglu mh-attention swiglu"; groups as "parallel/add(mh-attention, hyena)", brick uses as "*mix"
std::string arch_summary(const ArchSpec& spec);

}  // namespace mad::models
