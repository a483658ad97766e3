// LFM2's short convolution `conv` (shared/docs/layers.md C.1, HF Lfm2ShortConv), x [B, T, D]:
//
//   [b | c | h] = in_proj(x)                   D -> 3D, split into three consecutive thirds in that order
//   p = b * h                                  input gate ("B-gating")
//   r[t, ch] = sum_j w[ch, j] p[t - K + 1 + j, ch]   depthwise causal convolution, K = L_cache (+ bias)
//   out = out_proj(c * r)                      output gate ("C-gating"), D -> D
//
// No nonlinearity inside: the two gates are the only input dependence. The LFM2 decoder layer's pre-norm,
// residual and SwiGLU feed-forward are the backbone's norm and the next layer (configs/architectures/
// lfm2-hybrid.yml). Step form: a FIFO of the last K - 1 gated inputs p per channel is the whole state.
// Initialisation: the backbone's Linear policy for the projections, PyTorch's Conv1d default U(+-1/sqrt(K))
// for the kernel (LFM2's HF port uses N(0, 0.02) everywhere; Liquid's training init is not published).
#include "models/registry.h"

namespace mad::models {
namespace {

struct ShortConvShape {
  int64_t dim, kernel;
};

ShortConvShape short_conv_shape(const config::Value& c) {
  const ShortConvShape s{c.get<int64_t>("dim"), c.get<int64_t>("L_cache")};
  MAD_CHECK(s.kernel >= 1, "{}: L_cache (the kernel size) must be >= 1, got {}", c.at("L_cache").where(), s.kernel);
  return s;
}

class ShortConv : public Layer {
 public:
  ShortConv(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(short_conv_shape(c)) {
    const int64_t D = shape_.dim, K = shape_.kernel;
    const bool bias = c.get<bool>("conv_bias");
    in_proj_ = Linear(s.sub("in_proj"), D, 3 * D, bias, ctx);
    const Init conv_init = Init::uniform_fan_in(K);  // PyTorch Conv1d default, fan_in = K for depthwise
    conv_w_ = s.sub("conv").param("weight", {D, K}, conv_init);
    if (bias) conv_b_ = s.sub("conv").param("bias", {D}, conv_init);
    out_proj_ = Linear(s.sub("out_proj"), D, D, bias, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    Var parts[3];  // b, c, h: [B, T, D] each
    const int64_t sizes[] = {shape_.dim, shape_.dim, shape_.dim};
    split(in_proj_(tape, x), -1, sizes, parts);
    Var r = depthwise_conv1d(parts[0] * parts[2], conv_w_.on(tape), conv_b_.defined() ? conv_b_.on(tape) : Var());
    return out_proj_(tape, parts[1] * r);
  }

 private:
  ShortConvShape shape_;
  Linear in_proj_, out_proj_;
  Param conv_w_, conv_b_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<ShortConv>(c, s, ctx);
}

// The last K - 1 gated inputs per channel (layers.md E; HF stores K slots, one of them dead).
StateSize state(const config::Value& c, const BuildContext&) {
  const ShortConvShape s = short_conv_shape(c);
  return {(s.kernel - 1) * s.dim, true};
}

// Per token and channel: K multiply-adds of the convolution and the two gate products.
double mixing_flops(const config::Value& c, const BuildContext&) {
  const ShortConvShape s = short_conv_shape(c);
  return static_cast<double>((2 * s.kernel + 2) * s.dim);
}

// Kernel sizes 2 .. 8 (state D .. 7D); the projections do not change.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> options;
  // The kernel length is the conv's only size knob; its state is (K - 1) D, so reaching MAD's 2,048 floats
  // per layer at D = 128 takes K = 17. LFM2 itself uses K = 3; long kernels are for iso-state comparisons.
  for (int64_t k = 2; k <= 64; ++k) {
    if (k == c.get<int64_t>("L_cache")) continue;
    config::Value o = c;
    o.set("L_cache", config::Value(k));
    options.push_back(std::move(o));
  }
  return options;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"conv", "lfm2", true, "LFM2 short convolution: B- and C-gated depthwise causal conv, kernel 3", &build,
         &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
