// Channel mixers: mlp and swiglu (the reference's Mlp and SwiGLU). No state between tokens.
#include <algorithm>

#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

// y = W2 gelu_tanh(W1 x); parameter names fc.*, proj.* as in the reference.
class Mlp : public Layer {
 public:
  Mlp(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const int64_t dim = c.get<int64_t>("dim");
    const config::Value& inner_v = c.at("dim_inner");
    const int64_t inner = inner_v.is_null() ? 4 * dim : inner_v.as_int();
    MAD_CHECK(inner > 0, "{}: mlp dim_inner must be positive, got {}", inner_v.where(), inner);
    const bool bias = c.get<bool>("bias");
    fc_ = Linear(s.sub("fc"), dim, inner, bias, ctx);
    proj_ = Linear(s.sub("proj"), inner, dim, bias, ctx);
  }
  Var forward(Tape& tape, Var x) const override { return proj_(tape, gelu_tanh(fc_(tape, x))); }

 private:
  Linear fc_, proj_;
};

// y = W3 (silu(W1 x) * W2 x); inner = multiple_of * ceil(int(2 * dim * 4 / 3) / multiple_of).
class SwiGlu : public Layer {
 public:
  SwiGlu(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const int64_t dim = c.get<int64_t>("dim");
    const int64_t multiple = c.get<int64_t>("multiple_of");
    MAD_CHECK(multiple > 0, "{}: swiglu multiple_of must be positive", c.at("multiple_of").where());
    const int64_t inner = multiple * ((2 * dim * 4 / 3 + multiple - 1) / multiple);
    const bool bias = c.get<bool>("bias");
    w1_ = Linear(s.sub("w1"), dim, inner, bias, ctx);
    w2_ = Linear(s.sub("w2"), dim, inner, bias, ctx);
    w3_ = Linear(s.sub("w3"), inner, dim, bias, ctx);
  }
  // silu(W1 x) * W2 x through the fused gate (core/ops_fused.cpp): one pass instead of two ops.
  Var forward(Tape& tape, Var x) const override { return w3_(tape, swiglu_gate(w1_(tape, x), w2_(tape, x))); }

 private:
  Linear w1_, w2_, w3_;
};

template <typename L>
std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<L>(c, s, ctx);
}
StateSize no_state(const config::Value&, const BuildContext&) { return {0, true}; }

// Hidden widths for iso-parameter matching: multiples of dim/32 up to 16 * dim (4 at D = 128, so a step
// changes the parameters by about 1% of a MAD model's).
std::vector<int64_t> hidden_widths(int64_t dim, int64_t at_least) {
  const int64_t step = std::max<int64_t>(1, dim / 32);
  std::vector<int64_t> out;
  for (int64_t w = (at_least + step - 1) / step * step; w <= 16 * dim; w += step) out.push_back(std::max(w, step));
  return out;
}

std::vector<config::Value> mlp_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  for (int64_t w : hidden_widths(ctx.dim, 1)) {
    out.push_back(c);
    out.back().set("dim_inner", config::Value(w));
  }
  return out;
}

// swiglu's only width knob is the reference's multiple_of: inner = multiple_of * ceil(int(8 dim / 3) /
// multiple_of), so multiple_of = w gives exactly w for any w >= int(8 dim / 3). It cannot narrow below that.
std::vector<config::Value> swiglu_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  for (int64_t w : hidden_widths(ctx.dim, 2 * ctx.dim * 4 / 3)) {
    out.push_back(c);
    out.back().set("multiple_of", config::Value(w));
  }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"mlp", "mlp", false, "two-layer perceptron with tanh-GELU: W2 gelu(W1 x)", &build<Mlp>, &no_state, nullptr,
         &mlp_options});
  r.add({"swiglu", "mlp", false, "SwiGLU: W3 (silu(W1 x) * W2 x)", &build<SwiGlu>, &no_state,
         nullptr, &swiglu_options});
}

}  // namespace mad::models
