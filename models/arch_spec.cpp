#include "models/arch_spec.h"

#include <cctype>
#include <map>

#include "config/canonical.h"
#include "config/yaml.h"
#include "models/graph.h"

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

namespace {

LayerSpec layer_spec(const config::Value& node) { return {node_type(node), node_config(node)}; }

// `bricks:` name -> entry, resolved in file order; a brick may use the bricks defined above it.
BrickDefinitions parse_bricks(const config::Value& c, int64_t dim, const LayerRegistry& registry) {
  BrickDefinitions bricks;
  if (!c.contains("bricks")) return bricks;
  const config::Value& map = c.at("bricks");
  MAD_CHECK(map.is_map(), "{}: 'bricks' is a map from brick name to layer entry, got {}", map.where(), map.describe());
  for (const auto& [name, entry] : map.as_map()) {
    bool valid_name = !name.empty();
    for (char ch : name) valid_name = valid_name && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
    MAD_CHECK(valid_name, "{}: brick name '{}' may contain only letters, digits, '-' and '_'", entry.where(), name);
    MAD_CHECK(!registry.contains(name), "{}: brick name '{}' is a layer name; choose another name", entry.where(), name);
    bricks[name] = resolve_node(entry, dim, registry, &bricks);
  }
  return bricks;
}

// LFM2's layer_types shorthand: [op, ff, op, ff, ...], each op from the type map with its overrides.
std::vector<config::Value> expand_layer_types(const config::Value& c, const LayerRegistry& registry) {
  const config::Value& types = c.at("layer_types");
  MAD_CHECK(types.is_list() && !types.as_list().empty(), "{}: 'layer_types' is a non-empty list of layer types, got {}",
            types.where(), types.describe());
  const config::Value ff = c.contains("feed_forward") ? c.at("feed_forward") : config::Value("swiglu");
  config::Value overrides = config::Value::map();
  if (c.contains("layer_type_overrides")) {
    overrides = c.at("layer_type_overrides");
    MAD_CHECK(overrides.is_map(), "{}: 'layer_type_overrides' maps a layer type to its overrides, got {}",
              overrides.where(), overrides.describe());
    for (const auto& [name, o] : overrides.as_map()) {
      bool used = false;
      for (const config::Value& t : types.as_list()) used = used || (t.kind() == config::Value::Kind::String && t.as_string() == name);
      MAD_CHECK(used, "{}: layer_type_overrides names '{}', which is not in layer_types", o.where(), name);
      MAD_CHECK(o.is_map(), "{}: the overrides of '{}' are a map of settings, got {}", o.where(), name, o.describe());
    }
  }
  std::vector<config::Value> entries;
  for (const config::Value& t : types.as_list()) {
    const std::string name = t.as_string();
    const config::Value* own = overrides.find(name);
    const bool retyped = own && own->is_map() && own->contains("type");  // e.g. conv: {type: mh-sliding-attention}
    if (name != "full_attention" && !registry.contains(name) && !retyped) {  // a brick's name (or an error, reported there)
      MAD_CHECK(!overrides.contains(name), "{}: layer_type_overrides apply to layers; '{}' is not one (a brick's "
                "settings go in its definition)", overrides.at(name).where(), name);
      entries.push_back(t);
      entries.push_back(ff);
      continue;
    }
    config::Value entry = config::Value::map();
    if (name == "full_attention") {
      entry.set("type", config::Value("mh-attention"));
      if (registry.contains("mh-attention") && registry.defaults("mh-attention").contains("qk_norm"))
        entry.set("qk_norm", config::Value(true));
    } else {
      entry.set("type", config::Value(name));
    }
    if (own)
      for (const auto& [key, value] : own->as_map()) entry.set(key, value);
    entry.set_location(t.location());
    entries.push_back(entry);
    entries.push_back(ff);
  }
  return entries;
}

}  // namespace

ArchSpec arch_from_config(const config::Value& c, const LayerRegistry& registry, int64_t dim_override) {
  MAD_CHECK(c.is_map(), "{}: an architecture spec is a map with 'layers' (and optionally 'dim', 'norm', 'bricks')", c.where());
  c.check_keys({"dim", "norm", "layers", "bricks", "layer_types", "feed_forward", "layer_type_overrides"},
               "architecture spec");
  ArchSpec spec;
  spec.dim = dim_override > 0 ? dim_override : c.get<int64_t>("dim", 128);
  spec.norm = c.get<std::string>("norm", "rmsnorm");
  MAD_CHECK(spec.dim > 0, "{}: dim must be positive, got {}", c.contains("dim") ? c.at("dim").where() : c.where(), spec.dim);
  const bool shorthand = c.contains("layer_types");
  MAD_CHECK(c.contains("layers") != shorthand,
            "{}: give the layers either as 'layers' (a list of entries) or as 'layer_types' (LFM2 shorthand), not {}",
            c.where(), shorthand ? "both" : "neither");
  for (const char* key : {"feed_forward", "layer_type_overrides"})
    MAD_CHECK(shorthand || !c.contains(key), "{}: '{}' goes with 'layer_types'; with 'layers', write the entries out",
              c.at(key).where(), key);
  const BrickDefinitions bricks = parse_bricks(c, spec.dim, registry);
  std::vector<config::Value> entries;
  if (shorthand) {
    entries = expand_layer_types(c, registry);
  } else {
    const config::Value& layers = c.at("layers");
    MAD_CHECK(layers.is_list(), "{}: 'layers' is a list of layer entries, got {}", layers.where(), layers.describe());
    entries = layers.as_list();
  }
  std::map<std::string, int> uses;
  for (const config::Value& entry : entries) {
    spec.layers.push_back(layer_spec(resolve_node(entry, spec.dim, registry, &bricks)));
    count_brick_uses(spec.layers.back().type, spec.layers.back().config, uses);
  }
  for (const auto& [name, body] : bricks)
    MAD_CHECK(uses.contains(name), "{}: brick '{}' is defined but never used; use it in 'layers' or remove it",
              c.at("bricks").at(name).where(), name);
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
  for (const LayerSpec& l : spec.layers) s += (s.empty() ? "" : " ") + node_summary(l.type, l.config);
  return s;
}

}  // namespace mad::models
