// Gated linear attention: gated-linear-attention (1 head), mh-gated-linear-attention (8 heads) (the
// reference's GatedLinearAttention, from flash-linear-attention).
//
// q, k = x Wq^T, x Wk^T [.., H, Dk]; v, g = x Wv^T, x Wg^T [.., H, Dv] (no bias); per-key-channel decay
//   log alpha_t = log_sigmoid(W2 (W1 x_t) + b2) / gate_logit_normalizer     (W1: D -> 16, W2: 16 -> H*Dk)
//   S_t = diag(alpha_t) S_{t-1} + k_t v_t^T,   o_t = (q_t / sqrt(Dk))^T S_t            per head
//   out = Wo ( RMSNorm_head(o) * swish(g) )   (one RMSNorm weight [Dv] shared by the heads, eps 1e-5)
// Every weight starts Xavier-uniform with gain 2^-2.5, as in the reference.
// Two forms: `chunk` (our default and the reference's: the chunkwise causal_linear_attention op, exact
// gradients, state only at chunk boundaries) and `fused_recurrent` (one step at a time through primitive
// ops, materialising every S_t: the test oracle, far too heavy to train with).
#include <cmath>
#include <vector>

#include "models/layers/config_checks.h"
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

struct GlaShape {
  int64_t dim, heads, key_dim, value_dim, head_k, head_v, low_rank;
};

GlaShape gla_shape(const config::Value& c) {
  GlaShape s{};
  s.dim = c.get<int64_t>("dim");
  s.heads = c.get<int64_t>("num_heads");
  s.key_dim = static_cast<int64_t>(static_cast<double>(s.dim) * c.get<double>("expand_k"));
  s.value_dim = static_cast<int64_t>(static_cast<double>(s.dim) * c.get<double>("expand_v"));
  MAD_CHECK(s.heads >= 1 && s.key_dim > 0 && s.value_dim > 0 && s.key_dim % s.heads == 0 && s.value_dim % s.heads == 0,
            "{}: {} heads must divide the key width {} and value width {} (dim * expand_k, dim * expand_v)",
            c.at("num_heads").where(), s.heads, s.key_dim, s.value_dim);
  s.head_k = s.key_dim / s.heads;
  s.head_v = s.value_dim / s.heads;
  s.low_rank = int_at_least(c, "gate_low_rank_dim", 1);
  return s;
}

class GatedLinearAttention : public Layer {
 public:
  GatedLinearAttention(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(gla_shape(c)) {
    const std::string mode = c.get<std::string>("mode");
    MAD_CHECK(mode == "chunk" || mode == "fused_recurrent",
              "{}: mode must be chunk (chunkwise, for training) or fused_recurrent (step by step, the test oracle), "
              "got '{}'",
              c.at("mode").where(), mode);
    recurrent_ = mode == "fused_recurrent";
    MAD_CHECK(c.get<std::string>("gate_fn") == "swish", "{}: only gate_fn: swish is built", c.at("gate_fn").where());
    MAD_CHECK(!c.get<bool>("fuse_norm"), "{}: fuse_norm: true is a CUDA fusion of the same math; use false",
              c.at("fuse_norm").where());
    const config::Value& clamp = c.at("clamp_min");
    MAD_CHECK(clamp.is_null(), "{}: clamp_min is not built; use null", clamp.where());
    normalizer_ = c.get<double>("gate_logit_normalizer");
    MAD_CHECK(normalizer_ > 0, "{}: gate_logit_normalizer must be positive", c.at("gate_logit_normalizer").where());
    eps_ = c.get<double>("layernorm_eps");
    const Init xavier = Init::xavier_uniform(std::pow(2.0, -2.5));
    const GlaShape& g = shape_;
    q_proj_ = Linear(s.sub("q_proj"), g.dim, g.key_dim, false, ctx, xavier);
    k_proj_ = Linear(s.sub("k_proj"), g.dim, g.key_dim, false, ctx, xavier);
    v_proj_ = Linear(s.sub("v_proj"), g.dim, g.value_dim, false, ctx, xavier);
    g_proj_ = Linear(s.sub("g_proj"), g.dim, g.value_dim, false, ctx, xavier);
    gk_down_ = Linear(s.sub("gk_proj").sub("0"), g.dim, g.low_rank, false, ctx, xavier);
    gk_up_ = Linear(s.sub("gk_proj").sub("1"), g.low_rank, g.key_dim, true, ctx, xavier);
    o_proj_ = Linear(s.sub("o_proj"), g.value_dim, g.dim, false, ctx, xavier);
    norm_weight_ = s.sub("g_norm").param("weight", {g.head_v}, Init::ones());
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads, Dk = shape_.head_k, Dv = shape_.head_v;
    const double scale = 1.0 / std::sqrt(static_cast<double>(Dk));
    Var q = reshape(q_proj_(tape, x), {B, T, H, Dk}) * scale;
    Var k = reshape(k_proj_(tape, x), {B, T, H, Dk});
    Var v = reshape(v_proj_(tape, x), {B, T, H, Dv});
    Var log_decay = reshape(log_sigmoid(gk_up_(tape, gk_down_(tape, x))), {B, T, H, Dk}) * (1.0 / normalizer_);
    Var o = recurrent_ ? recurrent(q, k, v, log_decay) : causal_linear_attention(q, k, v, log_decay);  // [B, T, H, Dv]
    o = rms_norm(o, norm_weight_.on(tape), eps_);
    Var gate = silu(g_proj_(tape, x));  // [B, T, H*Dv]
    return o_proj_(tape, reshape(o, {B, T, shape_.value_dim}) * gate);
  }

 private:
  // The reference's recurrent form, one step at a time: S_t = diag(exp(log_decay_t)) S_{t-1} + k_t v_t^T,
  // o_t = S_t^T q_t. Keeps every S_t [B, H, Dk, Dv] on the tape.
  static Var recurrent(Var q, Var k, Var v, Var log_decay) {
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dv = v.dim(3);
    auto column = [&](Var a, int64_t t) { return reshape(slice(a, 1, t, t + 1), {B, H, a.dim(3), 1}); };
    Var S;  // [B, H, Dk, Dv]
    std::vector<Var> outs;
    for (int64_t t = 0; t < T; ++t) {
      Var kv = column(k, t) * reshape(slice(v, 1, t, t + 1), {B, H, 1, Dv});
      S = S.defined() ? S * exp(column(log_decay, t)) + kv : kv;
      outs.push_back(reshape(sum(column(q, t) * S, 2), {B, 1, H, Dv}));
    }
    return concat(outs, 1);
  }

  GlaShape shape_;
  bool recurrent_ = false;
  double normalizer_ = 16, eps_ = 1e-5;
  Linear q_proj_, k_proj_, v_proj_, g_proj_, gk_down_, gk_up_, o_proj_;
  Param norm_weight_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<GatedLinearAttention>(c, s, ctx);
}

// mad-protocol.md section 7: heads * d_k * d_v (8 x 16 x 16 = 2048 for mh-gated-linear-attention).
StateSize state(const config::Value& c, const BuildContext&) {
  const GlaShape s = gla_shape(c);
  return {s.heads * s.head_k * s.head_v, true};
}

// Per token and head, the chunkwise form computes what the recurrence does: decay S (Dk Dv), add k v^T
// (2 Dk Dv), read q^T S (2 Dk Dv); then the decay's exp and log-sigmoid (about 10 per key channel), the
// per-head RMSNorm (about 4 per value channel) and the swish gate (about 6 per value channel).
double mixing_flops(const config::Value& c, const BuildContext&) {
  const GlaShape s = gla_shape(c);
  const double H = static_cast<double>(s.heads), dk = static_cast<double>(s.head_k), dv = static_cast<double>(s.head_v);
  return H * (5.0 * dk * dv + 10.0 * dk + 10.0 * dv);
}

// Heads, and key and value widths: the state heads * Dk * Dv = D^2 expand_k expand_v / heads.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  return heads_and_key_value_widths(c, ctx.dim);
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"gated-linear-attention", "gated-linear-attention", true,
         "gated linear attention (per-key-channel decay), 1 head, RMSNorm * swish gate", &build, &state,
         &mixing_flops, &size_options});
  r.add({"mh-gated-linear-attention", "gated-linear-attention", true,
         "gated linear attention, 8 heads of 16, RMSNorm * swish gate", &build, &state, &mixing_flops,
         &size_options});
}

}  // namespace mad::models
