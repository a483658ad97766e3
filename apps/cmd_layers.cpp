// `mad layers`: the layer registry, with each layer's family, parameters and state at a given width.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fmt/core.h>

#include "apps/commands.h"
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
  for (const std::string& name : registry.names()) {
    const models::LayerEntry& e = registry.find(name);
    models::Model m(models::arch_from_names(std::vector<std::string>{name}, o.dim), models::BackboneKind::language_model,
                    2, o.seq_len);
    const models::StateSize s = m.layer_state(0);
    const std::string state = s.fixed ? fmt::format("{}", s.floats) : fmt::format("{} (L={})", s.floats, o.seq_len);
    fmt::print("{:<{}} {:<{}} {:<8} {:>10} {:>14}  {}\n", name, name_w, e.family, family_w,
               e.sequence_mixer ? "sequence" : "channel", m.layer_params(0), state, e.summary);
    if (o.defaults) fmt::print("    defaults: {}\n", config::canonical(registry.defaults(name)));
  }
  fmt::print("\nparams and state (floats per sequence) at D={}, L={}; attention's state is its KV cache and grows with L;\n"
             "Hyena's parameters include its filter's 3 L positional features.\n",
             o.dim, o.seq_len);
}

}  // namespace

void setup_layers(CLI::App& app) {
  auto o = std::make_shared<LayersOptions>();
  CLI::App* cmd = app.add_subcommand("layers", "List the layer registry: family, parameters and state size per layer");
  cmd->add_option("--dim", o->dim, "model width D")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "sequence length for length-dependent state")->capture_default_str();
  cmd->add_flag("--defaults", o->defaults, "also print each layer's default configuration");
  cmd->callback([o] { run_layers(*o); });
}

}  // namespace mad::cli
