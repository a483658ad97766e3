// The layer registry: every layer type a model can name, with its default configuration, its family, and
// its state-size formula (mad-protocol.md section 7).
//
// Each layer file registers its own entries next to its code with MAD_REGISTER_LAYERS (below); nothing else
// names a layer or a family. builtin_layers() runs every registration on first use; the registry keeps its
// entries sorted by (family, name), so its content and order do not depend on the link order. Default
// configurations live in configs/layers/<name>.yml (compiled into the binary), holding the reference values.
//
// A static registrar in a static library is dropped by the linker when nothing references its object file:
// models/CMakeLists.txt therefore links all of mad_models as a whole archive into every executable and
// module (CMake's $<LINK_LIBRARY:WHOLE_ARCHIVE,...>), and tests/models/test_registry.cpp fails for a layer
// file whose registration is missing.
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
  // Of a state that grows (fixed false), the floats that do not: the fixed-state branches of a group or
  // the nodes of a wiring beside an attention (0 for a layer whose whole state grows). Iso-state
  // normalisation counts and resizes this part (models/normalize.h).
  int64_t fixed_part = 0;
  int64_t fixed_floats() const { return fixed ? floats : fixed_part; }
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

  // Facts the registry-wide tests read, so that no test keeps a list of layer names:
  // Overrides (YAML flow map, e.g. "{dim_inner: 2}") that make the layer small enough for the float64
  // finite-difference checks at width 16, beyond what tests/models/test_layers.cpp derives from the
  // default keys (heads, head widths, windows, units, ...). Empty: the derived sizes suffice.
  std::string small_test_overrides = {};
  // For a fixed-state sequence mixer that `mad normalize` cannot bring to exactly 4096 floats in
  // [layer, swiglu, layer, swiglu] at D = 128 (no size knobs, or knobs that step past it): the closest total
  // it reaches; tests/models/test_normalize.cpp holds the layer to it (docs/normalize.md). 0: reaches 4096.
  int64_t closest_state_to_4096 = 0;
};

class LayerRegistry;
// A layer file's registration: adds that file's entries (LayerRegistry::add, add_block).
using RegisterLayersFn = void (*)(LayerRegistry& registry);
struct LayerRegistration {
  RegisterLayersFn fn = nullptr;
  const char* file = "";  // the registering source file (__FILE__)
};

class LayerRegistry {
 public:
  // Adds a layer; its default configuration is the embedded configs/layers/<name>.yml, which must exist.
  // Entries stay sorted by (family, name) whatever the order they are added in.
  void add(LayerEntry entry);
  // Runs one registration, recording its file as the source of the entries it adds.
  void add_from(const LayerRegistration& registration);

  // Throws mad::Error listing the registered names when `name` is unknown.
  const LayerEntry& find(std::string_view name) const;
  bool contains(std::string_view name) const;
  // The file whose registration added `name` ("" for entries added by add() outside add_from).
  const std::string& source(std::string_view name) const;
  // Every name, sorted by (family, name): the order of `mad layers`.
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
    std::string source;
  };
  const Registered& registered(std::string_view name) const;
  std::vector<Registered> layers_;  // sorted by (family, name)
  std::string adding_from_;         // the file of the registration add_from is running
};

// The registry of every built-in layer: every MAD_REGISTER_LAYERS of the program, run on first use (never
// call it during static initialisation: registrations of other files may not have run yet; a registrar
// constructed after the first use aborts the program with a message saying so).
const LayerRegistry& builtin_layers();
// The registrations builtin_layers() runs, sorted by file (tests build fresh registries from them).
std::vector<LayerRegistration> builtin_layer_registrations();

// Called by MAD_REGISTER_LAYERS's static object: queues a registration for builtin_layers().
class LayerRegistrar {
 public:
  LayerRegistrar(RegisterLayersFn fn, const char* file);
};

#define MAD_REGISTRY_CONCAT_(a, b) a##b
#define MAD_REGISTRY_CONCAT(a, b) MAD_REGISTRY_CONCAT_(a, b)
// Registers the entries of the layer file it appears in, at namespace scope after the layer's code:
//   MAD_REGISTER_LAYERS(r) {
//     r.add({"mlp", "mlp", false, "two-layer perceptron", &build, &state});
//   }
// The body runs with `r` (any name) a LayerRegistry& when builtin_layers() is first used. A file may hold
// several; the order of files and of registrations does not matter.
#define MAD_REGISTER_LAYERS(registry)                                                                      \
  static void MAD_REGISTRY_CONCAT(mad_register_layers_, __LINE__)(::mad::models::LayerRegistry&);        \
  static const ::mad::models::LayerRegistrar MAD_REGISTRY_CONCAT(mad_layer_registrar_, __LINE__){        \
      &MAD_REGISTRY_CONCAT(mad_register_layers_, __LINE__), __FILE__};                                    \
  static void MAD_REGISTRY_CONCAT(mad_register_layers_, __LINE__)(::mad::models::LayerRegistry & registry)

}  // namespace mad::models
