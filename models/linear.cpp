#include "models/layer.h"

namespace mad::models {

Linear::Linear(const ParamScope& scope, int64_t in, int64_t out, bool bias, const BuildContext& ctx, Init weight_init)
    : in_(in), out_(out) {
  weight_ = scope.param("weight", {out, in}, ctx.linear_weight(weight_init));
  if (bias) bias_ = scope.param("bias", {out}, Init::zeros());
}

Var Linear::operator()(Tape& tape, Var x) const {
  Var y = matmul(x, weight_.on(tape), false, true);
  return bias_.defined() ? y + bias_.on(tape) : y;
}

}  // namespace mad::models
