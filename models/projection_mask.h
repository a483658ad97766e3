// NCPS wiring masks on projections (docs/graphs.md, "Wiring masks"): a fixed 0/1 mask, or with polarity a
// fixed -1/0/+1 sign pattern, multiplied into a Linear weight [out, in]. Built from the cfc/ltc wiring
// generators (models/layers/wiring.h) with the `in` features as sensory inputs and the `out` features as
// the neurons they reach:
//   dense    every synapse (polarity: -1 with probability 1/3, as FullyConnected)
//   random   round(in out (1 - sparsity)) synapses drawn without replacement (Random)
//   ncp, autoncp  the sensory -> inter stage of an NCP whose inter neurons are the `out` features: every
//            input feeds max(int(out (1 - sparsity)), 1) distinct outputs, an output left without one gets
//            the mean fan-in (for one projection the two kinds are the same stage)
// Masked weights are initialised to zero and get exactly zero gradient (W_eff = W * M), so they stay zero
// under AdamW; the model's effective parameter count leaves them out (Init::masked_count).
//
//   wiring: {kind: dense|random|ncp|autoncp, sparsity: 0.5, polarity: false, seed: 1}
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/value.h"
#include "core/init.h"
#include "core/ops.h"

namespace mad::models {

class ProjectionMask {
 public:
  bool empty() const { return values_.empty(); }
  // The mask as a constant [out, in] on `tape` (arena memory, no gradient).
  Var on(Tape& tape, DType dtype) const;
  // w, or w * mask when there is one: the masked entries of w get exactly zero gradient.
  Var applied(Tape& tape, Var w) const { return empty() ? w : w * on(tape, w.dtype()); }
  // `init` with the mask's zeros fixed at zero.
  Init applied_to(Init init) const;
  int64_t zeros() const;
  const std::vector<double>& values() const { return values_; }

 private:
  friend ProjectionMask projection_mask(const config::Value& wiring, int64_t in, int64_t out);
  std::vector<double> values_;  // [out, in], row-major
  int64_t in_ = 0, out_ = 0;
};

// The mask a `wiring:` setting asks for, for a projection in -> out; bad settings are one-line errors naming
// the key and file:line.
ProjectionMask projection_mask(const config::Value& wiring, int64_t in, int64_t out);

// Masks on a registered layer's own projections (LayerEntry::masked_projections lists their parameter-scope
// names, e.g. q, k, v, igate_preact for mlstm, Wqkv and out_proj for attention). The layer's `wiring:` is
//   {kind: random, sparsity: 0.5, ...}     one setting for every listed projection; projection i draws with
//                                          seed + i, so that two projections of one shape get different masks
//   {q: {kind: ncp, ...}, v: {...}}        a setting per named projection; the others stay dense
// check_layer_wiring checks the form and the names (one-line errors with file:line listing the valid names);
// layer_projection_mask returns the mask of projection `name` (in -> out), empty when the layer config has
// no `wiring` or the setting leaves that projection out.
void check_layer_wiring(const config::Value& wiring, std::string_view layer, std::span<const std::string> projections);
ProjectionMask layer_projection_mask(const config::Value& layer_config, std::string_view name, int64_t in, int64_t out,
                                     std::span<const std::string> projections);

}  // namespace mad::models
