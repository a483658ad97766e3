#include "models/layers/wiring.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/budget.h"
#include "core/error.h"
#include "core/rng.h"

namespace mad::models {
namespace {

// `k` distinct values of [0, n) in random order (a partial Fisher-Yates shuffle).
std::vector<int64_t> sample_distinct(Rng& rng, int64_t n, int64_t k) {
  std::vector<int64_t> pool(static_cast<size_t>(n));
  std::iota(pool.begin(), pool.end(), int64_t{0});
  for (int64_t i = 0; i < k; ++i) std::swap(pool[static_cast<size_t>(i)], pool[static_cast<size_t>(rng.randint(i, n))]);
  pool.resize(static_cast<size_t>(k));
  return pool;
}

int8_t two_thirds_excitatory(Rng& rng) { return rng.below(3) == 0 ? int8_t{-1} : int8_t{1}; }
int8_t either_polarity(Rng& rng) { return rng.below(2) == 0 ? int8_t{-1} : int8_t{1}; }

Wiring empty_wiring(const char* kind, int64_t units, int64_t motor, int64_t sensory) {
  Wiring w;
  w.kind = kind;
  w.units = units;
  w.motor = motor;
  w.sensory = sensory;
  // One byte per possible synapse: checked before it is allocated (a fuzzed dim of 2.8e11 asked for 18 TB).
  const int64_t bytes = checked_mul(checked_add(units, sensory, "wiring inputs + units"), units, "wiring synapses");
  check_memory(bytes, fmt::format("the {} wiring of {} inputs x {} units", kind, sensory, units),
               "reduce the projection's dim or width, or raise --max-memory");
  w.adjacency.assign(static_cast<size_t>(units * units), 0);
  w.sensory_adjacency.assign(static_cast<size_t>(sensory * units), 0);
  std::vector<int64_t> all(static_cast<size_t>(units));
  std::iota(all.begin(), all.end(), int64_t{0});
  w.layers = {all};
  return w;
}

int64_t count_nonzero(const std::vector<int8_t>& a) {
  return std::count_if(a.begin(), a.end(), [](int8_t x) { return x != 0; });
}

}  // namespace

int64_t Wiring::synapse_count() const { return count_nonzero(adjacency); }
int64_t Wiring::sensory_synapse_count() const { return count_nonzero(sensory_adjacency); }

Wiring fully_connected_wiring(int64_t units, int64_t motor, int64_t sensory, uint64_t seed) {
  Wiring w = empty_wiring("dense", units, motor, sensory);
  Rng rng(seed);
  for (auto& a : w.adjacency) a = two_thirds_excitatory(rng);
  for (auto& a : w.sensory_adjacency) a = two_thirds_excitatory(rng);
  return w;
}

Wiring random_wiring(int64_t units, int64_t motor, int64_t sensory, double sparsity, uint64_t seed) {
  Wiring w = empty_wiring("random", units, motor, sensory);
  Rng rng(seed);
  const auto draw = [&](std::vector<int8_t>& a) {
    const auto n = static_cast<int64_t>(a.size());
    const auto k = static_cast<int64_t>(std::llround(static_cast<double>(n) * (1.0 - sparsity)));
    for (int64_t s : sample_distinct(rng, n, k)) a[static_cast<size_t>(s)] = two_thirds_excitatory(rng);
  };
  draw(w.adjacency);
  draw(w.sensory_adjacency);
  return w;
}

Wiring ncp_wiring(const NcpSizes& n, int64_t sensory, uint64_t seed) {
  Wiring w = empty_wiring("ncp", n.inter + n.command + n.motor, n.motor, sensory);
  // Neuron ids: [0, motor) motor, then command, then inter (as the reference numbers them).
  auto ids = [](int64_t begin, int64_t count) {
    std::vector<int64_t> v(static_cast<size_t>(count));
    std::iota(v.begin(), v.end(), begin);
    return v;
  };
  const std::vector<int64_t> motor = ids(0, n.motor), command = ids(n.motor, n.command),
                             inter = ids(n.motor + n.command, n.inter);
  w.layers = {inter, command, motor};
  Rng rng(seed);
  auto connect = [&](int64_t source, int64_t target) { w.adjacency[static_cast<size_t>(source * w.units + target)] = either_polarity(rng); };
  auto pick = [&](const std::vector<int64_t>& from, int64_t k) {
    std::vector<int64_t> chosen = sample_distinct(rng, static_cast<int64_t>(from.size()), k);
    for (auto& c : chosen) c = from[static_cast<size_t>(c)];
    return chosen;
  };
  // Neurons a stage left without a synapse get about the mean fan-in from random sources, at least one and
  // at most all of them.
  auto mean_fan = [](int64_t sources, int64_t fanout, int64_t targets, int64_t limit) {
    return std::clamp<int64_t>(sources * fanout / targets, 1, limit);
  };

  // 1. every sensory input -> sensory_fanout distinct inter neurons.
  std::vector<bool> reached(static_cast<size_t>(w.units), false);
  for (int64_t s = 0; s < sensory; ++s)
    for (int64_t t : pick(inter, n.sensory_fanout)) {
      w.sensory_adjacency[static_cast<size_t>(s * w.units + t)] = either_polarity(rng);
      reached[static_cast<size_t>(t)] = true;
    }
  const int64_t inter_fanin = mean_fan(sensory, n.sensory_fanout, n.inter, sensory);
  std::vector<int64_t> sensory_ids = ids(0, sensory);
  for (int64_t t : inter)
    if (!reached[static_cast<size_t>(t)])
      for (int64_t s : pick(sensory_ids, inter_fanin)) w.sensory_adjacency[static_cast<size_t>(s * w.units + t)] = either_polarity(rng);

  // 2. every inter neuron -> inter_fanout distinct command neurons.
  for (int64_t s : inter)
    for (int64_t t : pick(command, n.inter_fanout)) {
      connect(s, t);
      reached[static_cast<size_t>(t)] = true;
    }
  const int64_t command_fanin = mean_fan(n.inter, n.inter_fanout, n.command, n.inter);
  for (int64_t t : command)
    if (!reached[static_cast<size_t>(t)])
      for (int64_t s : pick(inter, command_fanin)) connect(s, t);

  // 3. recurrent command -> command synapses (with replacement; a later draw overwrites the polarity).
  for (int64_t i = 0; i < n.recurrent_command_synapses; ++i) {
    const int64_t s = command[static_cast<size_t>(rng.below(static_cast<uint64_t>(n.command)))];
    const int64_t t = command[static_cast<size_t>(rng.below(static_cast<uint64_t>(n.command)))];
    connect(s, t);
  }

  // 4. every motor neuron <- motor_fanin distinct command neurons; command neurons without a motor target
  // get some.
  std::vector<bool> has_target(static_cast<size_t>(w.units), false);
  for (int64_t t : motor)
    for (int64_t s : pick(command, n.motor_fanin)) {
      connect(s, t);
      has_target[static_cast<size_t>(s)] = true;
    }
  const int64_t command_fanout = mean_fan(n.motor, n.motor_fanin, n.command, n.motor);
  for (int64_t s : command)
    if (!has_target[static_cast<size_t>(s)])
      for (int64_t t : pick(motor, command_fanout)) connect(s, t);
  w.kind = "ncp";
  return w;
}

NcpSizes auto_ncp_sizes(int64_t units, int64_t motor, double sparsity) {
  const double density = 1.0 - sparsity;
  NcpSizes n;
  n.motor = motor;
  n.command = std::max<int64_t>(static_cast<int64_t>(0.4 * static_cast<double>(units - motor)), 1);
  n.inter = units - motor - n.command;
  n.sensory_fanout = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(n.inter) * density), 1);
  n.inter_fanout = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(n.command) * density), 1);
  n.recurrent_command_synapses = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(n.command) * density * 2), 1);
  n.motor_fanin = std::max<int64_t>(static_cast<int64_t>(static_cast<double>(n.command) * density), 1);
  return n;
}

int64_t wiring_motor(const config::Value& c) {
  const int64_t units = c.get<int64_t>("units"), motor = c.get<int64_t>("motor_units");
  const std::string kind = c.get<std::string>("wiring");
  MAD_CHECK(units >= 1, "{}: units must be >= 1, got {}", c.at("units").where(), units);
  MAD_CHECK(motor >= 0 && motor <= units, "{}: motor_units must be in [0, units = {}] (0: every unit is an output), got {}",
            c.at("motor_units").where(), units, motor);
  MAD_CHECK(motor > 0 || kind == "dense" || kind == "random",
            "{}: wiring {} needs motor_units > 0 (its output neurons)", c.at("motor_units").where(), kind);
  return motor > 0 ? motor : units;
}

Wiring wiring_from_config(const config::Value& c, int64_t sensory) {
  const std::string kind = c.get<std::string>("wiring");
  MAD_CHECK(kind == "dense" || kind == "random" || kind == "ncp" || kind == "autoncp",
            "{}: wiring must be dense, random, ncp or autoncp, got '{}'", c.at("wiring").where(), kind);
  const int64_t units = c.get<int64_t>("units"), motor = wiring_motor(c);
  const double sparsity = c.get<double>("sparsity");
  const auto seed = static_cast<uint64_t>(c.get<int64_t>("wiring_seed"));
  if (kind == "dense") return fully_connected_wiring(units, motor, sensory, seed);
  if (kind == "random") {
    MAD_CHECK(sparsity >= 0 && sparsity < 1, "{}: sparsity must be in [0, 1) for random wiring, got {}",
              c.at("sparsity").where(), sparsity);
    return random_wiring(units, motor, sensory, sparsity, seed);
  }
  NcpSizes n;
  if (kind == "autoncp") {
    MAD_CHECK(motor < units - 2, "{}: autoncp needs motor_units < units - 2 = {}, got {}", c.at("motor_units").where(),
              units - 2, motor);
    MAD_CHECK(sparsity >= 0.1 && sparsity <= 1.0, "{}: sparsity must be in [0.1, 1] for autoncp, got {}",
              c.at("sparsity").where(), sparsity);
    n = auto_ncp_sizes(units, motor, sparsity);
  } else {
    n = {c.get<int64_t>("ncp_inter"),          c.get<int64_t>("ncp_command"),
         motor,                                c.get<int64_t>("ncp_sensory_fanout"),
         c.get<int64_t>("ncp_inter_fanout"),   c.get<int64_t>("ncp_recurrent_command_synapses"),
         c.get<int64_t>("ncp_motor_fanin")};
    MAD_CHECK(n.inter >= 1 && n.command >= 1 && n.inter + n.command + n.motor == units,
              "{}: ncp needs ncp_inter >= 1, ncp_command >= 1 and ncp_inter + ncp_command + motor_units = units ({}), "
              "got {} + {} + {}",
              c.at("units").where(), units, n.inter, n.command, n.motor);
    MAD_CHECK(n.sensory_fanout >= 1 && n.sensory_fanout <= n.inter,
              "{}: ncp_sensory_fanout must be in [1, ncp_inter = {}], got {}", c.at("ncp_sensory_fanout").where(),
              n.inter, n.sensory_fanout);
    MAD_CHECK(n.inter_fanout >= 1 && n.inter_fanout <= n.command,
              "{}: ncp_inter_fanout must be in [1, ncp_command = {}], got {}", c.at("ncp_inter_fanout").where(),
              n.command, n.inter_fanout);
    MAD_CHECK(n.motor_fanin >= 1 && n.motor_fanin <= n.command,
              "{}: ncp_motor_fanin must be in [1, ncp_command = {}], got {}", c.at("ncp_motor_fanin").where(), n.command,
              n.motor_fanin);
    MAD_CHECK(n.recurrent_command_synapses >= 0, "{}: ncp_recurrent_command_synapses must be >= 0, got {}",
              c.at("ncp_recurrent_command_synapses").where(), n.recurrent_command_synapses);
  }
  Wiring w = ncp_wiring(n, sensory, seed);
  w.kind = kind;
  return w;
}

Var constant_from(Tape& tape, const std::vector<double>& values, const Shape& shape, DType dtype) {
  MAD_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "constant_from: {} values for shape {}", values.size(),
            shape.str());
  Tensor t = tape.alloc(shape, dtype);
  dispatch_float(dtype, "constant_from", [&]<typename T_>() {
    T_* p = t.data<T_>();
    for (size_t j = 0; j < values.size(); ++j) p[j] = static_cast<T_>(values[j]);
  });
  return tape.constant(t);
}

}  // namespace mad::models
