// Per-op-kind wall time of a tape's forward and backward, for profiling a training step
// (`mad bench --profile`, docs/performance.md).
//
// A tape with a profile attached charges the time since its previous mark to each op as the op records
// its result (forward) and times each node's backward rule. Marks are set by reset(), leaf() and every
// record(), so a forward op is charged for its own computation plus any model glue code that ran since
// the last op (small: a few shape computations). Without a profile the tape pays one null check per op.
#pragma once

#include <array>
#include <cstdint>

#include "core/op_list.h"

namespace mad {

struct OpProfile {
  std::array<double, kNumOps> forward_seconds{};   // indexed by OpId
  std::array<double, kNumOps> backward_seconds{};
  std::array<int64_t, kNumOps> forward_calls{};
  std::array<int64_t, kNumOps> backward_calls{};

  void clear() { *this = OpProfile{}; }
};

}  // namespace mad
