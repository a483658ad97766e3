#include "models/layer.h"

namespace mad::models {

Linear::Linear(const ParamScope& scope, int64_t in, int64_t out, bool bias, const BuildContext& ctx, Init weight_init,
               ProjectionMask mask)
    : mask_(std::move(mask)), in_(in), out_(out) {
  weight_ = scope.param("weight", {out, in}, mask_.applied_to(ctx.linear_weight(weight_init)));
  if (bias) bias_ = scope.param("bias", {out}, Init::zeros());
}

// The fused op (core/ops_linalg.cpp): one pass over the result instead of a product and a bias add.
Var Linear::operator()(Tape& tape, Var x) const {
  return linear(x, mask_.applied(tape, weight_.on(tape)), bias_.defined() ? bias_.on(tape) : Var());
}

}  // namespace mad::models
