#include "results/setting_axes.h"

#include <algorithm>
#include <tuple>

#include "config/canonical.h"

namespace mad::results {

std::vector<std::string> varying_keys(std::span<const config::Value> settings) {
  std::vector<std::string> keys;
  for (const config::Value& s : settings) {
    for (const auto& entry : s.as_map()) {
      // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture those.
      const std::string& key = entry.first;
      const config::Value& value = entry.second;
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

namespace {

// A settings map's value for `key`; null when the key is missing (so a missing key is a value too).
config::Value value_of(const config::Value& settings, const std::string& key) {
  const config::Value* v = settings.find(key);
  return v ? *v : config::Value();
}

bool is_number(const config::Value& v) {
  return v.kind() == config::Value::Kind::Int || v.kind() == config::Value::Kind::Double;
}

}  // namespace

SettingGrid::SettingGrid(std::span<const config::Value> settings) : axes_(varying_keys(settings)) {
  for (const std::string& axis : axes_) {
    std::vector<std::pair<config::Value, int>> counts;  // value -> settings with it, in order of first sight
    for (const config::Value& s : settings) {
      const config::Value v = value_of(s, axis);
      auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == v; });
      if (it == counts.end()) counts.emplace_back(v, 1);
      else ++it->second;
    }
    // max_element keeps the first of equal counts: a tie goes to the value seen first.
    baseline_.push_back(std::max_element(counts.begin(), counts.end(), [](const auto& x, const auto& y) {
                          return x.second < y.second;
                        })->first);
  }
}

std::vector<std::string> SettingGrid::changed(const config::Value& setting) const {
  std::vector<std::string> keys;
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (!(value_of(setting, axes_[i]) == baseline_[i])) keys.push_back(axes_[i]);
  }
  return keys;
}

std::string SettingGrid::name(const config::Value& setting) const {
  if (axes_.empty()) return "one setting";  // not "-", which tables use for a missing score
  if (axes_.size() == 1) return describe_setting(setting, axes_);
  const std::vector<std::string> keys = changed(setting);
  return keys.empty() ? "baseline" : describe_setting(setting, keys);
}

bool SettingGrid::on_axis(const config::Value& setting, const std::string& axis) const {
  const std::vector<std::string> keys = changed(setting);
  return keys.empty() || (keys.size() == 1 && keys[0] == axis);
}

bool SettingGrid::before(const config::Value& x, const config::Value& y) const {
  // (0: baseline / 1: changed, the first changed axis, its value as a number, else its canonical text)
  const auto rank = [this](const config::Value& s) {
    const std::vector<std::string> keys = changed(s);
    if (axes_.empty() || (axes_.size() > 1 && keys.empty())) return std::tuple(0, size_t{0}, 0.0, std::string());
    const std::string& axis = axes_.size() == 1 ? axes_[0] : keys[0];
    const size_t index = static_cast<size_t>(std::find(axes_.begin(), axes_.end(), axis) - axes_.begin());
    const config::Value v = value_of(s, axis);
    return is_number(v) ? std::tuple(1, index, v.as_double(), std::string())
                        : std::tuple(1, index, 0.0, config::canonical(v));
  };
  return rank(x) < rank(y);
}

}  // namespace mad::results
