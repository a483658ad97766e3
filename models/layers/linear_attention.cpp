// Linear attention: linear-attention (1 head), mh-linear-attention (16 heads) (the reference's
// LinearAttention, adapted there from flash-linear-attention and Based).
//
// q, k, v = x Wq^T, x Wk^T, x Wv^T (no bias), split into H heads of Dk = D*expand_k/H (Dv likewise);
// a feature map per head, untied for q and k by default: elementwise_product phi(x) = (W1 x + b1) * (W2 x + b2)
// (the reference's HadamardFeatureMap, shared across heads), elu (the reference's elu(x) + 1: positive, so
// the normaliser below cannot cross zero, which the Hadamard map's can; docs/layers.md), or identity;
//   y_i = sum_{j<=i} (phi q_i . phi k_j) v_j / (phi q_i . sum_{j<=i} phi k_j + eps),   out = y Wo^T.
// Two forms of the numerator give the same numbers: `linear` (our default, running sums computed
// chunkwise by the causal_linear_attention op, O(T)) and `quadratic` (the reference default: the masked
// [T, T] product, O(T^2), kept as the test oracle).
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

struct LinearAttentionShape {
  int64_t dim, heads, key_dim, value_dim, head_k, head_v;
};

LinearAttentionShape linear_attention_shape(const config::Value& c) {
  LinearAttentionShape s{};
  s.dim = c.get<int64_t>("dim");
  s.heads = c.get<int64_t>("num_heads");
  const double expand_k = c.get<double>("expand_k"), expand_v = c.get<double>("expand_v");
  s.key_dim = static_cast<int64_t>(static_cast<double>(s.dim) * expand_k);
  s.value_dim = static_cast<int64_t>(static_cast<double>(s.dim) * expand_v);
  MAD_CHECK(s.heads >= 1 && s.key_dim > 0 && s.value_dim > 0 && s.key_dim % s.heads == 0 && s.value_dim % s.heads == 0,
            "{}: {} heads must divide the key width {} and value width {} (dim * expand_k, dim * expand_v)",
            c.at("num_heads").where(), s.heads, s.key_dim, s.value_dim);
  s.head_k = s.key_dim / s.heads;
  s.head_v = s.value_dim / s.heads;
  return s;
}

// phi(x) = (W1 x + b1) * (W2 x + b2) on the last axis (one head's Dk channels), elu(x) + 1, or the identity.
class FeatureMap {
 public:
  FeatureMap() = default;
  FeatureMap(const ParamScope& s, int64_t head_dim, const BuildContext& ctx)
      : layer1_(s.sub("layer1"), head_dim, head_dim, true, ctx), layer2_(s.sub("layer2"), head_dim, head_dim, true, ctx),
        kind_(Kind::hadamard) {}
  static FeatureMap elu() {
    FeatureMap m;
    m.kind_ = Kind::elu;
    return m;
  }
  // x [..., Dk] -> [..., Dk]
  Var operator()(Tape& tape, Var x) const {
    switch (kind_) {
      case Kind::hadamard: return layer1_(tape, x) * layer2_(tape, x);
      // elu(x) + 1 = x + 1 for x > 0, exp(x) otherwise: relu(x) + exp(-relu(-x)). Always positive.
      case Kind::elu: return relu(x) + exp(-relu(-x));
      case Kind::identity: break;
    }
    return x;
  }

 private:
  enum class Kind { identity, hadamard, elu };
  Linear layer1_, layer2_;
  Kind kind_ = Kind::identity;
};

class LinearAttention : public Layer {
 public:
  LinearAttention(const config::Value& c, const ParamScope& s, const BuildContext& ctx)
      : shape_(linear_attention_shape(c)) {
    const std::string map = c.get<std::string>("feature_map");
    MAD_CHECK(map == "elementwise_product" || map == "elu" || map == "identity",
              "{}: feature_map '{}' is not built; choose elementwise_product (the MAD default), elu or identity",
              c.at("feature_map").where(), map);
    const std::string impl = c.get<std::string>("parallel_implementation");
    MAD_CHECK(impl == "linear" || impl == "quadratic",
              "{}: parallel_implementation must be linear (running sums) or quadratic (masked [T, T] product), got '{}'",
              c.at("parallel_implementation").where(), impl);
    quadratic_ = impl == "quadratic";
    eps_ = c.get<double>("eps");
    norm_q_ = c.get<bool>("norm_q");
    norm_k_ = c.get<bool>("norm_k");
    proj_q_ = Linear(s.sub("proj_q"), shape_.dim, shape_.key_dim, false, ctx);
    proj_k_ = Linear(s.sub("proj_k"), shape_.dim, shape_.key_dim, false, ctx);
    proj_v_ = Linear(s.sub("proj_v"), shape_.dim, shape_.value_dim, false, ctx);
    out_proj_ = Linear(s.sub("out_proj"), shape_.value_dim, shape_.dim, false, ctx);
    if (map == "elementwise_product") {
      map_q_ = FeatureMap(s.sub("feature_map_q"), shape_.head_k, ctx);
      // Tied: the same parameters for q and k (no feature_map_k.* entries, as PyTorch dedups them).
      map_k_ = c.get<bool>("tie_feature_map_qk") ? map_q_ : FeatureMap(s.sub("feature_map_k"), shape_.head_k, ctx);
    } else if (map == "elu") {
      map_q_ = map_k_ = FeatureMap::elu();
    }
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads;
    Var q = map_q_(tape, reshape(proj_q_(tape, x), {B, T, H, shape_.head_k}));  // [B, T, H, Dk]
    Var k = map_k_(tape, reshape(proj_k_(tape, x), {B, T, H, shape_.head_k}));  // [B, T, H, Dk]
    Var v = reshape(proj_v_(tape, x), {B, T, H, shape_.head_v});                // [B, T, H, Dv]
    if (norm_q_) q = q / (sum(q, -1, true) + 1e-4);
    if (norm_k_) k = k / (sum(k, -1, true) + 1e-4);
    Var num = quadratic_ ? quadratic(q, k, v) : causal_linear_attention(q, k, v);  // [B, T, H, Dv]
    Var den = sum(q * cumsum(k, 1), -1, true) + eps_;                            // [B, T, H, 1]
    return out_proj_(tape, reshape(num / den, {B, T, shape_.value_dim}));
  }

 private:
  // The reference's quadratic form: tril(q k^T) v per (batch, head).
  static Var quadratic(Var q, Var k, Var v) {
    Var qh = permute(q, {0, 2, 1, 3}), kh = permute(k, {0, 2, 1, 3}), vh = permute(v, {0, 2, 1, 3});  // [B, H, T, D]
    Var scores = causal_mask(matmul(qh, kh, false, true), 0.0);                                      // [B, H, T, T]
    return permute(matmul(scores, vh), {0, 2, 1, 3});
  }

  LinearAttentionShape shape_;
  bool quadratic_ = false, norm_q_ = false, norm_k_ = false;
  double eps_ = 1e-12;
  Linear proj_q_, proj_k_, proj_v_, out_proj_;
  FeatureMap map_q_, map_k_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<LinearAttention>(c, s, ctx);
}

// mad-protocol.md section 7: heads * d_k * d_v (the matrix state sum_j phi(k_j) v_j^T). The normaliser's
// running sum of phi(k_j) (heads * d_k more floats) is not counted by the protocol's formula; neither here.
StateSize state(const config::Value& c, const BuildContext&) {
  const LinearAttentionShape s = linear_attention_shape(c);
  return {s.heads * s.head_k * s.head_v, true};
}

// Per token, in the running-sum form: S += phi(k) v^T and z += phi(k) (2 Dk Dv + Dk per head), the
// numerator phi(q)^T S (2 Dk Dv) and the normaliser phi(q) . z (2 Dk), then the division (Dv). The quadratic
// form instead spends 2 (Dk + Dv) per head on each of the (T + 1) / 2 earlier keys on average.
double mixing_flops(const config::Value& c, const BuildContext& ctx) {
  const LinearAttentionShape s = linear_attention_shape(c);
  const double H = static_cast<double>(s.heads), dk = static_cast<double>(s.head_k), dv = static_cast<double>(s.head_v);
  if (c.get<std::string>("parallel_implementation") == "quadratic")
    return H * 2.0 * (dk + dv) * static_cast<double>(ctx.seq_len + 1) / 2.0 + H * (3.0 * dk + dv);
  return H * (4.0 * dk * dv + 3.0 * dk + dv);
}

// Heads, and key and value widths: the state heads * Dk * Dv = D^2 expand_k expand_v / heads.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  return heads_and_key_value_widths(c, ctx.dim);
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"linear-attention", "linear-attention", true,
         "causal linear attention, 1 head, Hadamard feature map (W1 x + b1) * (W2 x + b2)", &build, &state,
         &mixing_flops, &size_options});
  r.add({"mh-linear-attention", "linear-attention", true,
         "causal linear attention, 16 heads of 8, Hadamard feature map", &build, &state, &mixing_flops,
         &size_options});
}

}  // namespace mad::models
