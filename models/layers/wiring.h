// Wirings of Neural Circuit Policies (shared/docs/layers.md D.4) for the cfc and ltc layers: which neuron
// feeds which, with a polarity, generated from our own seeded generator (core/rng.h).
//
// A wiring over `units` neurons and `sensory` inputs is two signed adjacency matrices, entries 0 (no
// synapse), +1 (excitatory) or -1 (inhibitory):
//   adjacency          [units, units]    row = source neuron, column = target neuron
//   sensory_adjacency  [sensory, units]  row = input feature, column = target neuron
// Neuron ids [0, motor) are the motor (output) neurons. `layers` lists the neuron ids of each layer from
// the input side (NCP: inter, command, motor; one layer of every neuron otherwise); a wired CfC runs one
// cell per layer. The masks are statistically equivalent to the reference's numpy ones, not identical
// (their sampling sequences are numpy's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/value.h"
#include "core/ops.h"

namespace mad::models {

struct Wiring {
  std::string kind;  // dense | random | ncp | autoncp
  int64_t units = 0, sensory = 0, motor = 0;
  std::vector<int8_t> adjacency, sensory_adjacency;
  std::vector<std::vector<int64_t>> layers;

  int8_t synapse(int64_t source, int64_t target) const { return adjacency[static_cast<size_t>(source * units + target)]; }
  int8_t sensory_synapse(int64_t input, int64_t target) const {
    return sensory_adjacency[static_cast<size_t>(input * units + target)];
  }
  int64_t synapse_count() const;
  int64_t sensory_synapse_count() const;
};

// The explicit NCP sizes (layers.md D.4); AutoNCP derives them from units, motor and sparsity.
struct NcpSizes {
  int64_t inter = 0, command = 0, motor = 0;
  int64_t sensory_fanout = 0, inter_fanout = 0, recurrent_command_synapses = 0, motor_fanin = 0;
};

// Every pair connected (self-connections included), polarity -1 with probability 1/3 (FullyConnected).
Wiring fully_connected_wiring(int64_t units, int64_t motor, int64_t sensory, uint64_t seed);
// round(units^2 (1 - sparsity)) synapses and round(sensory units (1 - sparsity)) sensory synapses drawn
// without replacement, polarity as above (Random).
Wiring random_wiring(int64_t units, int64_t motor, int64_t sensory, double sparsity, uint64_t seed);
// sensory -> inter -> command (with command -> command recurrence) -> motor, polarity +-1 uniform (NCP).
Wiring ncp_wiring(const NcpSizes& sizes, int64_t sensory, uint64_t seed);
// command = max(int(0.4 (units - motor)), 1), inter = the rest; fan-outs from density 1 - sparsity (AutoNCP).
NcpSizes auto_ncp_sizes(int64_t units, int64_t motor, double sparsity);

// The wiring a cfc / ltc layer's configuration asks for (keys wiring, units, motor_units, sparsity, ncp_*,
// wiring_seed; see configs/layers/ltc.yml), over `sensory` inputs. Bad settings are one-line errors
// naming the key.
Wiring wiring_from_config(const config::Value& c, int64_t sensory);
// The number of output (motor) neurons the configuration gives, without building the masks.
int64_t wiring_motor(const config::Value& c);

// `values` (row-major, one per element of `shape`) as a constant on `tape` in `dtype`: arena memory, no
// gradient. The layers use it for their fixed 0/1 masks.
Var constant_from(Tape& tape, const std::vector<double>& values, const Shape& shape, DType dtype);

}  // namespace mad::models
