#include "models/projection_mask.h"

#include <memory>

#include "models/layers/wiring.h"

namespace mad::models {

ProjectionMask projection_mask(const config::Value& w, int64_t in, int64_t out) {
  MAD_CHECK(w.is_map(), "{}: wiring is a map {{kind: dense|random|ncp|autoncp, sparsity, polarity, seed}}, got {}",
            w.where(), w.describe());
  w.check_keys({"kind", "sparsity", "polarity", "seed"}, "projection wiring");
  const std::string kind = w.get<std::string>("kind", "random");
  const double sparsity = w.get<double>("sparsity", 0.5);
  const bool polarity = w.get<bool>("polarity", false);
  const auto seed = static_cast<uint64_t>(w.get<int64_t>("seed", 1));
  MAD_CHECK(sparsity >= 0 && sparsity < 1, "{}: sparsity must be in [0, 1), got {}",
            w.contains("sparsity") ? w.at("sparsity").where() : w.where(), sparsity);
  Wiring g;
  int64_t first = 0;  // the neuron id of output 0
  if (kind == "dense") {
    g = fully_connected_wiring(out, out, in, seed);
  } else if (kind == "random") {
    g = random_wiring(out, out, in, sparsity, seed);
  } else if (kind == "ncp" || kind == "autoncp") {
    NcpSizes n;
    n.inter = out;
    n.command = 1;
    n.motor = 1;
    n.sensory_fanout = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(out) * (1.0 - sparsity)), 1);
    n.inter_fanout = n.recurrent_command_synapses = n.motor_fanin = 1;
    g = ncp_wiring(n, in, seed);
    first = n.motor + n.command;
  } else {
    fail(fmt::format("{}: unknown wiring kind '{}'; use dense, random, ncp or autoncp",
                     w.contains("kind") ? w.at("kind").where() : w.where(), kind));
  }
  ProjectionMask m;
  m.in_ = in;
  m.out_ = out;
  m.values_.assign(static_cast<size_t>(in * out), 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      const int8_t s = g.sensory_synapse(i, first + o);
      m.values_[static_cast<size_t>(o * in + i)] = polarity ? static_cast<double>(s) : (s != 0 ? 1.0 : 0.0);
    }
  return m;
}

namespace {

std::string joined(std::span<const std::string> names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void check_layer_wiring(const config::Value& w, std::string_view layer, std::span<const std::string> projections) {
  MAD_CHECK(w.is_map(),
            "{}: wiring on '{}' is a map: {{kind: random, sparsity: 0.5}} for all of its projections ({}), or "
            "{{PROJECTION: {{kind: ...}}}} per projection; got {}",
            w.where(), layer, joined(projections), w.describe());
  if (w.contains("kind")) return;  // one setting for all; projection_mask checks its keys
  for (const auto& [name, spec] : w.as_map()) {
    bool known = false;
    for (const std::string& p : projections) known = known || p == name;
    MAD_CHECK(known, "{}: '{}' has no projection '{}' to mask; its projections are {}", spec.where(), layer, name,
              joined(projections));
  }
}

ProjectionMask layer_projection_mask(const config::Value& c, std::string_view name, int64_t in, int64_t out,
                                     std::span<const std::string> projections) {
  if (!c.contains("wiring") || c.at("wiring").is_null()) return {};
  const config::Value& w = c.at("wiring");
  if (!w.contains("kind")) return w.contains(std::string(name)) ? projection_mask(w.at(std::string(name)), in, out) : ProjectionMask{};
  int64_t index = 0;
  while (index < static_cast<int64_t>(projections.size()) && projections[static_cast<size_t>(index)] != name) ++index;
  MAD_CHECK(index < static_cast<int64_t>(projections.size()), "layer_projection_mask: '{}' is not among {}", name,
            joined(projections));
  config::Value spec = w;
  spec.set("seed", config::Value(w.get<int64_t>("seed", 1) + index));
  return projection_mask(spec, in, out);
}

Var ProjectionMask::on(Tape& tape, DType dtype) const { return constant_from(tape, values_, Shape{out_, in_}, dtype); }

Init ProjectionMask::applied_to(Init init) const {
  if (!empty()) init.zero_mask = std::make_shared<const std::vector<double>>(values_);
  return init;
}

int64_t ProjectionMask::zeros() const {
  int64_t n = 0;
  for (double v : values_) n += v == 0;
  return n;
}

}  // namespace mad::models
