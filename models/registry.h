// The layer registry: every layer type a model can name, with its default configuration, its family, and
// its state-size formula (mad-protocol.md section 7).
//
// Registration is explicit: register_builtin_layers() (models/builtin_layers.cpp) is the one list of
// built-in layers, and each layer file contributes a register_* function. Default configurations live in
// configs/layers/<name>.yml (compiled into the binary), holding the reference values.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/layer.h"

namespace mad::models {

// Floats of state one sequence carries between tokens at inference. `fixed` is false when the state grows
// with the sequence length (softmax attention's KV cache).
struct StateSize {
  int64_t floats = 0;
  bool fixed = true;
};

// What a wiring node (models/wiring_graph.h) needs to know about an atomic block of the `block` family: how many
// tensors it reads and the widths (last axis) of what it returns. A block's resolved configuration holds
// the widths it reads as `in_widths` (set by the wiring), so build, state and FLOP functions see them.
struct BlockSpec {
  int min_inputs = 1;
  int max_inputs = 1;  // -1: any number
  // Output widths for input widths `in` (the configuration without in_widths); a bad combination throws
  // mad::Error naming the setting or the widths (the wiring adds the node, key and file:line).
  std::vector<int64_t> (*widths)(const config::Value& config, std::span<const int64_t> in) = nullptr;
};

struct LayerEntry {
  std::string name;
  std::string family;  // e.g. "attention", "mlp"
  bool sequence_mixer = false;
  std::string summary;
  // Declares the layer's parameters under `scope` and returns it; `config` is resolved (every key set).
  std::unique_ptr<Layer> (*build)(const config::Value& config, const ParamScope& scope, const BuildContext& ctx) = nullptr;
  StateSize (*state)(const config::Value& config, const BuildContext& ctx) = nullptr;
  // Forward FLOPs per token spent mixing the sequence beyond the layer's weight products (which
  // models/describe.h counts as 2 per parameter): e.g. attention's QK^T and AV, a long convolution's FFTs.
  // nullptr: none (channel mixers) or not yet modelled.
  double (*mixing_flops)(const config::Value& config, const BuildContext& ctx) = nullptr;
  // Other valid configurations of this layer for iso-state / iso-parameter normalisation (`mad normalize`):
  // copies of `config` with its size knobs (heads, head dimension, expansion, d_state, filter order, expert
  // or hidden width, ...) set to other values the layer accepts at ctx.dim; every other key unchanged.
  // A handful to a few hundred options; nullptr: the layer has no size knobs.
  std::vector<config::Value> (*size_options)(const config::Value& config, const BuildContext& ctx) = nullptr;
  // Set for the atomic blocks of wiring graphs (family "block"), which are not layers of their own.
  const BlockSpec* block = nullptr;
  // The parameter-scope names of the projections a `wiring:` mask may go on (models/projection_mask.h,
  // layer_projection_mask), e.g. {"Wqkv", "out_proj"}; empty: the layer takes no masks.
  std::vector<std::string> masked_projections = {};
};

class LayerRegistry {
 public:
  // Adds a layer; its default configuration is the embedded configs/layers/<name>.yml, which must exist.
  void add(LayerEntry entry);

  // Throws mad::Error listing the registered names when `name` is unknown.
  const LayerEntry& find(std::string_view name) const;
  bool contains(std::string_view name) const;
  std::vector<std::string> names() const;
  // The names of entries usable as layers ([B, T, D] -> [B, T, D]), without the wiring blocks.
  std::vector<std::string> layer_names() const;
  std::vector<std::string> block_names() const;
  const config::Value& defaults(std::string_view name) const;

  // The defaults of `name` overridden by the keys of `overrides` (a map, or null), with `dim` set to the
  // model width. Unknown keys are errors that list the valid ones; a `dim` other than the model's is an error.
  config::Value resolve(std::string_view name, const config::Value& overrides, int64_t dim) const;

 private:
  struct Registered {
    LayerEntry entry;
    config::Value defaults;
  };
  std::vector<Registered> layers_;
};

// The registry of every built-in layer (built on first use by register_builtin_layers).
const LayerRegistry& builtin_layers();
void register_builtin_layers(LayerRegistry& registry);

// Per-family registration functions (one per models/layers/*.cpp file).
void register_mlp_layers(LayerRegistry& registry);
void register_attention_layers(LayerRegistry& registry);
void register_xlstm_layers(LayerRegistry& registry);
void register_linear_attention_layers(LayerRegistry& registry);
void register_gated_linear_attention_layers(LayerRegistry& registry);
void register_hyena_layers(LayerRegistry& registry);
void register_mamba_layers(LayerRegistry& registry);
void register_moe_layers(LayerRegistry& registry);
void register_rwkv_layers(LayerRegistry& registry);
void register_short_conv_layers(LayerRegistry& registry);
void register_cfc_layers(LayerRegistry& registry);
void register_ltc_layers(LayerRegistry& registry);
void register_graph_layers(LayerRegistry& registry);  // models/graph.cpp
void register_mlstm_preup_layers(LayerRegistry& registry);  // models/layers/mlstm_preup.cpp
void register_block_layers(LayerRegistry& registry);   // models/blocks/*.cpp
void register_wiring_layers(LayerRegistry& registry);  // models/wiring_graph.cpp

}  // namespace mad::models
