// moe-mlp: the reference's mixture-of-experts MLP, x [B, T, D] -> [B, T, D]. With E experts of width F:
//   h = up1 x * gelu_tanh(up2 x)                  [B, T, F*E]   (up1, up2: D -> F*E)
//   z = down h viewed as [B, T, D, E]             (down: F*E -> D*E, dense; channel c -> (c / E, c % E))
//   w = router(x)                                 [B, T, E]     (top-k softmax, models/layers/router.h)
//   out = sum_e w_e z[..., e]
// As in the reference, every expert is computed for every token (the experts share the dense up and down
// projections, so "expert e" is only the e-th slice of down's outputs), and by default the router zeroes
// rather than masks the logits outside the top-k, so all experts keep some weight (router_fill).
#include <algorithm>

#include "models/layers/config_checks.h"
#include "models/layers/router.h"
#include "models/registry.h"

namespace mad::models {
namespace {

struct MoeShape {
  int64_t dim, width, experts, active;
};

MoeShape moe_shape(const config::Value& c) {
  MoeShape s{};
  s.dim = c.get<int64_t>("dim");
  s.width = c.get<int64_t>("dim_inner");
  MAD_CHECK(s.width >= 1, "{}: dim_inner (the width of one expert) must be >= 1, got {}", c.at("dim_inner").where(),
            s.width);
  s.experts = int_at_least(c, "num_experts", 1);
  s.active = c.get<int64_t>("active_experts");
  MAD_CHECK(s.active >= 1 && s.active <= s.experts, "{}: active_experts must be in [1, num_experts = {}], got {}",
            c.at("active_experts").where(), s.experts, s.active);
  return s;
}

class MoeMlp : public Layer {
 public:
  MoeMlp(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(moe_shape(c)) {
    const MoeShape& m = shape_;
    const bool bias = c.get<bool>("bias");
    up1_ = Linear(s.sub("up1"), m.dim, m.width * m.experts, bias, ctx);
    up2_ = Linear(s.sub("up2"), m.dim, m.width * m.experts, bias, ctx);
    down_ = Linear(s.sub("down"), m.width * m.experts, m.dim * m.experts, bias, ctx);
    router_ = TopKRouter(s.sub("router"), m.dim, m.experts, m.active, router_fill(c), ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), D = shape_.dim, E = shape_.experts;
    Var z = down_(tape, up1_(tape, x) * gelu_tanh(up2_(tape, x)));  // [B, T, D*E]
    Var w = router_(tape, x);                                         // [B, T, E]
    return sum(reshape(z, {B, T, D, E}) * reshape(w, {B, T, 1, E}), -1);
  }

 private:
  MoeShape shape_;
  Linear up1_, up2_, down_;
  TopKRouter router_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<MoeMlp>(c, s, ctx);
}
StateSize no_state(const config::Value&, const BuildContext&) { return {0, true}; }

// Size knobs: the expert width and the number of experts (active_experts kept, capped at num_experts).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  const int64_t active = c.get<int64_t>("active_experts");
  std::vector<config::Value> options;
  for (int64_t experts : {2, 4, 8, 16})
    for (int64_t width : {4, 8, 12, 16, 24, 32, 48, 64}) {
      config::Value o = c;
      o.set("num_experts", config::Value(experts));
      o.set("dim_inner", config::Value(width));
      o.set("active_experts", config::Value(std::min(active, experts)));
      options.push_back(std::move(o));
    }
  return options;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  LayerEntry moe{"moe-mlp", "mlp", false, "mixture-of-experts MLP: 8 experts of 16, top-2 router (zeroed logits)",
                 &build, &no_state, nullptr, &size_options};
  moe.small_test_overrides = "{dim_inner: 2}";  // 8 experts of 2 (16 in all) for the finite differences
  r.add(std::move(moe));
}

}  // namespace mad::models
