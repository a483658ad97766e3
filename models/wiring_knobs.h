// Knobs of a wiring entry (docs/graphs.md, "Knobs"): named integers that node settings use as "$name", so
// that one number sets several nodes (q's and k's width, the gates' width and the head norm's groups) and
// iso-state normalisation can vary them together as the C++ layer's size knobs:
//
//   knobs: {heads: {value: 4, options: [1, 2, 4, 8]}, qk: {value: 64, options: [32, 64, 96]}, v: 128}
//   nodes: {q: {type: linear, in: x, width: $qk}, igate_preact: {type: linear, in: x, width: $heads}, ...}
//
// A knob is an integer, or {value, options} with options a list or a range {from, to, step}; only a node's own settings (not nested maps, not `in`/`out`)
// may be "$name", or "$name*F" for the value times an integer F (1 to 1024; an up-projection twice the
// inner width). Resolution records where each knob is used (`at: [node.key, node.key*F, ...]`, part of the resolved
// configuration and so of the architecture hash) and writes its value there; a later change of `value`
// (what normalisation does) is written to the same places. An unknown or unused knob is a one-line error.
#pragma once

#include <vector>

#include "config/value.h"

namespace mad::models {

// Resolves the `knobs` of a wiring configuration in place: each knob to {value, options, at} and every
// "$name" setting of its nodes (or, for an already resolved configuration, every place in `at`) to the
// knob's value. A configuration without `knobs` is left as it is.
void apply_wiring_knobs(config::Value& wiring);

// The configurations with every other combination of the knobs' options (at most `limit`; the original
// combination left out), with the values written into the nodes; not yet re-resolved.
std::vector<config::Value> wiring_knob_options(const config::Value& wiring, size_t limit);

}  // namespace mad::models
