// Fused ops of the xLSTM family (shared/docs/layers.md sections A and B), declared apart from core/ops.h so
// that the family stays in its own files. Forward and backward of each op are in core/ops_xlstm.cpp.
#pragma once

#include <cstdint>

#include "core/ops.h"

namespace mad {

// Which form of the mLSTM cell computes the result (kernels/mlstm.h). All three give the same values up to
// rounding and eps * e^m-sized terms, and each has its own exact backward.
enum class MlstmKernel { parallel, chunkwise, recurrent };

// The mLSTM cell per (batch, head) from a zero state: q, k [B, T, H, Dk], v [B, T, H, Dv], input and forget
// gate pre-activations igate, fgate [B, T, H] -> h [B, T, H, Dv] (layers.md A.1; 1/sqrt(Dk) on the query,
// eps added outside the max of the normaliser). `chunk_size` is used by the chunkwise kernel only (any
// positive value; a last shorter chunk is allowed). Nothing is saved: backward replays the forward
// recurrence per slice (O(T Dk Dv) extra work, no O(T^2) or per-step state memory outside backward).
Var mlstm(Var q, Var k, Var v, Var igate, Var fgate, MlstmKernel kernel, int64_t chunk_size = 64,
          double eps = 1e-6);

// The sLSTM cell (layers.md B.1) from a zero state: gate pre-activations pre [B, T, 4*Hd] (gate-major i, f,
// z, o; then head; then unit; Hd = heads * DH), block-diagonal recurrent weights R [heads, DH, 4*DH] and
// bias [4*Hd] -> h [B, T, Hd]. Saves every state (h, c, n, m) [B, T+1, 4, Hd]; backward (B.2) is exact.
Var slstm(Var pre, Var R, Var bias);

}  // namespace mad
