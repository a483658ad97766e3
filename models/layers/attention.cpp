// Softmax attention: attention, mh-attention, sliding-attention, mh-sliding-attention (the reference
// wraps flash_attn's MHA): fused QKV projection with bias, rotary embeddings on the first rotary_emb_dim
// channels of each head, causal (optionally windowed) attention through the fused `attention` op, and an
// output projection with bias. Parameter names Wqkv.*, out_proj.* as in flash_attn. Without QK-norm the
// rotary and the attention run on the packed projection (rotary_qk, attention_packed: no slices, the
// rotation in place).
// qk_norm: true adds LFM2's QK-norm (layers.md C.3): an RMSNorm over each head's q and k (eps 1e-5, one
// scale vector of the head dimension shared by all heads, q_layernorm / k_layernorm) before the rotary.
#include <algorithm>
#include <cmath>

#include "models/registry.h"

namespace mad::models {
namespace {

// The projections a `wiring:` mask may go on (models/projection_mask.h), by parameter-scope name.
const std::vector<std::string> kAttentionProjections = {"Wqkv", "out_proj"};

struct AttentionShape {
  int64_t dim, heads, head_dim, rotary_dim, window;
};

AttentionShape attention_shape(const config::Value& c, const BuildContext& ctx) {
  AttentionShape a{};
  a.dim = c.get<int64_t>("dim");
  a.heads = c.get<int64_t>("n_heads");
  MAD_CHECK(a.heads >= 1 && a.dim % a.heads == 0,
            "{}: {} heads do not divide the width {}; choose a divisor of {}", c.at("n_heads").where(), a.heads,
            a.dim, a.dim);
  a.head_dim = a.dim / a.heads;
  a.rotary_dim = c.get<int64_t>("rotary_emb_dim");
  MAD_CHECK(a.rotary_dim >= 0 && a.rotary_dim <= a.head_dim && a.rotary_dim % 2 == 0,
            "{}: {} must be even and at most the head dimension {} (0 turns rotary off)",
            c.at("rotary_emb_dim").where(), a.rotary_dim, a.head_dim);
  a.window = c.get<int64_t>("window_size");
  MAD_CHECK(a.window >= -1, "{}: window_size must be -1 (no window) or >= 0, got {}", c.at("window_size").where(), a.window);
  MAD_CHECK(a.window < ctx.seq_len,
            "{}: window_size {} is not smaller than the sequence length {}; use window_size: -1 for full attention",
            c.at("window_size").where(), a.window, ctx.seq_len);
  return a;
}

class Attention : public Layer {
 public:
  Attention(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(attention_shape(c, ctx)) {
    causal_ = c.get<bool>("causal");
    MAD_CHECK(causal_ || shape_.window < 0, "{}: a window needs causal: true", c.at("window_size").where());
    base_ = c.get<double>("rotary_emb_base");
    const config::Value& scale = c.at("softmax_scale");
    scale_ = scale.is_null() ? 1.0 / std::sqrt(static_cast<double>(shape_.head_dim)) : scale.as_double();
    // Optional NCPS wiring masks (models/projection_mask.h); Wqkv's mask spans q, k and v ([3D, D]).
    const int64_t D = shape_.dim;
    wqkv_ = Linear(s.sub("Wqkv"), D, 3 * D, c.get<bool>("qkv_proj_bias"), ctx, Init::uniform_fan_in(),
                   layer_projection_mask(c, "Wqkv", D, 3 * D, kAttentionProjections));
    out_ = Linear(s.sub("out_proj"), D, D, c.get<bool>("out_proj_bias"), ctx, Init::uniform_fan_in(),
                  layer_projection_mask(c, "out_proj", D, D, kAttentionProjections));
    if (c.get<bool>("qk_norm")) {
      q_norm_ = s.sub("q_layernorm").param("weight", {shape_.head_dim}, Init::ones());
      k_norm_ = s.sub("k_layernorm").param("weight", {shape_.head_dim}, Init::ones());
    }
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads, Dh = shape_.head_dim;
    Var qkv = wqkv_(tape, x);  // [B, T, 3D], laid out (q | k | v), heads contiguous within each
    Var o;                     // [B, T, H, Dh]
    if (!q_norm_.defined()) {
      // The packed ops read q, k, v in place: qkv (rotated in place, this layer being its only consumer)
      // is the only [B, T, 3D] activation kept for backward, and its gradient the only one formed.
      if (shape_.rotary_dim > 0) qkv = rotary_qk(qkv, H, base_, shape_.rotary_dim);
      o = attention_packed(qkv, H, scale_, causal_, shape_.window);
    } else {
      // QK-norm needs q and k as tensors of their own.
      Var parts[3];
      const int64_t sizes[] = {shape_.dim, shape_.dim, shape_.dim};
      split(qkv, -1, sizes, parts);
      auto heads = [&](Var t) { return reshape(t, {B, T, H, Dh}); };  // a view
      Var q = heads(parts[0]), k = heads(parts[1]), v = heads(parts[2]);
      q = rms_norm(q, q_norm_.on(tape), kQkNormEps);
      k = rms_norm(k, k_norm_.on(tape), kQkNormEps);
      if (shape_.rotary_dim > 0) {
        q = rotary(q, base_, shape_.rotary_dim);
        k = rotary(k, base_, shape_.rotary_dim);
      }
      o = attention(q, k, v, scale_, causal_, shape_.window);
    }
    return out_(tape, reshape(o, {B, T, shape_.dim}));
  }

 private:
  AttentionShape shape_;
  bool causal_ = true;
  double base_ = 10000.0, scale_ = 1.0;
  Linear wqkv_, out_;
  Param q_norm_, k_norm_;  // [Dh] each, with qk_norm
  static constexpr double kQkNormEps = 1e-5;  // LFM2's norm_eps
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Attention>(c, s, ctx);
}

// Full attention keeps every key and value: 2 * L * D floats, growing with L. A window of W keeps the W
// previous tokens and the current one: 2 * (W + 1) * D, fixed.
StateSize state(const config::Value& c, const BuildContext& ctx) {
  const AttentionShape a = attention_shape(c, ctx);
  if (a.window >= 0) return {2 * (a.window + 1) * a.dim, true};
  return {2 * ctx.seq_len * a.dim, false};
}

// Per query, QK^T and AV cost 2 * D flops per key each. A causal query at position t sees t + 1 keys,
// (L + 1) / 2 on average over the sequence; with a window, at most W + 1.
double mixing_flops(const config::Value& c, const BuildContext& ctx) {
  const AttentionShape a = attention_shape(c, ctx);
  const double average_keys = static_cast<double>(ctx.seq_len + 1) / 2.0;
  const double keys = a.window >= 0 ? std::min(average_keys, static_cast<double>(a.window + 1)) : average_keys;
  return 4.0 * static_cast<double>(a.dim) * keys;
}

// Sliding-window attention keeps 2 (window + 1) D floats: its window (0 to seq_len - 1) is its state knob.
// Full attention's KV cache grows with the sequence: no options (normalisation leaves it unchanged).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  if (c.get<int64_t>("window_size") < 0) return out;
  for (int64_t w = 0; w < ctx.seq_len; ++w) {
    out.push_back(c);
    out.back().set("window_size", config::Value(w));
  }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"attention", "attention", true, "causal softmax attention, 1 head, rotary",
         &build, &state, &mixing_flops, &size_options, nullptr, kAttentionProjections});
  r.add({"mh-attention", "attention", true, "causal softmax attention, 16 heads of 8, rotary",
         &build, &state, &mixing_flops, &size_options, nullptr, kAttentionProjections});
  r.add({"sliding-attention", "attention", true, "sliding-window attention (32 + self), 1 head, rotary",
         &build, &state, &mixing_flops, &size_options, nullptr, kAttentionProjections});
  r.add({"mh-sliding-attention", "attention", true, "sliding-window attention (32 + self), 16 heads, rotary",
         &build, &state, &mixing_flops, &size_options, nullptr, kAttentionProjections});
}

}  // namespace mad::models
