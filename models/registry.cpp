#include "models/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <tuple>

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
    // Sorted by (family, name): the content and order do not depend on the order of registration.
    const auto key = [](const Registered& r) { return std::tie(r.entry.family, r.entry.name); };
    Registered added{std::move(entry), std::move(defaults), adding_from_};
    const auto at = std::upper_bound(layers_.begin(), layers_.end(), added,
                                     [&](const Registered& a, const Registered& b) { return key(a) < key(b); });
    layers_.insert(at, std::move(added));
    return;
  }
  fail(fmt::format("layer registry: '{}' has no default configuration configs/layers/{}.yml", entry.name, entry.name));
}

void LayerRegistry::add_from(const LayerRegistration& registration) {
  adding_from_ = registration.file;
  try {
    registration.fn(*this);
  } catch (...) {
    adding_from_.clear();
    throw;
  }
  adding_from_.clear();
}

bool LayerRegistry::contains(std::string_view name) const {
  for (const auto& l : layers_)
    if (l.entry.name == name) return true;
  return false;
}

const LayerRegistry::Registered& LayerRegistry::registered(std::string_view name) const {
  for (const auto& l : layers_)
    if (l.entry.name == name) return l;
  std::string valid;
  for (const auto& l : layers_) valid += (valid.empty() ? "" : ", ") + l.entry.name;
  fail(fmt::format("unknown layer '{}'; valid layers: {} (see 'mad layers')", name, valid));
}

const LayerEntry& LayerRegistry::find(std::string_view name) const { return registered(name).entry; }

const std::string& LayerRegistry::source(std::string_view name) const { return registered(name).source; }

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

const config::Value& LayerRegistry::defaults(std::string_view name) const { return registered(name).defaults; }

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

namespace {

// The registrations queued by the static registrars of every layer file (MAD_REGISTER_LAYERS). A
// function-local static, so that it exists before the first registrar of any file is constructed.
struct Registrations {
  std::vector<LayerRegistration> queued;
  bool used = false;  // builtin_layers() has been built: a later registration would be lost
};
Registrations& registrations() {
  static Registrations r;
  return r;
}

}  // namespace

LayerRegistrar::LayerRegistrar(RegisterLayersFn fn, const char* file) {
  Registrations& r = registrations();
  if (r.used) {
    // Static initialisation cannot throw usefully; say what happened and stop.
    std::fprintf(stderr,
                 "layer registry: %s registers layers after builtin_layers() was first used; builtin_layers() must "
                 "not be called during static initialisation\n",
                 file);
    std::abort();
  }
  r.queued.push_back({fn, file});
}

std::vector<LayerRegistration> builtin_layer_registrations() {
  std::vector<LayerRegistration> out = registrations().queued;
  std::stable_sort(out.begin(), out.end(), [](const LayerRegistration& a, const LayerRegistration& b) {
    return std::string_view(a.file) < std::string_view(b.file);
  });
  return out;
}

const LayerRegistry& builtin_layers() {
  static const LayerRegistry registry = [] {
    LayerRegistry r;
    for (const LayerRegistration& registration : builtin_layer_registrations()) r.add_from(registration);
    registrations().used = true;
    return r;
  }();
  return registry;
}

}  // namespace mad::models
