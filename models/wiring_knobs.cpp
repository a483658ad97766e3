#include "models/wiring_knobs.h"

#include <fmt/format.h>

#include <map>
#include <string>

#include "core/error.h"

namespace mad::models {
namespace {

// A use of a knob: "$name" or "$name*F" (the knob's value times F, e.g. an up-projection twice the inner width).
struct KnobUse {
  std::string name;  // "" when the setting is not a knob use
  int64_t factor = 1;
};

// The part after "name" in "$name*F" or "node.key*F": F, checked to be a positive integer up to 1024.
int64_t use_factor(const std::string& text, size_t star, const config::Value& where) {
  if (star == std::string::npos) return 1;
  const std::string f = text.substr(star + 1);
  int64_t factor = 0;
  const bool digits = !f.empty() && f.size() <= 4 && f.find_first_not_of("0123456789") == std::string::npos;
  if (digits) factor = std::stoll(f);
  MAD_CHECK(digits && factor >= 1 && factor <= 1024,
            "{}: '{}': a knob use is $name or $name*F with F an integer from 1 to 1024", where.where(), text);
  return factor;
}

KnobUse knob_use(const config::Value& v) {
  if (v.kind() != config::Value::Kind::String) return {};
  const std::string& s = v.as_string();
  if (s.size() < 2 || s[0] != '$') return {};
  const size_t star = s.find('*');
  return {s.substr(1, star == std::string::npos ? std::string::npos : star - 1), use_factor(s, star, v)};
}

std::string knob_names(const config::Value& knobs) {
  std::string out;
  for (const auto& [name, knob] : knobs.as_map()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// {value, options, at} from an integer or a map.
config::Value normal_form(const std::string& name, const config::Value& knob) {
  config::Value k = config::Value::map();
  if (knob.kind() == config::Value::Kind::Int) {
    k.set("value", knob);
    k.set("options", config::Value::list());
  } else {
    MAD_CHECK(knob.is_map() && knob.contains("value"),
              "{}: knob '{}' is an integer or {{value: N, options: [N, ...]}}, got {}", knob.where(), name, knob.describe());
    knob.check_keys({"value", "options", "at"}, "wiring knob");
    knob.at("value").as_int();
    k.set("value", knob.at("value"));
    config::Value options = config::Value::list();
    const config::Value* given = knob.find("options");
    if (given && given->is_map()) {  // {from, to, step}: a range
      given->check_keys({"from", "to", "step"}, "knob options range");
      const int64_t from = given->get<int64_t>("from"), to = given->get<int64_t>("to"), step = given->get<int64_t>("step", 1);
      MAD_CHECK(step >= 1 && from <= to && (to - from) / step < 100000,
                "{}: knob '{}': options {{from: {}, to: {}, step: {}}} must have step >= 1, from <= to and at most "
                "100,000 values", given->where(), name, from, to, step);
      for (int64_t v = from; v <= to; v += step) options.push_back(config::Value(v));
    } else if (given) {
      for (const config::Value& o : given->as_list()) options.push_back(config::Value(o.as_int()));
    }
    k.set("options", options);
    if (knob.contains("at")) k.set("at", knob.at("at"));
  }
  return k;
}

}  // namespace

void apply_wiring_knobs(config::Value& wiring) {
  if (!wiring.contains("knobs") || wiring.at("knobs").is_null()) return;
  const config::Value& given = wiring.at("knobs");
  MAD_CHECK(given.is_map(), "{}: knobs is a map from knob name to an integer or {{value, options}}, got {}",
            given.where(), given.describe());
  config::Value knobs = config::Value::map();
  for (const auto& [name, knob] : given.as_map()) knobs.set(name, normal_form(name, knob));
  config::Value nodes = wiring.at("nodes");
  // First resolution: find the "$name" settings and record them.
  std::map<std::string, config::Value> uses;
  for (const auto& [node_name, node] : nodes.as_map()) {
    if (!node.is_map()) continue;
    for (const auto& [key, value] : node.as_map()) {
      const KnobUse use = knob_use(value);
      if (use.name.empty()) continue;
      MAD_CHECK(knobs.contains(use.name), "{}: node '{}' uses knob '{}', which is not defined; knobs: {}",
                value.where(), node_name, use.name, given.as_map().empty() ? std::string("none") : knob_names(given));
      const std::string place = node_name + "." + key;
      uses[use.name].push_back(config::Value(use.factor == 1 ? place : fmt::format("{}*{}", place, use.factor)));
    }
  }
  for (const auto& [name, knob] : knobs.as_map()) {
    config::Value k = knob;
    if (!k.contains("at")) {
      MAD_CHECK(uses.contains(name), "{}: knob '{}' is never used: write ${} in a node setting, or remove it",
                given.at(name).where(), name, name);
      k.set("at", uses[name]);
    }
    // Write the value wherever the knob is used ("node.key", or "node.key*F": the value times F).
    const int64_t value = k.get<int64_t>("value");
    for (const config::Value& place : k.at("at").as_list()) {
      const std::string& p = place.as_string();
      const size_t dot = p.find('.'), star = p.find('*');
      MAD_CHECK(dot != std::string::npos && dot < star && nodes.contains(p.substr(0, dot)),
                "{}: knob '{}' is used at '{}', which is not a node setting", place.where(), name, p);
      const int64_t factor = use_factor(p, star, place);
      int64_t written = 0;
      MAD_CHECK(!__builtin_mul_overflow(value, factor, &written), "{}: knob '{}': {} x {} at '{}' overflows",
                place.where(), name, value, factor, p);
      config::Value node = nodes.at(p.substr(0, dot));
      node.set(p.substr(dot + 1, star == std::string::npos ? std::string::npos : star - dot - 1),
               factor == 1 ? k.at("value") : config::Value(written));
      nodes.set(p.substr(0, dot), node);
    }
    knobs.set(name, k);
  }
  wiring.set("nodes", nodes);
  wiring.set("knobs", knobs);
}

std::vector<config::Value> wiring_knob_options(const config::Value& wiring, size_t limit) {
  std::vector<config::Value> combined = {wiring};
  if (!wiring.contains("knobs") || wiring.at("knobs").is_null()) return {};
  for (const auto& [name, knob] : wiring.at("knobs").as_map()) {
    const std::vector<int64_t> options = knob.get<std::vector<int64_t>>("options");
    const int64_t current = knob.get<int64_t>("value");
    const size_t n = combined.size();
    for (int64_t o : options) {
      if (o == current) continue;
      for (size_t i = 0; i < n && combined.size() < limit + 1; ++i) {
        config::Value c = combined[i];
        config::Value knobs = c.at("knobs");
        config::Value k = knobs.at(name);
        k.set("value", config::Value(o));
        knobs.set(name, k);
        c.set("knobs", knobs);
        apply_wiring_knobs(c);
        combined.push_back(std::move(c));
      }
    }
  }
  combined.erase(combined.begin());
  return combined;
}

}  // namespace mad::models
