// Based's linear attention (Arora et al. 2024, "Simple linear attention language models balance the
// recall-throughput tradeoff"; HazyResearch/based, based/models/mixers/linear_attention.py): causal linear
// attention whose feature map is the second-order Taylor expansion of exp, so that
//   phi(x) = [1, x / F^(1/4), (x (x) x) / (sqrt(2) sqrt(F))],   phi(q) . phi(k) = 1 + s + s^2 / 2,  s = q . k / sqrt(F)
// (F = feature_dim, x (x) x the F^2 products x_a x_b). Per head (H heads):
//   q, k = x Wq^T, x Wk^T split into heads of F; v = x Wv^T split into heads of Dh (head_dim, default D / H)
//   y_i = sum_{j<=i} (phi q_i . phi k_j) v_j / (sum_{j<=i} phi q_i . phi k_j + eps),   out = y Wo^T (no biases).
// 1 + s + s^2/2 = ((s + 1)^2 + 1) / 2 > 0, so the normaliser never crosses zero. The paper pairs these layers
// with small sliding-window softmax attention layers (mh-sliding-attention) and short convolutions;
// configs/architectures/based.yml is such a hybrid.
//
// Three forms give the same numbers (tests/models/test_mixer_layers.cpp, 1e-10 in float64):
//   quadratic  the reference's default: the masked [T, T] matrix of 1 + s + s^2/2, O(T^2 (F + Dh)) per head;
//              ours too, cheapest at MAD's lengths;
//   linear     explicit features of width 1 + F + F^2 and running sums (the causal_linear_attention op,
//              chunkwise), O(T (F^2 Dh)): the form whose state is the recurrent one;
//   recurrent  the test oracle: the state S += phi(k_t) v_t^T, z += phi(k_t) stepped token by token.
#include <algorithm>
#include <cmath>
#include <vector>

#include "models/registry.h"

namespace mad::models {
namespace {

struct BasedShape {
  int64_t dim, heads, feature_dim, head_dim;
  int64_t expanded() const { return 1 + feature_dim + feature_dim * feature_dim; }  // the width of phi(x)
};

BasedShape based_shape(const config::Value& c) {
  BasedShape s{};
  s.dim = c.get<int64_t>("dim");
  s.heads = c.get<int64_t>("num_heads");
  s.feature_dim = c.get<int64_t>("feature_dim");
  MAD_CHECK(s.heads >= 1 && s.heads <= 4096, "{}: num_heads must be between 1 and 4096, got {}", c.at("num_heads").where(),
            s.heads);
  MAD_CHECK(s.feature_dim >= 1 && s.feature_dim <= 64,
            "{}: feature_dim must be between 1 and 64 (phi has 1 + F + F^2 features per head), got {}",
            c.at("feature_dim").where(), s.feature_dim);
  if (c.at("head_dim").is_null()) {
    MAD_CHECK(s.dim % s.heads == 0, "{}: {} heads do not divide dim {}; set head_dim, or num_heads to a divisor of dim",
              c.at("num_heads").where(), s.heads, s.dim);
    s.head_dim = s.dim / s.heads;
  } else {
    s.head_dim = c.get<int64_t>("head_dim");
    MAD_CHECK(s.head_dim >= 1 && s.head_dim <= 4096, "{}: head_dim must be between 1 and 4096 (or null: dim / num_heads), got {}",
              c.at("head_dim").where(), s.head_dim);
  }
  return s;
}

class Based : public Layer {
 public:
  Based(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(based_shape(c)) {
    const std::string impl = c.get<std::string>("parallel_implementation");
    MAD_CHECK(impl == "quadratic" || impl == "linear" || impl == "recurrent",
              "{}: parallel_implementation must be quadratic (masked [T, T] product), linear (features and running "
              "sums) or recurrent (token by token, the test oracle), got '{}'",
              c.at("parallel_implementation").where(), impl);
    form_ = impl;
    eps_ = c.get<double>("eps");
    const int64_t qk = shape_.heads * shape_.feature_dim, vo = shape_.heads * shape_.head_dim;
    proj_q_ = Linear(s.sub("proj_q"), shape_.dim, qk, false, ctx);
    proj_k_ = Linear(s.sub("proj_k"), shape_.dim, qk, false, ctx);
    proj_v_ = Linear(s.sub("proj_v"), shape_.dim, vo, false, ctx);
    out_proj_ = Linear(s.sub("out_proj"), vo, shape_.dim, false, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads, F = shape_.feature_dim, Dh = shape_.head_dim;
    Var q = reshape(proj_q_(tape, x), {B, T, H, F});   // [B, T, H, F]
    Var k = reshape(proj_k_(tape, x), {B, T, H, F});   // [B, T, H, F]
    Var v = reshape(proj_v_(tape, x), {B, T, H, Dh});  // [B, T, H, Dh]
    Var y;                                             // [B, T, H, Dh]
    if (form_ == "quadratic") {
      y = quadratic(q, k, v);
    } else {
      Var fq = features(q), fk = features(k);  // [B, T, H, 1 + F + F^2]
      if (form_ == "linear") {
        Var num = causal_linear_attention(fq, fk, v);                // [B, T, H, Dh]
        Var den = sum(fq * cumsum(fk, 1), -1, true) + eps_;          // [B, T, H, 1]
        y = num / den;
      } else {
        y = recurrent(fq, fk, v);
      }
    }
    return out_proj_(tape, reshape(y, {B, T, H * Dh}));
  }

 private:
  // phi(x) = [1, x / F^(1/4), x (x) x / (sqrt(2) sqrt(F))]: x [B, T, H, F] -> [B, T, H, 1 + F + F^2].
  Var features(Var x) const {
    const int64_t B = x.dim(0), T = x.dim(1), H = x.dim(2), F = x.dim(3);
    const double rd = std::sqrt(static_cast<double>(F)), rrd = std::sqrt(rd);
    Var one = slice(x, -1, 0, 1) * 0.0 + 1.0;                                            // [B, T, H, 1]
    Var outer = reshape(x, {B, T, H, F, 1}) * reshape(x, {B, T, H, 1, F});               // [B, T, H, F, F]
    const Var parts[] = {one, x * (1.0 / rrd), reshape(outer, {B, T, H, F * F}) * (1.0 / (std::sqrt(2.0) * rd))};
    return concat(parts, -1);
  }

  // The masked [T, T] kernel matrix per (batch, head): A = tril(1 + s + s^2 / 2), y = A v / (A 1 + eps),
  // computed as A' = 2 A = (s + 1)^2 + 1 and y = A' v / (A' 1 + 2 eps): the same numbers with fewer [T, T]
  // temporaries (the scale is applied to q, the halving cancels).
  Var quadratic(Var q, Var k, Var v) const {
    const double scale = 1.0 / std::sqrt(static_cast<double>(shape_.feature_dim));
    Var qh = permute(q * scale, {0, 2, 1, 3}), kh = permute(k, {0, 2, 1, 3}), vh = permute(v, {0, 2, 1, 3});  // [B, H, T, .]
    Var s = matmul(qh, kh, false, true);                                     // [B, H, T, T]
    Var a2 = causal_mask(square(s + 1.0) + 1.0, 0.0);                        // [B, H, T, T]
    Var y = matmul(a2, vh) / (sum(a2, -1, true) + 2.0 * eps_);               // [B, H, T, Dh]
    return permute(y, {0, 2, 1, 3});
  }

  // Token by token: S_t = S_{t-1} + phi(k_t)^T v_t, z_t = z_{t-1} + phi(k_t), y_t = phi(q_t) S_t / (phi(q_t) . z_t + eps).
  Var recurrent(Var fq, Var fk, Var v) const {
    const int64_t B = v.dim(0), T = v.dim(1), H = v.dim(2), Dh = v.dim(3), E = shape_.expanded();
    Var S, z;  // [B, H, E, Dh], [B, H, E, 1]
    std::vector<Var>& ys = steps_;
    ys.clear();
    for (int64_t t = 0; t < T; ++t) {
      Var qt = reshape(slice(fq, 1, t, t + 1), {B, H, 1, E});   // [B, H, 1, E]
      Var kt = reshape(slice(fk, 1, t, t + 1), {B, H, 1, E});   // [B, H, 1, E]
      Var vt = reshape(slice(v, 1, t, t + 1), {B, H, 1, Dh});   // [B, H, 1, Dh]
      Var dS = matmul(kt, vt, true, false), dz = reshape(kt, {B, H, E, 1});
      S = t == 0 ? dS : S + dS;
      z = t == 0 ? dz : z + dz;
      Var yt = matmul(qt, S) / (matmul(qt, z) + eps_);          // [B, H, 1, Dh]
      ys.push_back(reshape(yt, {B, 1, H, Dh}));
    }
    return concat(std::span<const Var>(ys), 1);
  }

  BasedShape shape_;
  std::string form_;
  double eps_ = 1e-12;
  Linear proj_q_, proj_k_, proj_v_, out_proj_;
  // Members so that steps after the first allocate nothing, in the recurrent form too.
  mutable std::vector<Var> steps_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Based>(c, s, ctx);
}

// What one sequence carries between tokens at inference, as the reference's inference cache holds it: per head
// the sum of phi(k_j) v_j^T (Dh x (1 + F + F^2)) and the normaliser's sum of phi(k_j) (1 + F + F^2).
StateSize state(const config::Value& c, const BuildContext&) {
  const BasedShape s = based_shape(c);
  return {s.heads * s.expanded() * (s.head_dim + 1), true};
}

// Per token and head beyond the projections. quadratic: q . k (2F), 1 + s + s^2/2 (4) and A v (2 Dh) for each
// of the (T + 1) / 2 visible keys on average, the row sum (1) and the division (Dh). linear: the features
// (F^2 + F + 1 per q and k), S += phi(k) v^T and z += phi(k) (2 E Dh + E), phi(q) S and phi(q) . z
// (2 E Dh + 2 E), the division (Dh).
double mixing_flops(const config::Value& c, const BuildContext& ctx) {
  const BasedShape s = based_shape(c);
  const double H = static_cast<double>(s.heads), F = static_cast<double>(s.feature_dim),
               Dh = static_cast<double>(s.head_dim), E = static_cast<double>(s.expanded());
  if (c.get<std::string>("parallel_implementation") == "quadratic")
    return H * ((2.0 * F + 5.0 + 2.0 * Dh) * static_cast<double>(ctx.seq_len + 1) / 2.0 + Dh);
  return H * (2.0 * E + 4.0 * E * Dh + 3.0 * E + Dh);
}

// Heads (divisors of D up to 32), feature_dim 1..16 and the value head width 1 .. min(2 D / H, 64): the state
// H (1 + F + F^2) (Dh + 1). 1 + F + F^2 is odd, so a power-of-two total needs H (Dh + 1) to carry the power
// of two, hence every head width rather than a few multiples of D / H (about 4,000 options at D = 128).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  const int64_t D = ctx.dim > 0 ? ctx.dim : c.get<int64_t>("dim");
  for (int64_t heads = 1; heads <= 32 && heads <= D; ++heads) {
    if (D % heads != 0) continue;
    for (int64_t f = 1; f <= 16; ++f)
      for (int64_t dh = 1; dh <= std::min<int64_t>(2 * D / heads, 64); ++dh) {
        config::Value o = c;
        o.set("num_heads", config::Value(heads));
        o.set("feature_dim", config::Value(f));
        o.set("head_dim", dh == D / heads ? config::Value() : config::Value(dh));
        if (o != c) out.push_back(std::move(o));
      }
  }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  LayerEntry based{"based", "based", true,
                   "Based linear attention: 2nd-order Taylor feature map of exp(q.k), 16 heads of F 16, Dh 8", &build,
                   &state, &mixing_flops, &size_options};
  based.small_test_overrides = "{num_heads: 2, feature_dim: 3}";  // 13 features per head at width 16
  r.add(std::move(based));
}

}  // namespace mad::models
