#include "results/setting_axes.h"

#include <algorithm>

#include "config/canonical.h"

namespace mad::results {

std::vector<std::string> varying_keys(std::span<const config::Value> settings) {
  std::vector<std::string> keys;
  for (const config::Value& s : settings) {
    for (const auto& [key, value] : s.as_map()) {
      if (key == "task" || std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      const bool varies = std::any_of(settings.begin(), settings.end(), [&](const config::Value& other) {
        const config::Value* v = other.find(key);
        return v == nullptr || !(*v == value);
      });
      if (varies) keys.push_back(key);
    }
  }
  return keys;
}

std::string describe_setting(const config::Value& settings, std::span<const std::string> keys) {
  if (keys.empty()) return "-";
  std::string out;
  for (const std::string& key : keys) {
    const config::Value* v = settings.find(key);
    out += (out.empty() ? "" : " ") + key + "=" + (v ? config::canonical(*v) : "null");
  }
  return out;
}

}  // namespace mad::results
