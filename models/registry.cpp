#include "models/registry.h"

#include "config/yaml.h"
#include "models/layer_defaults.h"

namespace mad::models {

void LayerRegistry::add(LayerEntry entry) {
  MAD_CHECK(!contains(entry.name), "layer registry: '{}' is registered twice", entry.name);
  MAD_CHECK(entry.build && entry.state, "layer registry: '{}' needs a build and a state function", entry.name);
  for (const auto& file : embedded_layer_configs()) {
    if (file.name != entry.name) continue;
    config::Value defaults = config::load_string(file.text, "configs/layers/" + entry.name + ".yml");
    MAD_CHECK(defaults.is_map() && defaults.contains("dim"),
              "configs/layers/{}.yml: a layer's default configuration must be a map with a 'dim' key", entry.name);
    layers_.push_back({std::move(entry), std::move(defaults)});
    return;
  }
  fail(fmt::format("layer registry: '{}' has no default configuration configs/layers/{}.yml", entry.name, entry.name));
}

bool LayerRegistry::contains(std::string_view name) const {
  for (const auto& l : layers_)
    if (l.entry.name == name) return true;
  return false;
}

const LayerEntry& LayerRegistry::find(std::string_view name) const {
  for (const auto& l : layers_)
    if (l.entry.name == name) return l.entry;
  std::string valid;
  for (const auto& l : layers_) valid += (valid.empty() ? "" : ", ") + l.entry.name;
  fail(fmt::format("unknown layer '{}'; valid layers: {} (see 'mad layers')", name, valid));
}

std::vector<std::string> LayerRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& l : layers_) out.push_back(l.entry.name);
  return out;
}

std::vector<std::string> LayerRegistry::layer_names() const {
  std::vector<std::string> out;
  for (const auto& l : layers_)
    if (!l.entry.block) out.push_back(l.entry.name);
  return out;
}

std::vector<std::string> LayerRegistry::block_names() const {
  std::vector<std::string> out;
  for (const auto& l : layers_)
    if (l.entry.block) out.push_back(l.entry.name);
  return out;
}

const config::Value& LayerRegistry::defaults(std::string_view name) const {
  find(name);
  for (const auto& l : layers_)
    if (l.entry.name == name) return l.defaults;
  fail("unreachable");
}

config::Value LayerRegistry::resolve(std::string_view name, const config::Value& overrides, int64_t dim) const {
  config::Value resolved = defaults(name);
  if (!overrides.is_null()) {
    std::vector<std::string_view> valid;
    for (const auto& [key, value] : resolved.as_map()) valid.push_back(key);
    overrides.check_keys(valid, fmt::format("layer '{}'", name));
    for (const auto& [key, value] : overrides.as_map()) resolved.set(key, value);
  }
  const int64_t layer_dim = resolved.get<int64_t>("dim");
  MAD_CHECK(!overrides.contains("dim") || layer_dim == dim,
            "layer '{}': dim {} differs from the model width {}; every layer has the model's width (set the model's dim instead)",
            name, layer_dim, dim);
  resolved.set("dim", config::Value(dim));
  return resolved;
}

const LayerRegistry& builtin_layers() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    register_builtin_layers(r);
    return r;
  }();
  return registry;
}

}  // namespace mad::models
