// `mad layers`: the layer registry, with each layer's family, parameters and state at a given width.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fmt/core.h>

#include "apps/api.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "config/canonical.h"
#include "models/backbone.h"

namespace mad::cli {
namespace {

struct LayersOptions {
  int64_t dim = 128;
  int64_t seq_len = 128;
  bool defaults = false;
};

void run_layers(const LayersOptions& o) {
  const models::LayerRegistry& registry = models::builtin_layers();
  // Columns as wide as the longest name and family, so every row lines up.
  size_t name_w = 5, family_w = 6;
  for (const std::string& name : registry.names()) {
    name_w = std::max(name_w, name.size());
    family_w = std::max(family_w, registry.find(name).family.size());
  }
  fmt::print("{:<{}} {:<{}} {:<8} {:>10} {:>14}  {}\n", "layer", name_w, "family", family_w, "mixes", "params", "state",
             "summary");
  const config::Value layers = layers_json(o.dim, o.seq_len);
  for (const config::Value& l : layers.as_list()) {
    const std::string name = l.get<std::string>("layer");
    const int64_t floats = l.get<int64_t>("state");
    const std::string state = l.get<bool>("fixed_state") ? fmt::format("{}", floats) : fmt::format("{} (L={})", floats, o.seq_len);
    fmt::print("{:<{}} {:<{}} {:<8} {:>10} {:>14}  {}\n", name, name_w, l.get<std::string>("family"), family_w,
               l.get<std::string>("mixes"), l.get<int64_t>("params"), state, l.get<std::string>("summary"));
    if (o.defaults) fmt::print("    defaults: {}\n", config::canonical(registry.defaults(name)));
  }
  // The wiring blocks are nodes of `wiring` entries, not layers: their widths come from the graph.
  fmt::print("\nwiring blocks (family block; nodes of a {{type: wiring}} entry, docs/graphs.md):\n");
  for (const std::string& name : registry.block_names()) {
    fmt::print("{:<{}} {:<{}} {}\n", name, name_w, registry.find(name).family, family_w, registry.find(name).summary);
    if (o.defaults) fmt::print("    defaults: {}\n", config::canonical(registry.defaults(name)));
  }
  fmt::print("\nparams and state (floats per sequence) at D={}, L={}; attention's state is its KV cache and grows with L;\n"
             "Hyena's parameters include its filter's 3 L positional features.\n",
             o.dim, o.seq_len);
}

}  // namespace

config::Value layers_json(int64_t dim, int64_t seq_len) {
  const models::LayerRegistry& registry = models::builtin_layers();
  config::Value out = config::Value::list();
  for (const std::string& name : registry.layer_names()) {
    const models::LayerEntry& e = registry.find(name);
    // The layer alone in a language model: its parameters and state at this width and length.
    models::Model m(models::arch_from_names(std::vector<std::string>{name}, dim), models::BackboneKind::language_model, 2,
                    seq_len);
    const models::StateSize s = m.layer_state(0);
    config::Value v = config::Value::map();
    v.set("layer", name);
    v.set("family", e.family);
    v.set("mixes", std::string(e.sequence_mixer ? "sequence" : "channel"));
    v.set("params", config::Value(m.layer_params(0)));
    v.set("state", config::Value(s.floats));
    v.set("fixed_state", s.fixed);
    v.set("summary", e.summary);
    out.push_back(std::move(v));
  }
  return out;
}

void setup_layers(CLI::App& app) {
  auto o = std::make_shared<LayersOptions>();
  CLI::App* cmd = app.add_subcommand("layers", "List the layer registry: family, parameters and state size per layer");
  cmd->add_option("--dim", o->dim, "model width D")->check(int_in(1))->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "sequence length for length-dependent state")->check(int_in(1))->capture_default_str();
  cmd->add_flag("--defaults", o->defaults, "also print each layer's default configuration");
  cmd->callback([o] { run_layers(*o); });
}

}  // namespace mad::cli
