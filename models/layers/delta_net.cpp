// DeltaNet and Gated DeltaNet: linear attention whose state is updated by the delta rule.
//
//   deltanet        Schlag et al. 2021; Yang et al. 2024, "Parallelizing Linear Transformers with the Delta Rule
//                   over Sequence Length" (arXiv:2406.06484); reference fla-org/flash-linear-attention,
//                   fla/layers/delta_net.py (DeltaNet with its defaults: 4 heads, expand_k = expand_v = 1).
//   gated-deltanet  Yang et al. 2025, "Gated Delta Networks: Improving Mamba2 with Delta Rule" (arXiv:2412.06464);
//                   fla/layers/gated_deltanet.py (GatedDeltaNet: heads of head_dim, values expand_v wider, a
//                   Mamba-2 style decay per head and an output gate).
//
// Per head, keys and queries L2-normalised, state S [Dk, Dv] from S_0 = 0:
//   S_t = a_t (I - b_t k_t k_t^T) S_{t-1} + b_t k_t v_t^T,     o_t = S_t^T q_t / sqrt(Dk)
// with b_t = sigmoid(x W_b) per head and a_t = 1 (deltanet) or exp(g_t), g_t = -exp(A_log) softplus(x W_a + dt_bias)
// (gated-deltanet). Both take q, k, v from projections followed by a causal depthwise convolution (kernel
// conv_size, no bias) and SiLU; the output is RMSNorm(o) per head (gated-deltanet: RMSNorm(o) * silu(x W_g)),
// then out_proj.
//
// Two forms (`mode`), the same numbers (tests/models/test_mixer_layers.cpp, 1e-10 in float64):
//   chunk      the chunkwise WY/UT form (FLA's chunk_delta_rule): within a chunk of C tokens the delta-rule
//              inputs U = T (b v) and W = T (b k e^G) come from one triangular inverse T = (I + A)^-1,
//              A = strictly-lower((b k) k^T o e^{G_i - G_j}), by forward substitution
//              (models/layers/delta_chunks.h); the state passes between chunks;
//   recurrent  the state stepped token by token from the formula above (the oracle).
#include <cmath>

#include "models/blocks/pieces.h"
#include "models/layers/config_checks.h"
#include "models/layers/delta_chunks.h"
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

struct DeltaShape {
  int64_t dim, heads, head_k, head_v;
  bool gated;
};

DeltaShape delta_shape(const config::Value& c, bool gated) {
  DeltaShape s{};
  s.dim = c.get<int64_t>("dim");
  s.gated = gated;
  s.heads = int_at_least(c, "num_heads", 1);
  MAD_CHECK(s.heads <= 4096, "{}: num_heads must be at most 4096, got {}", c.at("num_heads").where(), s.heads);
  if (gated) {  // the reference's GatedDeltaNet: head_dim for q and k, head_dim * expand_v for v
    s.head_k = int_at_least(c, "head_dim", 1);
    const double ev = c.get<double>("expand_v");
    const double hv = static_cast<double>(s.head_k) * ev;
    MAD_CHECK(ev > 0 && hv == std::floor(hv) && hv <= 65536, "{}: head_dim x expand_v must be a positive integer, got {} x {}",
              c.at("expand_v").where(), s.head_k, ev);
    s.head_v = static_cast<int64_t>(hv);
  } else {  // the reference's DeltaNet: key and value widths dim * expand_k, dim * expand_v split into heads
    const double ek = c.get<double>("expand_k"), ev = c.get<double>("expand_v");
    const int64_t key = static_cast<int64_t>(static_cast<double>(s.dim) * ek);
    const int64_t value = static_cast<int64_t>(static_cast<double>(s.dim) * ev);
    MAD_CHECK(ek > 0 && ev > 0 && key <= 65536 && value <= 65536 && key % s.heads == 0 && value % s.heads == 0 &&
                  key >= s.heads && value >= s.heads,
              "{}: {} heads must divide the key width {} and value width {} (dim * expand_k, dim * expand_v)",
              c.at("num_heads").where(), s.heads, key, value);
    s.head_k = key / s.heads;
    s.head_v = value / s.heads;
  }
  return s;
}

class DeltaNet : public Layer {
 public:
  DeltaNet(const config::Value& c, const ParamScope& s, const BuildContext& ctx, bool gated)
      : shape_(delta_shape(c, gated)) {
    const DeltaShape& m = shape_;
    mode_ = c.get<std::string>("mode");
    MAD_CHECK(mode_ == "chunk" || mode_ == "recurrent",
              "{}: mode must be chunk (the chunkwise WY/UT form) or recurrent (token by token, the test oracle), got '{}'",
              c.at("mode").where(), mode_);
    chunk_ = chunk_size_setting(c);
    eps_ = c.get<double>("norm_eps");
    neg_eigval_ = c.get<bool>("allow_neg_eigval");
    const int64_t conv = int_at_least(c, "conv_size", 1);
    const bool conv_bias = c.get<bool>("conv_bias");
    const int64_t key = m.heads * m.head_k, value = m.heads * m.head_v;
    q_proj_ = Linear(s.sub("q_proj"), m.dim, key, false, ctx);
    k_proj_ = Linear(s.sub("k_proj"), m.dim, key, false, ctx);
    v_proj_ = Linear(s.sub("v_proj"), m.dim, value, false, ctx);
    b_proj_ = Linear(s.sub("b_proj"), m.dim, m.heads, false, ctx);
    const char* names[] = {"q_conv1d", "k_conv1d", "v_conv1d"};
    const int64_t widths[] = {key, key, value};
    for (int i = 0; i < 3; ++i) conv_[i] = DepthwiseCausalConv(s.sub(names[i]), widths[i], conv, conv_bias);
    if (gated) {
      a_proj_ = Linear(s.sub("a_proj"), m.dim, m.heads, false, ctx);
      A_log_ = s.param("A_log", {m.heads}, Init::uniform(0.0, 16.0).then([](double a) { return std::log(a); }));
      // dt in [0.001, 0.1], floored at 1e-4: the reference's hard-coded values.
      dt_bias_ = s.param("dt_bias", {m.heads}, inverse_softplus_dt_init(0.001, 0.1, 1e-4));
      g_proj_ = Linear(s.sub("g_proj"), m.dim, value, false, ctx);
    }
    o_norm_ = s.sub("o_norm").param("weight", {m.head_v}, Init::ones());
    o_proj_ = Linear(s.sub("o_proj"), value, m.dim, false, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const DeltaShape& m = shape_;
    const int64_t B = x.dim(0), T = x.dim(1), H = m.heads, Dk = m.head_k, Dv = m.head_v;
    Var q = l2norm(reshape(short_conv(tape, q_proj_(tape, x), 0), {B, T, H, Dk}));  // [B, T, H, Dk]
    Var k = l2norm(reshape(short_conv(tape, k_proj_(tape, x), 1), {B, T, H, Dk}));  // [B, T, H, Dk]
    Var v = reshape(short_conv(tape, v_proj_(tape, x), 2), {B, T, H, Dv});          // [B, T, H, Dv]
    Var beta = sigmoid(b_proj_(tape, x));                                           // [B, T, H]
    if (neg_eigval_) beta = beta * 2.0;
    Var g;                                                                           // [B, T, H] log decay
    if (m.gated) g = -(softplus(a_proj_(tape, x) + dt_bias_.on(tape)) * exp(A_log_.on(tape)));
    q = q * (1.0 / std::sqrt(static_cast<double>(Dk)));
    // To [B, H, T, .]: the heads lead, time is the axis the forms walk.
    Var qh = permute(q, {0, 2, 1, 3}), kh = permute(k, {0, 2, 1, 3}), vh = permute(v, {0, 2, 1, 3});
    Var bh = permute(beta, {0, 2, 1}), gh = g.defined() ? permute(g, {0, 2, 1}) : Var();
    Var o = mode_ == "chunk" ? chunked(tape, qh, kh, vh, bh, gh) : recurrent(qh, kh, vh, bh, gh);  // [B, H, T, Dv]
    o = rms_norm(permute(o, {0, 2, 1, 3}), o_norm_.on(tape), eps_);                            // [B, T, H, Dv]
    if (m.gated) o = o * silu(reshape(g_proj_(tape, x), {B, T, H, Dv}));
    return o_proj_(tape, reshape(o, {B, T, H * Dv}));
  }

 private:
  Var short_conv(Tape& tape, Var x, int i) const { return silu(conv_[i](tape, x)); }
  // x / sqrt(sum x^2 + 1e-6) over the last axis (FLA's l2norm).
  static Var l2norm(Var x) { return x * rsqrt(sum(square(x), -1, true) + 1e-6); }

  // Token by token: S = a S + b k (v^T - a k^T S), o = S^T q. q, k [B, H, T, Dk], v [B, H, T, Dv], beta, g [B, H, T].
  Var recurrent(Var q, Var k, Var v, Var beta, Var g) const {
    const int64_t B = q.dim(0), H = q.dim(1), T = q.dim(2), Dk = q.dim(3);
    Var S;  // [B, H, Dk, Dv]
    std::vector<Var>& outs = outs_;
    outs.clear();
    for (int64_t t = 0; t < T; ++t) {
      Var qt = slice(q, 2, t, t + 1), kt = slice(k, 2, t, t + 1), vt = slice(v, 2, t, t + 1);  // [B, H, 1, .]
      Var bt = reshape(slice(beta, 2, t, t + 1), {B, H, 1, 1});
      Var kcol = reshape(kt, {B, H, Dk, 1});
      if (!S.defined()) {
        S = matmul(kcol, vt * bt);
      } else {
        if (g.defined()) S = S * exp(reshape(slice(g, 2, t, t + 1), {B, H, 1, 1}));
        S = S + matmul(kcol, (vt - matmul(kt, S)) * bt);
      }
      outs.push_back(matmul(qt, S));  // [B, H, 1, Dv]
    }
    return concat(std::span<const Var>(outs), 2);
  }

  // The chunkwise WY/UT form over chunks of C tokens (the last one padded with zero keys, values, b and g,
  // which change nothing). Shapes per chunk batch [B, H, n, C, .].
  Var chunked(Tape& tape, Var q, Var k, Var v, Var beta, Var g) const {
    const int64_t B = q.dim(0), H = q.dim(1), T = q.dim(2);
    const int64_t C = std::min(chunk_, T), n = (T + C - 1) / C;
    Var qc = to_chunks(tape, q, C), kc = to_chunks(tape, k, C), vc = to_chunks(tape, v, C);
    Var bc = to_chunks(tape, reshape(beta, {B, H, T, 1}), C);                                  // [B, H, n, C, 1]
    // G: the running sum of the log decays within each chunk (0 without a gate).
    Var G = g.defined() ? cumsum(to_chunks(tape, reshape(g, {B, H, T, 1}), C), 3) : Var();      // [B, H, n, C, 1]
    Var decay;                                                                                  // e^{G_i - G_j}, j <= i
    if (G.defined()) decay = exp(causal_mask(G - reshape(G, {B, H, n, 1, C})));               // [B, H, n, C, C]
    Var kb = kc * bc;
    Var A = matmul(kb, kc, false, true);                                                        // [B, H, n, C, C]
    if (decay.defined()) A = A * decay;
    // T = (I + A)^-1 with A strictly lower (its diagonal and above are not read), then the inputs of the
    // delta rule U = T (b v) and W = T (b k e^G).
    Var Tinv = unit_lower_inverse(tape, -A, rows_);                                            // [B, H, n, C, C]
    Var U = matmul(Tinv, vc * bc), W = matmul(Tinv, G.defined() ? kb * exp(G) : kb);           // [B, H, n, C, .]
    // The chunks in order: o = (q e^G) S + (q k^T o decay, lower incl. the diagonal) (U - W S).
    Var scores = matmul(qc, kc, false, true);
    scores = decay.defined() ? scores * decay : causal_mask(scores, 0.0);                      // [B, H, n, C, C]
    Var S;  // [B, H, Dk, Dv]
    std::vector<Var>& outs = outs_;
    outs.clear();
    for (int64_t c = 0; c < n; ++c) {
      Var qi = chunk_of(qc, c), ki = chunk_of(kc, c), Ui = chunk_of(U, c), Wi = chunk_of(W, c);
      Var si = chunk_of(scores, c), Gi = G.defined() ? chunk_of(G, c) : Var();
      Var v_new = S.defined() ? Ui - matmul(Wi, S) : Ui;
      Var o = matmul(si, v_new);
      if (S.defined()) o = o + matmul(Gi.defined() ? qi * exp(Gi) : qi, S);
      outs.push_back(o);
      if (c + 1 == n) break;
      // S <- e^{G_last} S + (k e^{G_last - G})^T v_new
      Var kw = ki;
      if (Gi.defined()) {
        Var last = slice(Gi, 2, C - 1, C);                                                     // [B, H, 1, 1]
        kw = ki * exp(last - Gi);
        if (S.defined()) S = S * exp(last);
      }
      Var update = matmul(kw, v_new, true, false);
      S = S.defined() ? S + update : update;
    }
    return join_chunks(outs, T);                                                                // [B, H, T, Dv]
  }

  DeltaShape shape_;
  std::string mode_;
  int64_t chunk_ = 16;
  double eps_ = 1e-5;
  bool neg_eigval_ = false;
  Linear q_proj_, k_proj_, v_proj_, b_proj_, a_proj_, g_proj_, o_proj_;
  DepthwiseCausalConv conv_[3];  // q, k, v
  Param A_log_, dt_bias_, o_norm_;
  // Members so that steps after the first allocate nothing (the no-allocation test covers every layer).
  mutable std::vector<Var> rows_, outs_;
};

template <bool Gated>
std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<DeltaNet>(c, s, ctx, Gated);
}

// The matrix state per head, H Dk Dv (the conv_size - 1 buffered inputs of the three short convolutions are not
// counted, as for mamba).
template <bool Gated>
StateSize state(const config::Value& c, const BuildContext&) {
  const DeltaShape s = delta_shape(c, Gated);
  return {s.heads * s.head_k * s.head_v, true};
}

// Per token and head in the recurrent form: k^T S (2 Dk Dv), the rank-one update (3 Dk Dv), the decay (Dk Dv,
// gated) and S^T q (2 Dk Dv).
template <bool Gated>
double mixing_flops(const config::Value& c, const BuildContext&) {
  const DeltaShape s = delta_shape(c, Gated);
  return static_cast<double>(s.heads) * (Gated ? 8.0 : 7.0) * static_cast<double>(s.head_k * s.head_v);
}

// deltanet: heads and the key and value width factors (as linear attention); gated-deltanet: heads 1..32,
// head_dim 4..64 and expand_v 1 or 2. The state H Dk Dv.
std::vector<config::Value> deltanet_size_options(const config::Value& c, const BuildContext& ctx) {
  return heads_and_key_value_widths(c, ctx.dim > 0 ? ctx.dim : c.get<int64_t>("dim"));
}
std::vector<config::Value> gated_size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> out;
  for (int64_t heads = 1; heads <= 32; ++heads)
    for (int64_t head_dim : {4, 8, 12, 16, 24, 32, 48, 64})
      for (int64_t ev : {1, 2}) {
        config::Value o = c;
        o.set("num_heads", config::Value(heads));
        o.set("head_dim", config::Value(head_dim));
        o.set("expand_v", config::Value(ev));
        if (o != c) out.push_back(std::move(o));
      }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  LayerEntry delta{"deltanet", "delta-rule", true,
                   "DeltaNet: delta-rule linear attention, 4 heads of 32, short convs, L2-normalised q and k",
                   &build<false>, &state<false>, &mixing_flops<false>, &deltanet_size_options};
  delta.small_test_overrides = "{num_heads: 2, chunk_size: 4}";
  r.add(std::move(delta));
  LayerEntry gated{"gated-deltanet", "delta-rule", true,
                   "Gated DeltaNet: delta rule with a per-head decay, 6 heads of 16 (values 32), output gate",
                   &build<true>, &state<true>, &mixing_flops<true>, &gated_size_options};
  gated.small_test_overrides = "{num_heads: 2, head_dim: 4, chunk_size: 4}";
  r.add(std::move(gated));
}

}  // namespace mad::models
