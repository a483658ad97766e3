// Fused ops of the liquid-network family (shared/docs/layers.md section D), declared apart from core/ops.h so
// that the family stays in its own files. Forward and backward are in core/ops_liquid.cpp.
#pragma once

#include <cstdint>

#include "core/ops.h"

namespace mad {

// The LTC cell's parameters as the solver uses them (kernels/ltc.h): w, sensory_w, cm and gleak already
// positive (softplus) and w, sensory_w already masked by the wiring. N neurons, S sensory inputs.
struct LtcParamVars {
  Var gleak, vleak, cm;         // [N]
  Var w, sigma, mu, erev;       // [N, N], row = source neuron
  Var sensory_w, sensory_sigma, sensory_mu, sensory_erev;  // [S, N]
};

// The LTC cell from v = 0 over input [B, T, S] -> v after every token [B, T, N], `unfolds` fused
// semi-implicit solver sub-steps of size dt / unfolds per token (layers.md D.3). Saves every sub-step's
// state [B, T*unfolds + 1, N]; backward is exact BPTT through the sub-steps. Batch elements are spread over
// threads; the parameter gradients are summed over a fixed split of the batch in a fixed order, so results
// do not depend on the thread count.
Var ltc(Var input, const LtcParamVars& p, int64_t unfolds, double dt = 1.0, double eps = 1e-8);

}  // namespace mad
