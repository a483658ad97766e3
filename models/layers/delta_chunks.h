// Pieces of the chunkwise delta-rule forms (models/layers/delta_net.cpp, rwkv7 in models/layers/rwkv.cpp):
// splitting the time axis into zero-padded chunks, and (I - L)^-1 for a strictly lower triangular L by forward
// substitution, the WY/UT step. Row i of the inverse X is
//   X_i = e_i + L[i, :i] X[:i]
// computed for all chunks (the leading axes) at once; the rows are [C]-wide, so the C - 1 steps copy little
// (solving for the right-hand sides directly would concatenate rows of their full width at every step).
#pragma once

#include <span>
#include <vector>

#include "core/ops.h"
#include "core/tape.h"
#include "models/layers/config_checks.h"

namespace mad::models {

// x [B, H, T, W] -> [B, H, n, C, W], n = ceil(T / C), the last chunk padded with zeros (zero keys, values, gates
// and log decays change nothing in these forms; the outputs of the padding are dropped).
inline Var to_chunks(Tape& tape, Var x, int64_t C) {
  const int64_t B = x.dim(0), H = x.dim(1), T = x.dim(2), W = x.dim(3), n = (T + C - 1) / C;
  if (n * C != T) {
    const Var parts[] = {x, tape.constant(tape.zeros(Shape({B, H, n * C - T, W}), x.dtype()))};
    x = concat(parts, 2);
  }
  return reshape(x, {B, H, n, C, W});
}

// Chunk c of x [B, H, n, C, W] as [B, H, C, W].
inline Var chunk_of(Var x, int64_t c) {
  return reshape(slice(x, 2, c, c + 1), {x.dim(0), x.dim(1), x.dim(3), x.dim(4)});
}

// The chunks' outputs, each [B, H, C, W], back to [B, H, T, W] without the padding.
inline Var join_chunks(std::span<const Var> outs, int64_t T) {
  Var o = concat(outs, 2);
  return o.dim(2) == T ? o : slice(o, 2, 0, T);
}

// The chunk_size setting of these layers: 1 to 256 (the inverse takes C sequential row steps); any size fits
// the sequence (to_chunks pads, and a chunk longer than T is cut to T by the caller).
inline int64_t chunk_size_setting(const config::Value& c) {
  const int64_t chunk = int_at_least(c, "chunk_size", 1);
  MAD_CHECK(chunk <= 256, "{}: chunk_size must be at most 256 (the triangular solve is done row by row), got {}",
            c.at("chunk_size").where(), chunk);
  return chunk;
}

// The identity [C, C] as a constant of the step (arena memory).
inline Var identity_constant(Tape& tape, int64_t C, DType dtype) {
  Tensor eye = tape.zeros(Shape({C, C}), dtype);
  for (int64_t i = 0; i < C; ++i) {
    if (dtype == DType::F64) eye.data<double>()[i * C + i] = 1.0;
    else eye.data<float>()[i * C + i] = 1.0f;
  }
  return tape.constant(eye);
}

// M [..., C, C]: only the entries below the diagonal are read. `rows` is the caller's scratch (a member, so
// that steps after the first allocate nothing). Returns X [..., C, C].
inline Var unit_lower_inverse(Tape& tape, Var M, std::vector<Var>& rows) {
  const int rank = M.shape().rank();
  const int64_t C = M.dim(rank - 1);
  Var identity = identity_constant(tape, C, M.dtype());
  rows.assign(1, slice(M, rank - 2, 0, 1) * 0.0 + slice(identity, 0, 0, 1));  // [..., 1, C]
  for (int64_t i = 1; i < C; ++i) {
    Var below = slice(slice(M, rank - 2, i, i + 1), rank - 1, 0, i);          // [..., 1, i]
    Var known = concat(std::span<const Var>(rows), rank - 2);                 // [..., i, C]
    rows.push_back(slice(identity, 0, i, i + 1) + matmul(below, known));
  }
  return concat(std::span<const Var>(rows), rank - 2);
}

}  // namespace mad::models
