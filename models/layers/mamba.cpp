// mamba: Mamba-1 (the reference's Mamba block, "simple" form), x [B, T, D] -> [B, T, D].
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

#include "core/budget.h"
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
  return Init::uniform(std::log(lo), std::log(hi)).then([floor](double u) {
    const double dt = std::max(std::exp(u), floor);
    return dt + std::log(-std::expm1(-dt));
  });
}

class Mamba : public Layer {
 public:
  Mamba(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(mamba_shape(c)) {
    const MambaShape& m = shape_;
    const bool bias = c.get<bool>("bias");
    in_proj_ = Linear(s.sub("in_proj"), m.dim, 2 * m.inner, bias, ctx);
    conv_weight_ = s.sub("conv1d").param("weight", {m.inner, m.d_conv}, Init::uniform_fan_in(m.d_conv));
    if (c.get<bool>("conv_bias")) conv_bias_ = s.sub("conv1d").param("bias", {m.inner}, Init::uniform_fan_in(m.d_conv));
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
    Var u = silu(depthwise_conv1d(xz[0], conv_weight_.on(tape), conv_bias_.defined() ? conv_bias_.on(tape) : Var()));
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
  Param conv_weight_, conv_bias_, dt_weight_, dt_bias_, A_log_, D_;
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

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"mamba", "mamba", true, "Mamba-1: selective scan (S6), d_state 4, expand 2, causal conv 4, SiLU gate",
         &build, &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
