// The layer registry (models/registry.h): every layer file registers itself (MAD_REGISTER_LAYERS), no
// registration is lost at link time, and the registry's content and order do not depend on the order in
// which the registrations run (that is, on the link order).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

#include "config/canonical.h"
#include "core/error.h"
#include "models/layer_defaults.h"
#include "models/registry.h"

namespace mad::models {
namespace {

// Every entry in the registry's order, with what must not depend on the order of registration.
std::vector<std::string> listing(const LayerRegistry& r) {
  std::vector<std::string> out;
  for (const std::string& name : r.names()) {
    const LayerEntry& e = r.find(name);
    out.push_back(e.family + " | " + name + " | " + (e.sequence_mixer ? "sequence" : "channel") + " | " + e.summary +
                  " | " + config::canonical(r.defaults(name)) + " | " + r.source(name));
  }
  return out;
}

LayerRegistry registry_of(const std::vector<LayerRegistration>& registrations) {
  LayerRegistry r;
  for (const LayerRegistration& registration : registrations) r.add_from(registration);
  return r;
}

// At least the layers and wiring blocks of issue 23's time (30 layers, 12 blocks), and an entry for every
// default configuration compiled in: a configs/layers/<name>.yml without an entry means that a layer's
// registration was dropped by the linker (models/CMakeLists.txt links mad_models whole) or never written.
TEST(Registry, HoldsEveryLayerWithADefaultConfiguration) {
  const LayerRegistry& r = builtin_layers();
  EXPECT_GE(r.layer_names().size(), 30u);
  EXPECT_GE(r.block_names().size(), 12u);
  for (const EmbeddedLayerConfig& file : embedded_layer_configs())
    EXPECT_TRUE(r.contains(file.name)) << "configs/layers/" << file.name << ".yml has no registered layer: its file "
                                       << "needs a MAD_REGISTER_LAYERS (models/registry.h), or it was not linked";
  EXPECT_EQ(r.names().size(), embedded_layer_configs().size());
}

// Registering in the link's order, in reverse and rotated gives the same entries in the same order: sorted
// by (family, name), as `mad layers` lists them.
TEST(Registry, ContentAndOrderDoNotDependOnRegistrationOrder) {
  const std::vector<LayerRegistration> in_order = builtin_layer_registrations();
  ASSERT_GE(in_order.size(), 15u);
  std::vector<LayerRegistration> reversed(in_order.rbegin(), in_order.rend());
  std::vector<LayerRegistration> rotated = in_order;
  std::rotate(rotated.begin(), rotated.begin() + static_cast<std::ptrdiff_t>(rotated.size() / 3), rotated.end());
  const std::vector<std::string> expected = listing(builtin_layers());
  EXPECT_EQ(listing(registry_of(in_order)), expected);
  EXPECT_EQ(listing(registry_of(reversed)), expected);
  EXPECT_EQ(listing(registry_of(rotated)), expected);
  const std::vector<std::string> names = builtin_layers().names();
  const auto key = [](const std::string& name) {
    return std::tuple(builtin_layers().find(name).family, name);
  };
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end(),
                             [&](const std::string& a, const std::string& b) { return key(a) < key(b); }));
}

// Every models/layers/*.cpp and models/blocks/*.cpp that defines a layer or a block registers at least one
// entry, from that file.
TEST(Registry, EveryLayerFileRegistersSomething) {
  const std::regex defines_layer(R"(:\s*public\s+(models::)?(Layer|Block)\b)");
  const std::vector<LayerRegistration> registrations = builtin_layer_registrations();
  int layer_files = 0;
  for (const char* folder : {"models/layers", "models/blocks"}) {
    for (const auto& file : std::filesystem::directory_iterator(std::filesystem::path(MAD_SOURCE_DIR) / folder)) {
      if (file.path().extension() != ".cpp") continue;
      std::ifstream in(file.path());
      std::stringstream text;
      text << in.rdbuf();
      if (!std::regex_search(text.str(), defines_layer)) continue;
      ++layer_files;
      const std::string suffix = "/" + std::string(folder) + "/" + file.path().filename().string();
      SCOPED_TRACE(suffix);
      LayerRegistry fresh;
      for (const LayerRegistration& registration : registrations)
        if (std::string_view(registration.file).ends_with(suffix)) fresh.add_from(registration);
      EXPECT_FALSE(fresh.names().empty()) << folder << "/" << file.path().filename().string()
                                          << " defines a layer but registers nothing: add MAD_REGISTER_LAYERS "
                                          << "(models/registry.h) to it";
      for (const std::string& name : fresh.names())
        EXPECT_TRUE(builtin_layers().source(name).ends_with(suffix)) << name << " from " << builtin_layers().source(name);
    }
  }
  EXPECT_GE(layer_files, 18);  // 14 layer files and 4 block files at issue 23
}

TEST(Registry, ADuplicateOrAnUnknownNameIsAnError) {
  LayerRegistry r;
  const std::vector<LayerRegistration> registrations = builtin_layer_registrations();
  r.add_from(registrations.front());
  EXPECT_THROW(r.add_from(registrations.front()), Error);
  LayerEntry no_config = r.find(r.names().front());
  no_config.name = "no-such-layer";
  EXPECT_THROW(r.add(no_config), Error);
}

}  // namespace
}  // namespace mad::models
