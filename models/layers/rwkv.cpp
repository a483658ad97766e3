// RWKV: rwkv5-time-mixer, rwkv6-time-mixer (sequence mixers) and rwkv5-channel-mixer, rwkv6-channel-mixer
// (the reference's TimeMixer_RWKV5/6 and ChannelMixer_RWKV5/6, adapted there from BlinkDL's RWKV-LM).
//
// Token shift: xx_t = x_{t-1} (0 at t = 0). Every projection input is a per-channel mix of x_t and x_{t-1}.
//
// Time mixer, H heads of N = head_dim channels (dim_att = H * N):
//   r, k, v = receptance(x_r), key(x_k), value(x_v), g = silu(gate(x_g))   [B, T, H, N] (no bias)
//   WKV per head, state S [N, N] (key channel x value channel), S_{-1} = 0:
//     y_t = r_t^T S_{t-1} + (r_t . (u * k_t)) v_t          u = time_faaaa [H, N], the bonus of the current token
//     S_t = diag(w_t) S_{t-1} + k_t v_t^T                   w = exp(-exp(time_decay ...)) in (0, 1)
//   out = output( GroupNorm_H(y) * g )                      (GroupNorm over each head's N channels, affine)
// RWKV-5: mixes x_* = x * time_mix_* + xx * (1 - time_mix_*); w constant per (head, channel) from
//   time_decay [H, N]; GroupNorm of y / head_dim_divisor with eps 1e-5.
// RWKV-6: data-dependent token shift and decay through low-rank ("LoRA") projections:
//   d = xx - x, m_{w,k,v,r,g} = tanh((x + d * time_maa_x) time_maa_w1) time_maa_w2 (rank time_mix_extra_dim
//   per target), x_* = x + d * (time_maa_* + m_*),  log w_t = -exp(time_decay + tanh(x_w time_decay_w1)
//   time_decay_w2) (rank time_decay_extra_dim); GroupNorm of y with eps 1e-5 * head_dim_divisor^2 (the same
//   function as RWKV-5's: scaling y by 1/divisor scales its variance by 1/divisor^2).
//
// Two forms of WKV (`mode`): `chunk` (our default) shifts k, v and the decay by one step, so that
// r_t^T S_{t-1} is exactly causal_linear_attention(r, k_{t-1}, v_{t-1}, log w_{t-1}) (chunkwise, exact
// gradients), and adds the bonus term elementwise; `recurrent` runs the recurrence above one step at a time
// through primitive ops, materialising every S_t (the test oracle, too heavy to train with).
//
// Channel mixer: out = sigmoid(receptance(x_r)) * value(relu(key(x_k))^2), inner width dim_inner. RWKV-5
// mixes x_* = x * time_mix_* + xx * (1 - time_mix_*), RWKV-6 x_* = x + (xx - x) * time_maa_*: the same
// function, and with the reference's initialisations (time_maa = 1 - time_mix) the same initial layer.
//
// Initialisation follows the reference with its defaults layer_id = 0, n_layer = 1 (MAD passes neither):
// ratio_0_to_1 = 0, ratio_1_to_almost0 = 1, ddd_i = i / dim. The reference computes in bfloat16; we compute
// in float32 (float64 in tests).
#include <cmath>
#include <vector>

#include "models/layers/config_checks.h"
#include "models/registry.h"

namespace mad::models {
namespace {

struct RwkvShape {
  int64_t dim, dim_att, head_dim, heads;
};

RwkvShape time_mixer_shape(const config::Value& c) {
  RwkvShape s{};
  s.dim = c.get<int64_t>("dim");
  s.dim_att = c.get<int64_t>("dim_att");
  s.head_dim = c.get<int64_t>("head_dim");
  MAD_CHECK(s.dim_att >= 1, "{}: dim_att must be >= 1, got {}", c.at("dim_att").where(), s.dim_att);
  MAD_CHECK(s.head_dim >= 1 && s.dim_att % s.head_dim == 0,
            "{}: head_dim {} must divide dim_att {} (the number of heads is dim_att / head_dim)",
            c.at("head_dim").where(), s.head_dim, s.dim_att);
  s.heads = s.dim_att / s.head_dim;
  return s;
}

// x [B, T, C] -> x_{t-1} [B, T, C] with zeros at t = 0 (the reference's ZeroPad2d((0, 0, 1, -1))).
Var token_shift(Tape& tape, Var x) {
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2);
  Var zero = tape.constant(tape.zeros(Shape({B, 1, C}), x.dtype()));
  if (T == 1) return zero;
  return concat({zero, slice(x, 1, 0, T - 1)}, 1);
}

// a [B, T, H, N] -> a_{t-1} with zeros at t = 0.
Var shift4(Tape& tape, Var a) {
  const int64_t B = a.dim(0), T = a.dim(1), H = a.dim(2), N = a.dim(3);
  return reshape(token_shift(tape, reshape(a, {B, T, H * N})), {B, T, H, N});
}

// Computed at finalize() (Init::of_index), not when the layer is declared: `mad describe` of a huge dim
// allocates nothing of that size.
// ddd_i = i / dim, i = 0 .. dim-1, raised to `p`, times `scale`, plus `offset`: the reference's time-mix inits.
Init ramp(int64_t dim, double p, double scale, double offset) {
  return Init::of_index([=](int64_t i) {
    return offset + scale * std::pow(static_cast<double>(i) / static_cast<double>(dim), p);
  });
}

// The reference's time_decay init (ratio_0_to_1 = 0): -6 + 5 (n / (dim_att - 1))^0.7.
Init decay_speed(int64_t dim_att) {
  return Init::of_index([dim_att](int64_t n) {
    const double frac = dim_att > 1 ? static_cast<double>(n) / static_cast<double>(dim_att - 1) : 0.0;
    return -6.0 + 5.0 * std::pow(frac, 0.7);
  });
}

// The reference's time_faaaa (bonus u) init (ratio_0_to_1 = 0): the zigzag ((n + 1) % 3 - 1) * 0.1.
Init bonus_zigzag(int64_t) {
  return Init::of_index([](int64_t n) { return static_cast<double>((n + 1) % 3 - 1) * 0.1; });
}

// WKV, chunkwise: r, k, v, log_w [B, T, H, N] (log_w <= 0), u [H, N] -> y [B, T, H, N].
// r_t^T S_{t-1} is the linear-attention recurrence fed with k, v and the decay one step late:
// S'_t = diag(w_{t-1}) S'_{t-1} + k_{t-1} v_{t-1}^T equals S_{t-1} (S'_0 = 0 whatever the decay at t = 0).
Var wkv_chunked(Tape& tape, Var r, Var k, Var v, Var log_w, Var u) {
  Var past = causal_linear_attention(r, shift4(tape, k), shift4(tape, v), shift4(tape, log_w));
  Var bonus = sum(r * u * k, 3, true) * v;  // (r_t . (u * k_t)) v_t
  return past + bonus;
}

// WKV, step by step (the test oracle): the recurrence in the header, keeping every S_t [B, H, N, N].
Var wkv_recurrent(Var r, Var k, Var v, Var log_w, Var u) {
  const int64_t B = r.dim(0), T = r.dim(1), H = r.dim(2), N = r.dim(3);
  auto column = [&](Var a, int64_t t) { return reshape(slice(a, 1, t, t + 1), {B, H, N, 1}); };
  Var u_column = reshape(u, {1, H, N, 1});
  Var S;  // [B, H, N, N]
  std::vector<Var> outs;
  for (int64_t t = 0; t < T; ++t) {
    Var kv = column(k, t) * reshape(slice(v, 1, t, t + 1), {B, H, 1, N});
    Var read = S.defined() ? S + u_column * kv : u_column * kv;
    outs.push_back(reshape(sum(column(r, t) * read, 2), {B, 1, H, N}));
    S = S.defined() ? S * exp(column(log_w, t)) + kv : kv;
  }
  return concat(outs, 1);
}

class TimeMixer : public Layer {
 public:
  TimeMixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx, int version)
      : shape_(time_mixer_shape(c)), version_(version) {
    const std::string mode = c.get<std::string>("mode");
    MAD_CHECK(mode == "chunk" || mode == "recurrent",
              "{}: mode must be chunk (chunkwise, for training) or recurrent (step by step, the test oracle), got '{}'",
              c.at("mode").where(), mode);
    recurrent_ = mode == "recurrent";
    const double divisor = c.get<double>("head_dim_divisor");
    MAD_CHECK(divisor > 0, "{}: head_dim_divisor must be positive", c.at("head_dim_divisor").where());
    const RwkvShape& h = shape_;
    const int64_t D = h.dim, A = h.dim_att;
    if (version_ == 5) {
      norm_scale_ = 1.0 / divisor;
      norm_eps_ = 1e-5;
      mix_k_ = s.param("time_mix_k", {1, 1, D}, ramp(D, 1.0, 1.0, 0.0));
      mix_v_ = s.param("time_mix_v", {1, 1, D}, ramp(D, 1.0, 1.0, 0.0));
      mix_r_ = s.param("time_mix_r", {1, 1, D}, ramp(D, 0.5, 1.0, 0.0));
      mix_g_ = s.param("time_mix_g", {1, 1, D}, ramp(D, 0.5, 1.0, 0.0));
      time_decay_ = s.param("time_decay", {h.heads, h.head_dim}, decay_speed(A));
    } else {
      mix_rank_ = c.get<int64_t>("time_mix_extra_dim");
      decay_rank_ = c.get<int64_t>("time_decay_extra_dim");
      MAD_CHECK(mix_rank_ >= 1, "{}: time_mix_extra_dim must be >= 1", c.at("time_mix_extra_dim").where());
      MAD_CHECK(decay_rank_ >= 1, "{}: time_decay_extra_dim must be >= 1", c.at("time_decay_extra_dim").where());
      norm_scale_ = 1.0;
      norm_eps_ = 1e-5 * divisor * divisor;
      maa_x_ = s.param("time_maa_x", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      maa_w_ = s.param("time_maa_w", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      mix_k_ = s.param("time_maa_k", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      mix_v_ = s.param("time_maa_v", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      mix_r_ = s.param("time_maa_r", {1, 1, D}, ramp(D, 0.5, -1.0, 1.0));
      mix_g_ = s.param("time_maa_g", {1, 1, D}, ramp(D, 0.5, -1.0, 1.0));
      maa_w1_ = s.param("time_maa_w1", {D, 5 * mix_rank_}, Init::uniform(-1e-4, 1e-4));
      maa_w2_ = s.param("time_maa_w2", {5, mix_rank_, D}, Init::uniform(-1e-4, 1e-4));
      time_decay_ = s.param("time_decay", {1, 1, A}, decay_speed(A));
      decay_w1_ = s.param("time_decay_w1", {D, decay_rank_}, Init::uniform(-1e-4, 1e-4));
      decay_w2_ = s.param("time_decay_w2", {decay_rank_, A}, Init::uniform(-1e-4, 1e-4));
    }
    bonus_ = s.param("time_faaaa", {h.heads, h.head_dim}, bonus_zigzag(A));
    receptance_ = Linear(s.sub("receptance"), D, A, false, ctx);
    key_ = Linear(s.sub("key"), D, A, false, ctx);
    value_ = Linear(s.sub("value"), D, A, false, ctx);
    output_ = Linear(s.sub("output"), A, D, false, ctx);
    gate_ = Linear(s.sub("gate"), D, A, false, ctx);
    norm_weight_ = s.sub("ln_x").param("weight", {A}, Init::ones());
    norm_bias_ = s.sub("ln_x").param("bias", {A}, Init::zeros());
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads, N = shape_.head_dim;
    Var xx = token_shift(tape, x);  // [B, T, D]
    Var xr, xk, xv, xg, log_w;      // mixed inputs [B, T, D]; log decay [B, T, H, N]
    if (version_ == 5) {
      // x * mix + xx * (1 - mix) = xx + (x - xx) * mix
      Var d = x - xx;
      xr = xx + d * mix_r_.on(tape);
      xk = xx + d * mix_k_.on(tape);
      xv = xx + d * mix_v_.on(tape);
      xg = xx + d * mix_g_.on(tape);
      // The decay is constant per (head, channel); the op wants it at every step.
      Var w = reshape(-exp(time_decay_.on(tape)), {1, 1, H, N});
      log_w = tape.constant(tape.zeros(Shape({B, T, H, N}), x.dtype())) + w;
    } else {
      Var d = xx - x;
      Var lora = tanh(matmul(x + d * maa_x_.on(tape), maa_w1_.on(tape)));  // [B, T, 5 * R]
      Var lora5 = reshape(lora, {B, T, 5, mix_rank_});
      Var w2 = maa_w2_.on(tape);  // [5, R, D]
      auto mixed = [&](int slot, const Param& base) {
        Var m = matmul(reshape(slice(lora5, 2, slot, slot + 1), {B, T, mix_rank_}),
                       reshape(slice(w2, 0, slot, slot + 1), {mix_rank_, shape_.dim}));  // [B, T, D]
        return x + d * (base.on(tape) + m);
      };
      // The reference's slot order: w, k, v, r, g.
      Var xw = mixed(0, maa_w_);
      xk = mixed(1, mix_k_);
      xv = mixed(2, mix_v_);
      xr = mixed(3, mix_r_);
      xg = mixed(4, mix_g_);
      Var ww = matmul(tanh(matmul(xw, decay_w1_.on(tape))), decay_w2_.on(tape));  // [B, T, A]
      log_w = reshape(-exp(time_decay_.on(tape) + ww), {B, T, H, N});
    }
    Var r = reshape(receptance_(tape, xr), {B, T, H, N});
    Var k = reshape(key_(tape, xk), {B, T, H, N});
    Var v = reshape(value_(tape, xv), {B, T, H, N});
    Var g = silu(gate_(tape, xg));  // [B, T, A]
    Var u = bonus_.on(tape);        // [H, N]
    Var y = recurrent_ ? wkv_recurrent(r, k, v, log_w, u) : wkv_chunked(tape, r, k, v, log_w, u);
    y = reshape(y, {B, T, shape_.dim_att});
    if (norm_scale_ != 1.0) y = y * norm_scale_;
    y = layer_norm(y, norm_weight_.on(tape), norm_bias_.on(tape), norm_eps_, H);
    return output_(tape, y * g);
  }

 private:
  RwkvShape shape_;
  int version_;
  bool recurrent_ = false;
  double norm_scale_ = 1.0, norm_eps_ = 1e-5;
  int64_t mix_rank_ = 0, decay_rank_ = 0;
  Param mix_k_, mix_v_, mix_r_, mix_g_, time_decay_, bonus_, norm_weight_, norm_bias_;
  Param maa_x_, maa_w_, maa_w1_, maa_w2_, decay_w1_, decay_w2_;  // RWKV-6 only
  Linear receptance_, key_, value_, output_, gate_;
};

int64_t channel_mixer_inner(const config::Value& c) {
  const int64_t inner = int_at_least(c, "dim_inner", 1);
  return inner;
}

class ChannelMixer : public Layer {
 public:
  ChannelMixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx, int version) : version_(version) {
    const int64_t D = c.get<int64_t>("dim"), inner = channel_mixer_inner(c);
    if (version_ == 5) {
      mix_k_ = s.param("time_mix_k", {1, 1, D}, ramp(D, 1.0, 1.0, 0.0));
      mix_r_ = s.param("time_mix_r", {1, 1, D}, ramp(D, 1.0, 1.0, 0.0));
    } else {
      mix_k_ = s.param("time_maa_k", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      mix_r_ = s.param("time_maa_r", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
    }
    key_ = Linear(s.sub("key"), D, inner, false, ctx);
    receptance_ = Linear(s.sub("receptance"), D, D, false, ctx);
    value_ = Linear(s.sub("value"), inner, D, false, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    Var xx = token_shift(tape, x);
    Var xk, xr;
    if (version_ == 5) {  // x * mix + xx * (1 - mix)
      Var d = x - xx;
      xk = xx + d * mix_k_.on(tape);
      xr = xx + d * mix_r_.on(tape);
    } else {  // x + (xx - x) * maa
      Var d = xx - x;
      xk = x + d * mix_k_.on(tape);
      xr = x + d * mix_r_.on(tape);
    }
    Var kv = value_(tape, square(relu(key_(tape, xk))));
    return sigmoid(receptance_(tape, xr)) * kv;
  }

 private:
  int version_;
  Param mix_k_, mix_r_;
  Linear key_, receptance_, value_;
};

template <int Version>
std::unique_ptr<Layer> build_time_mixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<TimeMixer>(c, s, ctx, Version);
}
template <int Version>
std::unique_ptr<Layer> build_channel_mixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<ChannelMixer>(c, s, ctx, Version);
}

// mad-protocol.md section 7: heads * d_k * d_v (8 x 16 x 16 = 2048). The token shift's previous input (dim
// floats) is not counted by the protocol's formula; neither here.
StateSize time_mixer_state(const config::Value& c, const BuildContext&) {
  const RwkvShape s = time_mixer_shape(c);
  return {s.heads * s.head_dim * s.head_dim, true};
}

// The channel mixers count as channel mixers (state 0), as the protocol's RWKV totals (4,096 for two time
// mixers) imply; strictly their token shift carries the previous input, dim floats, between tokens.
StateSize channel_mixer_state(const config::Value& c, const BuildContext&) {
  channel_mixer_inner(c);
  return {0, true};
}

// Forward FLOPs per token of the chunkwise WKV (chunk C = 16, the op's default), per head of N channels:
// the reads r^T S and the state updates, 2 N^2 each amortised, and the in-chunk scores and their product
// with v, 2 N (C + 1) on average; the bonus term 4 N. Token shift, decays and norms are elementwise and
// left out.
double time_mixer_flops(const config::Value& c, const BuildContext&) {
  const RwkvShape s = time_mixer_shape(c);
  constexpr double chunk = 16;
  const double n = static_cast<double>(s.head_dim);
  return static_cast<double>(s.heads) * (4.0 * n * n + 2.0 * n * (chunk + 1) + 4.0 * n);
}

// Size knobs of a time mixer: the head size (state heads * N^2 = dim_att * N) and the attention width
// dim_att (dim / 2, dim, 2 dim). The RWKV-6 low-rank widths are left at the reference's 32 and 64: they
// change no state and only a few parameters.
std::vector<config::Value> time_mixer_sizes(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  for (int64_t dim_att : {ctx.dim / 2, ctx.dim, 2 * ctx.dim}) {
    if (dim_att < 1) continue;
    for (int64_t n : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
      if (n > dim_att || dim_att % n != 0) continue;
      config::Value o = c;
      o.set("dim_att", config::Value(dim_att));
      o.set("head_dim", config::Value(n));
      out.push_back(std::move(o));
    }
  }
  return out;
}

// Size knob of a channel mixer: the inner width, dim / 2 .. 8 dim in steps of dim / 2.
std::vector<config::Value> channel_mixer_sizes(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  const int64_t step = std::max<int64_t>(1, ctx.dim / 2);
  for (int64_t inner = step; inner <= 8 * ctx.dim; inner += step) {
    config::Value o = c;
    o.set("dim_inner", config::Value(inner));
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"rwkv5-time-mixer", "rwkv", true,
         "RWKV-5 time mixer: token shift, WKV with per-head decay w and bonus u, 8 heads of 16, GroupNorm * silu gate",
         &build_time_mixer<5>, &time_mixer_state, &time_mixer_flops, &time_mixer_sizes});
  r.add({"rwkv5-channel-mixer", "rwkv", false,
         "RWKV-5 channel mixer: token shift, sigmoid(R x_r) * V relu(K x_k)^2, inner 512", &build_channel_mixer<5>,
         &channel_mixer_state, nullptr, &channel_mixer_sizes});
  r.add({"rwkv6-time-mixer", "rwkv", true,
         "RWKV-6 time mixer: data-dependent token shift and decay (low-rank), WKV with bonus u, 8 heads of 16",
         &build_time_mixer<6>, &time_mixer_state, &time_mixer_flops, &time_mixer_sizes});
  r.add({"rwkv6-channel-mixer", "rwkv", false,
         "RWKV-6 channel mixer: token shift, sigmoid(R x_r) * V relu(K x_k)^2, inner 512", &build_channel_mixer<6>,
         &channel_mixer_state, nullptr, &channel_mixer_sizes});
}

}  // namespace mad::models
