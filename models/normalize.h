// Iso-state / iso-parameter normalisation (`mad normalize`, sweeps' iso_state / iso_params): choose each
// layer's size knobs so that the architecture's total fixed state equals a target N and, optionally, its
// parameter count (without the token embedding, as models/describe.h counts it) is close to a target P.
//
// Method. Every layer entry offers its current configuration plus LayerEntry::size_options (other valid
// configurations varying its size knobs); each option's state (LayerEntry::state) and parameter count
// (the layer built into a scratch parameter store) are evaluated at the model's shape. A search over the
// layers then picks one option per layer:
//   1. the total state closest to N (exactly N when some combination reaches it; below N wins a tie);
//   2. among those, with P given: a parameter count within half the tolerance of P (1%: every count inside
//      is as good, and the result is not at the tolerance's edge), or if none is, the closest;
//   3. then the least change from the original configuration (sum over layers of |ln(params'/params)| +
//      |ln((state'+1)/(state+1))|), so the state is not shifted between layers without need.
// Identical layers (same type and configuration) are first constrained to make identical choices; only
// when that cannot reach the state N exactly are they chosen independently.
//
// Limits. Layers whose state grows with the sequence (softmax attention without a window) cannot be
// normalised for state: they are left unchanged and their state is excluded from N (reported as
// `growing_state`); an architecture with no fixed-state layer at all is an error. Layers without
// size_options keep their configuration (their state still counts towards N). Some families reach only
// some totals (e.g. slstm's state is a multiple of dim): the closest reachable value is returned and
// `state_exact` is false. The parameter target is met within `params_tolerance` (2%) where the options allow;
// `params_within_tolerance` says whether it was.
#pragma once

#include <string>
#include <vector>

#include "models/arch_spec.h"
#include "models/backbone.h"

namespace mad::models {

// The shape the architecture is measured at: backbone, vocabulary and input length (parameters of the head
// and of length-dependent layers, such as hyena's filter positions, depend on them).
struct NormalizeShape {
  BackboneKind kind = BackboneKind::language_model;
  int64_t vocab_size = 16;
  int64_t seq_len = 128;
};

struct NormalizeTarget {
  int64_t state = 0;   // N > 0: total fixed state, floats per sequence
  int64_t params = 0;  // P > 0: parameters without embeddings; 0: no parameter target
  double params_tolerance = 0.02;
};

struct LayerChange {
  std::string type;
  int64_t state_before = 0, state_after = 0;
  int64_t params_before = 0, params_after = 0;
  bool growing = false;      // all its state grows with the sequence: left unchanged, excluded from N
  bool partly_growing = false;  // a group or wiring with an attention beside fixed-state parts: only those
                                // are counted (state_before/after) and resized
  bool has_options = true;   // false: the layer has no size_options and keeps its configuration
};

struct NormalizeResult {
  ArchSpec spec;                       // the normalised architecture (resolved configs)
  std::vector<LayerChange> layers;
  int64_t state_before = 0, state = 0;   // fixed-state layers only (what N counts)
  int64_t growing_state = 0;             // state of growing layers at seq_len, unchanged and not counted
  int64_t params_before = 0, params = 0; // without embeddings, as models::describe counts them
  bool state_exact = false;              // state == target.state
  bool params_within_tolerance = true;   // |params - P| <= tolerance * P (true without P)
  bool identical_choices = true;         // identical layers received identical configurations
};

// Throws mad::Error when target.state <= 0, target.params < 0, or no layer has fixed state.
NormalizeResult normalize(const ArchSpec& spec, const NormalizeShape& shape, const NormalizeTarget& target,
                          const LayerRegistry& registry = builtin_layers());

// A spec loadable by arch_from_config: dim, norm and each layer as its type plus the keys that differ from
// the layer's defaults.
config::Value to_compact_config(const ArchSpec& spec, const LayerRegistry& registry = builtin_layers());

// The same as YAML text: one flow map per layer entry.
std::string to_yaml(const ArchSpec& spec, const LayerRegistry& registry = builtin_layers());

// One line per layer and the totals: what changed and whether the targets were met.
std::string normalize_report(const NormalizeResult& result, const NormalizeTarget& target);

}  // namespace mad::models
