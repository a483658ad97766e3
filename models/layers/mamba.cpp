// mamba: Mamba-1 (the reference's Mamba block, "simple" form), x [B, T, D] -> [B, T, D]; mamba2 (Mamba-2, SSD)
// further down.
//
//   (x, z) = split(in_proj x)                              2 x [B, T, E],  E = expand * D
//   u      = silu(depthwise_causal_conv(x))                [B, T, E]       (kernel d_conv, bias)
//   (dt, Bm, Cm) = split(x_proj u)                         [B, T, R], 2 x [B, T, N]
//   dt     = softplus(dt_proj dt)                          [B, T, E]       (dt_proj R -> E with bias)
//   y      = selective_scan(u, dt, A, Bm, Cm) + D * u      A = -exp(A_log) [E, N]
//   out    = out_proj(y * silu(z))
// The selective scan h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t, y_t = C_t h_t is one op (core/ops.h,
// kernels/selective_scan.h), checked against the step-by-step recurrence in tests/gradcheck/test_selective_scan.cpp.
//
// Initialisation as the reference (mamba_ssm's Mamba): A_log[c, n] = log(n + 1), D = 1, dt_proj weight
// U(+-dt_scale / sqrt(R)), dt_proj bias inv_softplus(dt) with dt = max(exp(U[log dt_min, log dt_max]),
// dt_init_floor), so that softplus(bias) starts in [dt_min, dt_max]; conv as PyTorch's Conv1d
// (U(+-1/sqrt(d_conv))); in_proj, x_proj, out_proj as the backbone's Linear init.
#include <cmath>
#include <string>
#include <vector>

#include "core/budget.h"
#include "models/blocks/pieces.h"
#include "models/layers/config_checks.h"
#include "models/registry.h"

namespace mad::models {
namespace {

struct MambaShape {
  int64_t dim, inner, d_state, d_conv, dt_rank;
};

MambaShape mamba_shape(const config::Value& c) {
  MambaShape s{};
  s.dim = c.get<int64_t>("dim");
  const int64_t expand = c.get<int64_t>("expand");
  MAD_CHECK(expand >= 1, "{}: expand must be a positive integer, got {}", c.at("expand").where(), expand);
  s.inner = checked_mul(expand, s.dim, fmt::format("{}: expand x dim", c.at("expand").where()));
  s.d_state = int_at_least(c, "d_state", 1);
  s.d_conv = int_at_least(c, "d_conv", 1);
  const config::Value& r = c.at("dt_rank");
  if (r.kind() == config::Value::Kind::String) {
    MAD_CHECK(r.as_string() == "auto", "{}: dt_rank must be auto (ceil(dim / 16)) or a positive integer, got '{}'",
              r.where(), r.as_string());
    s.dt_rank = (s.dim + 15) / 16;
  } else {
    s.dt_rank = r.as_int();
    MAD_CHECK(s.dt_rank >= 1, "{}: dt_rank must be auto or a positive integer, got {}", r.where(), s.dt_rank);
  }
  // The sizes the layer multiplies, checked once here: x_proj's width and the state E x N.
  checked_add(s.dt_rank, checked_mul(2, s.d_state, fmt::format("{}: 2 x d_state", c.at("d_state").where())),
              fmt::format("{}: dt_rank + 2 x d_state", c.at("d_state").where()));
  checked_mul(s.inner, s.d_state, fmt::format("{}: the state expand x dim x d_state", c.at("d_state").where()));
  return s;
}

// softplus^-1(exp(u)) for u ~ U[log dt_min, log dt_max], dt floored at `floor`.
Init dt_bias_init(const config::Value& c) {
  const double lo = c.get<double>("dt_min"), hi = c.get<double>("dt_max"), floor = c.get<double>("dt_init_floor");
  MAD_CHECK(lo > 0 && hi >= lo, "{}: need 0 < dt_min <= dt_max, got dt_min {} and dt_max {}", c.at("dt_min").where(),
            lo, hi);
  MAD_CHECK(floor > 0, "{}: dt_init_floor must be positive, got {}", c.at("dt_init_floor").where(), floor);
  return inverse_softplus_dt_init(lo, hi, floor);
}

class Mamba : public Layer {
 public:
  Mamba(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(mamba_shape(c)) {
    const MambaShape& m = shape_;
    const bool bias = c.get<bool>("bias");
    in_proj_ = Linear(s.sub("in_proj"), m.dim, 2 * m.inner, bias, ctx);
    conv_ = DepthwiseCausalConv(s.sub("conv1d"), m.inner, m.d_conv, c.get<bool>("conv_bias"));
    x_proj_ = Linear(s.sub("x_proj"), m.inner, m.dt_rank + 2 * m.d_state, false, ctx);
    const double dt_std = c.get<double>("dt_scale") / std::sqrt(static_cast<double>(m.dt_rank));
    dt_weight_ = s.sub("dt_proj").param("weight", {m.inner, m.dt_rank}, ctx.linear_weight(Init::uniform(-dt_std, dt_std)));
    dt_bias_ = s.sub("dt_proj").param("bias", {m.inner}, dt_bias_init(c));
    // Computed at finalize(), not here: declaring the layer (mad describe) must not cost E x N memory.
    const int64_t n_state = m.d_state;
    A_log_ = s.param("A_log", {m.inner, m.d_state},
                     Init::of_index([n_state](int64_t i) { return std::log(static_cast<double>(i % n_state + 1)); }));
    D_ = s.param("D", {m.inner}, Init::ones());
    out_proj_ = Linear(s.sub("out_proj"), m.inner, m.dim, bias, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const MambaShape& m = shape_;
    Var xz[2];
    const int64_t halves[] = {m.inner, m.inner};
    split(in_proj_(tape, x), -1, halves, xz);  // x, z [B, T, E]
    Var u = silu(conv_(tape, xz[0]));
    Var parts[3];
    const int64_t sizes[] = {m.dt_rank, m.d_state, m.d_state};
    split(x_proj_(tape, u), -1, sizes, parts);  // dt [B, T, R], B, C [B, T, N]
    Var dt = softplus(matmul(parts[0], dt_weight_.on(tape), false, true) + dt_bias_.on(tape));  // [B, T, E]
    Var A = -exp(A_log_.on(tape));                                                             // [E, N]
    Var y = selective_scan(u, dt, A, parts[1], parts[2]) + u * D_.on(tape);                    // [B, T, E]
    return out_proj_(tape, swiglu_gate(xz[1], y));                                            // silu(z) * y
  }

 private:
  MambaShape shape_;
  Linear in_proj_, x_proj_, out_proj_;
  DepthwiseCausalConv conv_;
  Param dt_weight_, dt_bias_, A_log_, D_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Mamba>(c, s, ctx);
}

// mad-protocol.md section 7: expand * D * d_state (1024 at D = 128). The d_conv - 1 buffered conv inputs the
// recurrent form also carries are not counted, as in the protocol.
StateSize state(const config::Value& c, const BuildContext&) {
  const MambaShape m = mamba_shape(c);
  return {m.inner * m.d_state, true};
}

// Per token and (channel, state) pair the scan spends about 6 flops: dt * A, exp(.) * h, + dt B u (B times the
// shared dt u), C h and its sum; the exp itself is not counted (as attention's softmax is not).
double mixing_flops(const config::Value& c, const BuildContext&) {
  const MambaShape m = mamba_shape(c);
  return 6.0 * static_cast<double>(m.inner * m.d_state);
}

// Size knobs: d_state and expand (state E * N and most parameters scale with them).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> options;
  for (int64_t expand : {1, 2, 3, 4})
    for (int64_t d_state : {1, 2, 4, 8, 16, 32, 64}) {
      config::Value o = c;
      o.set("expand", config::Value(expand));
      o.set("d_state", config::Value(d_state));
      options.push_back(std::move(o));
    }
  return options;
}


// ---- mamba2 --------------------------------------------------------------------------------------------
// Mamba-2 (Dao & Gu 2024, "Transformers are SSMs", arXiv:2405.21060; state-spaces/mamba, mamba_ssm/modules/
// mamba2.py, ngroups 1), x [B, T, D] -> [B, T, D], E = expand * D, H = E / headdim heads of P = headdim:
//   (z, xBC, dt) = split(in_proj x)                    [B, T, E], [B, T, E + 2N], [B, T, H]
//   (u, Bm, Cm)  = split(silu(depthwise_causal_conv(xBC)))   [B, T, E], 2 x [B, T, N]   (kernel d_conv, bias)
//   dt = softplus(dt + dt_bias),  A = -exp(A_log)         [B, T, H], [H]: one scalar decay per head (SSD)
//   per head h:  S_t = exp(dt_t A_h) S_{t-1} + Bm_t (dt_t u_t)^T,   y_t = S_t^T Cm_t + D_h u_t   (S [N, P])
//   out = out_proj(RMSNorm(y * silu(z)))               (the reference's gated norm, norm_before_gate false)
// Forms (`mode`), the same numbers (tests/models/test_mixer_layers.cpp, 1e-10 in float64):
//   quadratic  SSD's dual, masked attention-like form: y = (L o Cm Bm^T) (dt u), L_ts = exp(sum_{t'=s+1..t} dt A);
//              O(T^2), the default: at MAD's lengths the fastest by far (docs/layers.md);
//   chunked    SSD's chunked algorithm: causal_linear_attention with the per-head log decay dt A (masked
//              products inside chunks of chunk_size, the state between them), O(T);
//   scan       the selective_scan op of mamba with A and dt repeated over each head's P channels;
//   recurrent  the state stepped token by token from the formulas (the test oracle).
// Initialisation as the reference: A = U[A_init_range] (A_log = log A), D = 1, dt_bias = inv_softplus(dt) with
// dt = max(exp(U[log dt_min, log dt_max]), dt_init_floor), conv as PyTorch's Conv1d, norm weight 1.

struct Mamba2Shape {
  int64_t dim, inner, d_state, d_conv, headdim, heads;
};

Mamba2Shape mamba2_shape(const config::Value& c) {
  Mamba2Shape s{};
  s.dim = c.get<int64_t>("dim");
  const int64_t expand = int_at_least(c, "expand", 1);
  s.inner = checked_mul(expand, s.dim, fmt::format("{}: expand x dim", c.at("expand").where()));
  s.d_state = int_at_least(c, "d_state", 1);
  s.d_conv = int_at_least(c, "d_conv", 1);
  s.headdim = int_at_least(c, "headdim", 1);
  MAD_CHECK(s.inner % s.headdim == 0, "{}: headdim {} must divide the inner width expand x dim = {}",
            c.at("headdim").where(), s.headdim, s.inner);
  s.heads = s.inner / s.headdim;
  MAD_CHECK(c.get<int64_t>("ngroups") == 1, "{}: only ngroups 1 (B and C shared by all heads, the reference's default) is built",
            c.at("ngroups").where());
  checked_mul(s.inner, s.d_state, fmt::format("{}: the state expand x dim x d_state", c.at("d_state").where()));
  return s;
}

class Mamba2 : public Layer {
 public:
  Mamba2(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(mamba2_shape(c)) {
    const Mamba2Shape& m = shape_;
    mode_ = c.get<std::string>("mode");
    MAD_CHECK(mode_ == "chunked" || mode_ == "scan" || mode_ == "quadratic" || mode_ == "recurrent",
              "{}: mode must be chunked (SSD chunks), scan (selective scan), quadratic (SSD's masked dual form) or "
              "recurrent (token by token, the test oracle), got '{}'", c.at("mode").where(), mode_);
    chunk_ = int_at_least(c, "chunk_size", 1);
    eps_ = c.get<double>("norm_eps");
    const std::vector<double> range = c.get<std::vector<double>>("A_init_range");
    MAD_CHECK(range.size() == 2 && range[0] > 0 && range[1] >= range[0],
              "{}: A_init_range is [low, high] with 0 < low <= high (A = -U[low, high]), got {}",
              c.at("A_init_range").where(), c.at("A_init_range").describe());
    const bool bias = c.get<bool>("bias");
    const int64_t conv_channels = m.inner + 2 * m.d_state;
    in_proj_ = Linear(s.sub("in_proj"), m.dim, 2 * m.inner + 2 * m.d_state + m.heads, bias, ctx);
    conv_ = DepthwiseCausalConv(s.sub("conv1d"), conv_channels, m.d_conv, c.get<bool>("conv_bias"));
    dt_bias_ = s.param("dt_bias", {m.heads}, dt_bias_init(c));
    A_log_ = s.param("A_log", {m.heads}, Init::uniform(range[0], range[1]).then([](double a) { return std::log(a); }));
    D_ = s.param("D", {m.heads}, Init::ones());
    norm_weight_ = s.sub("norm").param("weight", {m.inner}, Init::ones());
    out_proj_ = Linear(s.sub("out_proj"), m.inner, m.dim, bias, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const Mamba2Shape& m = shape_;
    const int64_t B = x.dim(0), T = x.dim(1), H = m.heads, P = m.headdim, N = m.d_state, E = m.inner;
    Var zxd[3];
    const int64_t sizes[] = {E, E + 2 * N, H};
    split(in_proj_(tape, x), -1, sizes, zxd);  // z [B, T, E], xBC [B, T, E + 2N], dt [B, T, H]
    Var xbc = silu(conv_(tape, zxd[1]));
    Var ubc[3];
    const int64_t parts[] = {E, N, N};
    split(xbc, -1, parts, ubc);                                   // u [B, T, E], Bm, Cm [B, T, N]
    Var dt = softplus(zxd[2] + dt_bias_.on(tape));                // [B, T, H]
    Var A = -exp(A_log_.on(tape));                                // [H]
    Var u = reshape(ubc[0], {B, T, H, P});                        // [B, T, H, P]
    Var du = u * reshape(dt, {B, T, H, 1});                       // dt_t u_t [B, T, H, P]
    Var y;                                                        // [B, T, H, P]
    const DType type = x.dtype();
    if (mode_ == "chunked") {
      // Bm and Cm shared by the heads, the decay dt A shared by a head's N state rows.
      Var zeros = tape.constant(tape.zeros(Shape({B, T, H, N}), type));
      Var q = zeros + reshape(ubc[2], {B, T, 1, N}), k = zeros + reshape(ubc[1], {B, T, 1, N});
      y = causal_linear_attention(q, k, du, zeros + reshape(dt * A, {B, T, H, 1}), chunk_);
    } else if (mode_ == "scan") {
      Var dt_e = reshape(tape.constant(tape.zeros(Shape({B, T, H, P}), type)) + reshape(dt, {B, T, H, 1}), {B, T, E});
      Var A_e = reshape(tape.constant(tape.zeros(Shape({H, P, N}), type)) + reshape(A, {H, 1, 1}), {E, N});
      y = reshape(selective_scan(ubc[0], dt_e, A_e, ubc[1], ubc[2]), {B, T, H, P});
    } else if (mode_ == "quadratic") {
      y = quadratic(dt * A, ubc[1], ubc[2], du);
    } else {
      y = recurrent(dt * A, ubc[1], ubc[2], du);
    }
    y = y + u * reshape(D_.on(tape), {H, 1});                     // the skip D_h u_t
    Var gated = rms_norm(reshape(y, {B, T, E}) * silu(zxd[0]), norm_weight_.on(tape), eps_);
    return out_proj_(tape, gated);
  }

 private:
  // SSD's dual form per (batch, head): y = (L o Cm Bm^T) du with L_ts = exp(G_t - G_s) for s <= t, 0 above the
  // diagonal, G the running sum of the log decays a = dt A [B, T, H]. Bm, Cm [B, T, N], du [B, T, H, P].
  static Var quadratic(Var a, Var Bm, Var Cm, Var du) {
    const int64_t B = du.dim(0), T = du.dim(1), H = du.dim(2);
    Var g = permute(cumsum(a, 1), {0, 2, 1});                                                   // [B, H, T]
    Var decay = exp(causal_mask(reshape(g, {B, H, T, 1}) - reshape(g, {B, H, 1, T})));         // [B, H, T, T]
    Var scores = decay * reshape(matmul(Cm, Bm, false, true), {B, 1, T, T});                  // [B, H, T, T]
    return permute(matmul(scores, permute(du, {0, 2, 1, 3})), {0, 2, 1, 3});
  }

  // Token by token: S_t = exp(a_t) S_{t-1} + du_t (x) Bm_t per head (S [B, H, P, N]), y_t = S_t Cm_t.
  Var recurrent(Var a, Var Bm, Var Cm, Var du) const {
    const int64_t B = du.dim(0), T = du.dim(1), H = du.dim(2), P = du.dim(3), N = Bm.dim(2);
    Var S;
    std::vector<Var>& ys = steps_;
    ys.clear();
    for (int64_t t = 0; t < T; ++t) {
      Var bt = reshape(slice(Bm, 1, t, t + 1), {B, 1, 1, N}), ct = reshape(slice(Cm, 1, t, t + 1), {B, 1, 1, N});
      Var input = reshape(slice(du, 1, t, t + 1), {B, H, P, 1}) * bt;   // [B, H, P, N]
      S = t == 0 ? input : S * exp(reshape(slice(a, 1, t, t + 1), {B, H, 1, 1})) + input;
      ys.push_back(reshape(sum(S * ct, -1), {B, 1, H, P}));
    }
    return concat(std::span<const Var>(ys), 1);
  }

  Mamba2Shape shape_;
  std::string mode_;
  int64_t chunk_ = 64;
  double eps_ = 1e-5;
  Linear in_proj_, out_proj_;
  DepthwiseCausalConv conv_;
  Param dt_bias_, A_log_, D_, norm_weight_;
  // Members so that steps after the first allocate nothing, in the recurrent form too.
  mutable std::vector<Var> steps_;
};

std::unique_ptr<Layer> build_mamba2(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Mamba2>(c, s, ctx);
}

// As mamba's (mad-protocol.md section 7): the SSM state, H heads x P x N = E N (the d_conv - 1 buffered conv
// inputs are not counted).
StateSize mamba2_state(const config::Value& c, const BuildContext&) {
  const Mamba2Shape m = mamba2_shape(c);
  return {m.inner * m.d_state, true};
}

// Per token and (channel, state) pair: exp(a) S, + du B, C S and its sum, about 5 flops (the decay is per head).
double mamba2_mixing_flops(const config::Value& c, const BuildContext&) {
  const Mamba2Shape m = mamba2_shape(c);
  return 5.0 * static_cast<double>(m.inner * m.d_state);
}

// expand 1..4 and d_state 1..128 (powers of two), keeping headdim where it divides the inner width (else the
// largest power of two that does): the state E N.
std::vector<config::Value> mamba2_size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> options;
  const int64_t dim = c.get<int64_t>("dim"), headdim = c.get<int64_t>("headdim");
  for (int64_t expand : {1, 2, 3, 4})
    for (int64_t d_state : {1, 2, 4, 8, 16, 32, 64, 128}) {
      config::Value o = c;
      o.set("expand", config::Value(expand));
      o.set("d_state", config::Value(d_state));
      int64_t h = headdim;
      while ((expand * dim) % h != 0) h /= 2;
      o.set("headdim", config::Value(h));
      if (o != c) options.push_back(std::move(o));
    }
  return options;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"mamba", "mamba", true, "Mamba-1: selective scan (S6), d_state 4, expand 2, causal conv 4, SiLU gate",
         &build, &state, &mixing_flops, &size_options});
  LayerEntry mamba2{"mamba2", "mamba", true,
                    "Mamba-2 (SSD): scalar decay per head, 4 heads of 64, d_state 128, expand 2, conv 4, gated RMSNorm",
                    &build_mamba2, &mamba2_state, &mamba2_mixing_flops, &mamba2_size_options};
  mamba2.small_test_overrides = "{d_state: 3, headdim: 8}";  // 2 heads of 8 at width 16 (expand 2)
  r.add(std::move(mamba2));
}

}  // namespace mad::models
