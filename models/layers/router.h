// The top-k expert router of the reference's mixture-of-experts layers (moe-mlp, hyena-experts):
//   w = softmax(topk(router(x)))   [B, T, E],   router: Linear(D, E) with bias
// where topk keeps the `active` largest logits of each token and sets the others to
//   - 0 (RouterFill::zero, the reference's behaviour and the default): the softmax then gives every expert
//     some weight, exp(0) / sum, so the layer is dense and the "inactive" experts still get gradients;
//   - -inf (RouterFill::mask, the sparse top-k softmax the MoE papers describe): the other experts get
//     weight exactly 0.
#pragma once

#include <limits>
#include <string>

#include "models/registry.h"

namespace mad::models {

enum class RouterFill { zero, mask };

// Reads the `router_fill` key: zero (reference) or mask (paper).
inline RouterFill router_fill(const config::Value& c) {
  const std::string f = c.get<std::string>("router_fill");
  MAD_CHECK(f == "zero" || f == "mask",
            "{}: router_fill must be zero (the reference: logits outside the top-k set to 0) or mask (set to -inf, "
            "a sparse top-k softmax), got '{}'",
            c.at("router_fill").where(), f);
  return f == "zero" ? RouterFill::zero : RouterFill::mask;
}

class TopKRouter {
 public:
  TopKRouter() = default;
  TopKRouter(const ParamScope& s, int64_t dim, int64_t experts, int64_t active, RouterFill fill, const BuildContext& ctx)
      : proj_(s, dim, experts, true, ctx), active_(active), fill_(fill) {}

  // x [B, T, D] -> expert weights [B, T, E]
  Var operator()(Tape& tape, Var x) const {
    const double fill = fill_ == RouterFill::zero ? 0.0 : -std::numeric_limits<double>::infinity();
    return softmax(topk_mask(proj_(tape, x), active_, fill));
  }

 private:
  Linear proj_;
  int64_t active_ = 1;
  RouterFill fill_ = RouterFill::zero;
};

}  // namespace mad::models
