#include "models/arch_spec.h"

#include "config/canonical.h"
#include "config/yaml.h"

namespace mad::models {
namespace {

void check_common(const ArchSpec& spec) {
  MAD_CHECK(spec.dim > 0, "architecture: dim must be positive, got {}", spec.dim);
  MAD_CHECK(!spec.layers.empty(), "architecture: no layers; give at least one (e.g. --layers mh-attention swiglu)");
  MAD_CHECK(spec.norm == "rmsnorm" || spec.norm == "layernorm",
            "architecture: norm must be 'rmsnorm' or 'layernorm', got '{}'", spec.norm);
}

}  // namespace

ArchSpec arch_from_names(std::span<const std::string> names, int64_t dim, const LayerRegistry& registry) {
  ArchSpec spec;
  spec.dim = dim;
  for (const std::string& name : names) spec.layers.push_back({name, registry.resolve(name, config::Value(), dim)});
  check_common(spec);
  return spec;
}

ArchSpec arch_from_config(const config::Value& c, const LayerRegistry& registry, int64_t dim_override) {
  MAD_CHECK(c.is_map(), "{}: an architecture spec is a map with 'layers' (and optionally 'dim', 'norm')", c.where());
  c.check_keys({"dim", "norm", "layers"}, "architecture spec");
  ArchSpec spec;
  spec.dim = dim_override > 0 ? dim_override : c.get<int64_t>("dim", 128);
  spec.norm = c.get<std::string>("norm", "rmsnorm");
  MAD_CHECK(c.contains("layers"), "{}: the architecture spec has no 'layers' list", c.where());
  for (const config::Value& entry : c.at("layers").as_list()) {
    if (entry.kind() == config::Value::Kind::String) {
      spec.layers.push_back({entry.as_string(), registry.resolve(entry.as_string(), config::Value(), spec.dim)});
      continue;
    }
    MAD_CHECK(entry.is_map() && entry.contains("type"),
              "{}: a layer entry is a layer name or a map with 'type' and overrides, got {}", entry.where(), entry.describe());
    const std::string type = entry.get<std::string>("type");
    config::Value overrides = config::Value::map();
    for (const auto& [key, value] : entry.as_map())
      if (key != "type") overrides.set(key, value);
    try {
      spec.layers.push_back({type, registry.resolve(type, overrides, spec.dim)});
    } catch (const Error& e) {
      fail(fmt::format("{}: {}", entry.where(), e.what()));
    }
  }
  check_common(spec);
  return spec;
}

ArchSpec arch_from_file(const std::string& path, const LayerRegistry& registry, int64_t dim_override) {
  return arch_from_config(config::load_file(path), registry, dim_override);
}

config::Value to_config(const ArchSpec& spec) {
  config::Value c = config::Value::map();
  c.set("dim", config::Value(spec.dim));
  c.set("norm", config::Value(spec.norm));
  config::Value layers = config::Value::list();
  for (const LayerSpec& l : spec.layers) {
    config::Value entry = config::Value::map();
    entry.set("type", config::Value(l.type));
    for (const auto& [key, value] : l.config.as_map()) entry.set(key, value);
    layers.push_back(entry);
  }
  c.set("layers", layers);
  return c;
}

std::string arch_hash(const ArchSpec& spec) { return config::canonical_hash(to_config(spec)); }

std::string arch_summary(const ArchSpec& spec) {
  std::string s;
  for (const LayerSpec& l : spec.layers) s += (s.empty() ? "" : " ") + l.type;
  return s;
}

}  // namespace mad::models
