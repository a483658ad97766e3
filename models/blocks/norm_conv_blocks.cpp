// Normalisation and convolution blocks of wiring graphs: `norm` (RMSNorm or LayerNorm, whole width or per
// group, e.g. xLSTM's per-head norm) and `causal-conv` (depthwise causal convolution, state (K - 1) C).
#include "models/blocks/block.h"
#include "models/blocks/pieces.h"

namespace mad::models {
namespace {

std::vector<int64_t> norm_widths(const config::Value& c, std::span<const int64_t> in) {
  const std::string kind = c.get<std::string>("kind");
  MAD_CHECK(kind == "rmsnorm" || kind == "layernorm", "{}: unknown norm '{}'; use rmsnorm or layernorm",
            c.at("kind").where(), kind);
  const int64_t groups = c.get<int64_t>("groups");
  MAD_CHECK(groups >= 1 && in[0] % groups == 0, "{}: groups = {} must divide the input width {}",
            c.at("groups").where(), groups, in[0]);
  MAD_CHECK(kind == "layernorm" || !c.get<bool>("bias"), "{}: rmsnorm has no bias", c.at("bias").where());
  return {in[0]};
}

// x [B, T, C] -> normalised over each of `groups` consecutive slices of C / groups channels, times a
// per-channel weight [C] (init ones) and, for layernorm with bias, plus a bias [C] (init zeros).
class NormBlock : public Block {
 public:
  NormBlock(const config::Value& c, const ParamScope& s, const BuildContext&)
      : layer_(c.get<std::string>("kind") == "layernorm"), groups_(c.get<int64_t>("groups")), eps_(c.get<double>("eps")) {
    const int64_t C = block_inputs(c)[0];
    if (c.get<bool>("weight")) weight_ = s.param("weight", {C}, Init::ones());
    if (c.get<bool>("bias")) bias_ = s.param("bias", {C}, Init::zeros());
  }
  void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const override {
    const Var w = weight_.defined() ? weight_.on(tape) : Var(), b = bias_.defined() ? bias_.on(tape) : Var();
    out[0] = layer_ ? layer_norm(in[0], w, b, eps_, groups_) : rms_norm(in[0], w, eps_, groups_);
  }

 private:
  bool layer_;
  int64_t groups_;
  double eps_;
  Param weight_, bias_;
};

int64_t conv_kernel(const config::Value& c) {
  const int64_t k = c.get<int64_t>("kernel_size");
  MAD_CHECK(k >= 1, "{}: kernel_size must be >= 1, got {}", c.at("kernel_size").where(), k);
  return k;
}

std::vector<int64_t> conv_widths(const config::Value& c, std::span<const int64_t> in) {
  conv_kernel(c);
  return {in[0]};
}

// x [B, T, C] -> depthwise causal convolution of width K (+ bias) [B, T, C].
class CausalConvBlock : public Block {
 public:
  CausalConvBlock(const config::Value& c, const ParamScope& s, const BuildContext&)
      : conv_(s, block_inputs(c)[0], conv_kernel(c), c.get<bool>("bias")) {}
  void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const override { out[0] = conv_(tape, in[0]); }

 private:
  DepthwiseCausalConv conv_;
};

// The last K - 1 inputs per channel.
StateSize conv_state(const config::Value& c, const BuildContext&) {
  return {(conv_kernel(c) - 1) * block_inputs(c)[0], true};
}
double conv_flops(const config::Value& c, const BuildContext&) {
  return 2.0 * static_cast<double>(conv_kernel(c) * block_inputs(c)[0]);
}

const BlockSpec kNorm{1, 1, &norm_widths};
const BlockSpec kConv{1, 1, &conv_widths};

}  // namespace

MAD_REGISTER_LAYERS(r) {
  add_block(r, "norm", "RMSNorm or LayerNorm over the width or per group (per head)", &build_block<NormBlock>, &kNorm);
  add_block(r, "causal-conv", "depthwise causal convolution of width K, optional bias", &build_block<CausalConvBlock>,
            &kConv, &conv_state, &conv_flops);
}

}  // namespace mad::models
