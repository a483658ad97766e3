#include "models/blocks/pieces.h"

namespace mad::models {

Var mlstm_cell(Var q, Var k, Var v, Var igate, Var fgate, MlstmKernel kernel, int64_t chunk, double eps) {
  const int64_t B = q.dim(0), T = q.dim(1), H = igate.dim(2);
  Var h = mlstm(reshape(q, {B, T, H, q.dim(2) / H}), reshape(k, {B, T, H, k.dim(2) / H}),
                reshape(v, {B, T, H, v.dim(2) / H}), igate, fgate, kernel, chunk, eps);  // [B, T, H, Dv]
  return reshape(h, {B, T, v.dim(2)});
}

}  // namespace mad::models
