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
#include "models/layers/delta_chunks.h"
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
    if (version_ == 7) {  // RWKV-7: no receptance gate; x_k = 1 - (n / D) (the reference's first layer)
      mix_k_ = s.param("x_k", {1, 1, D}, ramp(D, 1.0, -1.0, 1.0));
      key_ = Linear(s.sub("key"), D, inner, false, ctx);
      value_ = Linear(s.sub("value"), inner, D, false, ctx);
      return;
    }
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
    if (version_ == 7) return value_(tape, square(relu(key_(tape, x + (xx - x) * mix_k_.on(tape)))));
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

// ---- RWKV-7 ----------------------------------------------------------------------------------------------
// RWKV-7 "Goose" (Peng et al. 2025, arXiv:2503.14456; BlinkDL/RWKV-LM RWKV-v7 and flash-linear-attention's
// fla/layers/rwkv7.py), its time mixer: per head of N channels the state S [N (values), N (keys)] follows the
// generalised delta rule
//   S_t = S_{t-1} diag(w_t) + (S_{t-1} a_t) b_t^T + v_t k_t^T,   o_t = S_t r_t,
// w_t = exp(-0.6065 sigmoid(lora_w(x_w))) per key channel, a_t = -kk_t, b_t = kk_t * sigmoid(lora_a(x_a)) with
// kk = normalise(k * k_k) per head, and k replaced by k (1 + (sigmoid(lora_a) - 1) k_a). Then a per-head
// GroupNorm, the bonus ((r * k * r_k) summed per head) v, the output gate lora_g(x_g) and o_proj.
// Layers here are independent, so the value residual of the reference's later layers (v mixed with the first
// layer's v) is not built: every rwkv7 time mixer is a first layer.
// Forms (`mode`), the same numbers (tests/models/test_mixer_layers.cpp, 1e-10 in float64):
//   chunk      chunks of C tokens (the last padded with zeros, which change nothing): with G the running sum of
//              log w inside the chunk, the delta terms u_t = S_{t-1} a_t solve one unit-lower-triangular system,
//              then outputs and the next state follow from masked products (dplr_chunked below);
//   recurrent  the rule above token by token (the oracle).

// The reference's low-rank adapter: x -> lora.2(act(lora.0(x))), lora.0 [rank, in] without bias, lora.2's
// bias (when it has one) set to the reference's per-channel values.
class Lora {
 public:
  Lora() = default;
  Lora(const ParamScope& s, int64_t in, int64_t out, int64_t rank, bool bias, Init bias_init, const BuildContext& ctx)
      : down_(s.sub("lora").sub(0), in, rank, false, ctx), up_(s.sub("lora").sub(2), rank, out, false, ctx) {
    if (bias) bias_ = s.sub("lora").sub(2).param("bias", {out}, bias_init);
  }
  Var operator()(Tape& tape, Var x, Var (*activation)(Var)) const {
    Var h = down_(tape, x);
    Var y = up_(tape, activation ? activation(h) : h);
    return bias_.defined() ? y + bias_.on(tape) : y;
  }

 private:
  Linear down_, up_;
  Param bias_;
};

struct Rwkv7Shape {
  int64_t dim, heads, head_dim, decay_rank, a_rank, gate_rank;
};

Rwkv7Shape rwkv7_shape(const config::Value& c) {
  Rwkv7Shape s{};
  s.dim = c.get<int64_t>("dim");
  s.head_dim = int_at_least(c, "head_dim", 1);
  MAD_CHECK(s.dim % s.head_dim == 0, "{}: head_dim {} must divide dim {} (the heads are dim / head_dim)",
            c.at("head_dim").where(), s.head_dim, s.dim);
  s.heads = s.dim / s.head_dim;
  s.decay_rank = int_at_least(c, "decay_low_rank_dim", 1);
  s.a_rank = int_at_least(c, "a_low_rank_dim", 1);
  s.gate_rank = int_at_least(c, "gate_low_rank_dim", 1);
  return s;
}

// The reference's zigzag over each head's channels, z |z| with z = ((n mod N) - (N - 1) / 2) / ((N - 1) / 2).
double zigzag(int64_t n, int64_t N) {
  const double half = N > 1 ? static_cast<double>(N - 1) / 2.0 : 1.0;
  const double z = (static_cast<double>(n % N) - half) / half;
  return z * std::abs(z);
}
// linear_n = n / (dim - 1) - 0.5.
double linear_ramp(int64_t n, int64_t dim) { return dim > 1 ? static_cast<double>(n) / static_cast<double>(dim - 1) - 0.5 : 0.0; }

// x [B, T, D] -> [B, T, D]. Initialisation as the reference's first layer (ratio_0_to_1 = 0, ratio_1_to_almost0 = 1):
// x_r, x_w, x_k, x_v, x_a, x_g = 1 - (n / D)^{0.2, 0.9, 0.7, 0.7, 0.9, 0.2}; k_k = 0.71 - 0.1 linear, k_a = 1.02,
// r_k = -0.04; lora_w bias -6 + 6 n / (D - 1) + 0.5 + 2.5 zigzag, lora_a bias -0.19 + 0.3 zigzag + 0.4 linear;
// o_proj zero. The projections take the backbone's init (the reference's orthogonal init is not built) and the
// GroupNorm weight 1 (the reference's ((layer + 1) / layers)^0.7 needs the layer count).
class Rwkv7TimeMixer : public Layer {
 public:
  Rwkv7TimeMixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(rwkv7_shape(c)) {
    const Rwkv7Shape& m = shape_;
    const int64_t D = m.dim, N = m.head_dim;
    mode_ = c.get<std::string>("mode");
    MAD_CHECK(mode_ == "chunk" || mode_ == "recurrent",
              "{}: mode must be chunk (chunks of chunk_size) or recurrent (token by token, the test oracle), got '{}'",
              c.at("mode").where(), mode_);
    chunk_ = chunk_size_setting(c);
    norm_eps_ = c.get<double>("norm_eps") * static_cast<double>(N);  // the reference's head_dim * norm_eps
    const char* mixes[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
    const double powers[] = {0.2, 0.9, 0.7, 0.7, 0.9, 0.2};
    for (int i = 0; i < 6; ++i) mix_[i] = s.param(mixes[i], {1, 1, D}, ramp(D, powers[i], -1.0, 1.0));
    k_k_ = s.param("k_k", {D}, Init::of_index([D](int64_t n) { return 0.71 - 0.1 * linear_ramp(n, D); }));
    k_a_ = s.param("k_a", {D}, Init::constant(1.02));
    r_k_ = s.param("r_k", {m.heads, N}, Init::constant(-0.04));
    r_proj_ = Linear(s.sub("r_proj"), D, D, false, ctx);
    k_proj_ = Linear(s.sub("k_proj"), D, D, false, ctx);
    v_proj_ = Linear(s.sub("v_proj"), D, D, false, ctx);
    o_proj_ = Linear(s.sub("o_proj"), D, D, false, ctx, Init::zeros());
    w_lora_ = Lora(s.sub("w_lora"), D, D, m.decay_rank, true, Init::of_index([D, N](int64_t n) {
                     return -6.0 + 6.0 * (linear_ramp(n, D) + 0.5) + 0.5 + 2.5 * zigzag(n, N);
                   }), ctx);
    a_lora_ = Lora(s.sub("a_lora"), D, D, m.a_rank, true, Init::of_index([D, N](int64_t n) {
                     return -0.19 + 0.3 * zigzag(n, N) + 0.4 * linear_ramp(n, D);
                   }), ctx);
    g_lora_ = Lora(s.sub("g_lora"), D, D, m.gate_rank, false, Init::zeros(), ctx);
    norm_weight_ = s.sub("g_norm").param("weight", {D}, Init::ones());
    norm_bias_ = s.sub("g_norm").param("bias", {D}, Init::zeros());
  }

  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), D = shape_.dim, H = shape_.heads, N = shape_.head_dim;
    Var delta = token_shift(tape, x) - x;  // x_{t-1} - x_t
    Var xs[6];
    for (int i = 0; i < 6; ++i) xs[i] = x + delta * mix_[i].on(tape);  // x_r, x_w, x_k, x_v, x_a, x_g
    auto heads = [&](Var v) { return reshape(v, {B, T, H, N}); };
    Var r = r_proj_(tape, xs[0]);
    Var log_w = sigmoid(w_lora_(tape, xs[1], &tanh)) * -0.6065306597126334;   // log w in (-e^-0.5, 0)
    Var k = k_proj_(tape, xs[2]);
    Var v = v_proj_(tape, xs[3]);
    Var a = sigmoid(a_lora_(tape, xs[4], nullptr));
    Var g = g_lora_(tape, xs[5], &sigmoid);
    Var kk = heads(k * k_k_.on(tape));
    kk = kk * rsqrt(sum(square(kk), -1, true) + 1e-24);                       // L2-normalised per head
    k = k * ((a - 1.0) * k_a_.on(tape) + 1.0);
    Var rh = heads(r), kh = heads(k), vh = heads(v);
    Var o = dplr(tape, rh, heads(log_w), kh, vh, -kk, kk * heads(a));          // [B, T, H, N]
    o = layer_norm(reshape(o, {B, T, D}), norm_weight_.on(tape), norm_bias_.on(tape), norm_eps_, H);
    Var bonus = sum(rh * kh * r_k_.on(tape), -1, true) * vh;                  // ((r * k * r_k) . 1) v per head
    return o_proj_(tape, (o + reshape(bonus, {B, T, D})) * g);
  }

 private:
  // r, log_w, k, a, b [B, T, H, N], v [B, T, H, N] -> o [B, T, H, N] by `mode_`.
  Var dplr(Tape& tape, Var r, Var log_w, Var k, Var v, Var a, Var b) const {
    auto lead = [](Var x) { return permute(x, {0, 2, 1, 3}); };  // [B, H, T, N]
    Var o = mode_ == "chunk" ? dplr_chunked(tape, lead(r), lead(log_w), lead(k), lead(v), lead(a), lead(b))
                             : dplr_recurrent(lead(r), lead(log_w), lead(k), lead(v), lead(a), lead(b));
    return permute(o, {0, 2, 1, 3});
  }

  // Token by token, with Z = S^T [B, H, N (keys), N (values)]: u = a^T Z, Z = w Z + b u + k v^T, o = r^T Z.
  Var dplr_recurrent(Var r, Var log_w, Var k, Var v, Var a, Var b) const {
    const int64_t B = r.dim(0), H = r.dim(1), T = r.dim(2), N = r.dim(3);
    Var Z;
    std::vector<Var>& outs = outs_;
    outs.clear();
    for (int64_t t = 0; t < T; ++t) {
      auto row = [&](Var x) { return slice(x, 2, t, t + 1); };                       // [B, H, 1, N]
      auto col = [&](Var x) { return reshape(slice(x, 2, t, t + 1), {B, H, N, 1}); };  // [B, H, N, 1]
      Var update = matmul(col(k), row(v));
      if (Z.defined()) Z = Z * exp(col(log_w)) + matmul(col(b), matmul(row(a), Z)) + update;
      else Z = update;
      outs.push_back(matmul(row(r), Z));
    }
    return concat(std::span<const Var>(outs), 2);
  }

  // Chunks of C tokens, shapes [B, H, n, C, N]. In a chunk from the state Z0 (= S0^T), with G the inclusive and
  // G- the exclusive running sum of log w:
  //   a~ = a e^{G-}, b~ = b e^{-G}, k~ = k e^{-G}, r~ = r e^{G}      (so that a~_t . b~_s = sum a b e^{G-_t - G_s})
  //   U = (I - tril(a~ b~^T, -1))^-1 (a~ Z0 + tril(a~ k~^T, -1) V)   the delta terms u_t = S_{t-1} a_t
  //   O = r~ Z0 + tril(r~ b~^T) U + tril(r~ k~^T) V
  //   Z_C = e^{G_C} Z0 + (b e^{G_C - G})^T U + (k e^{G_C - G})^T V
  // The inverse is taken once per chunk by forward substitution (models/layers/delta_chunks.h).
  Var dplr_chunked(Tape& tape, Var r, Var log_w, Var k, Var v, Var a, Var b) const {
    const int64_t B = r.dim(0), H = r.dim(1), T = r.dim(2), N = r.dim(3);
    const int64_t C = std::min(chunk_, T), n = (T + C - 1) / C;
    auto chunks = [&](Var x) { return to_chunks(tape, x, C); };  // [B, H, n, C, N], zero-padded
    Var rc = chunks(r), wc = chunks(log_w), kc = chunks(k), vc = chunks(v), ac = chunks(a), bc = chunks(b);
    Var G = cumsum(wc, 3), eG = exp(G);                                          // the inclusive running sum
    Var at = ac * exp(G - wc), bt = bc / eG, kt = kc / eG, rt = rc * eG;         // G - log w: the exclusive sum
    // T = (I - strictly-lower(a~ b~^T))^-1, then U = X1 Z0 + X2 with X1 = T a~, X2 = T strictly-lower(a~ k~^T) V.
    Var Tinv = unit_lower_inverse(tape, matmul(at, bt, false, true), rows_);      // [B, H, n, C, C]
    Var Mak = matmul(at, kt, false, true);
    Var eye = identity_constant(tape, C, r.dtype());
    Var Mak_lower = causal_mask(Mak, 0.0) - sum(Mak * eye, -1, true) * eye;      // the diagonal removed
    Var X1 = matmul(Tinv, at), X2 = matmul(Tinv, matmul(Mak_lower, vc));
    Var Arb = causal_mask(matmul(rt, bt, false, true), 0.0), Ark = causal_mask(matmul(rt, kt, false, true), 0.0);
    Var Glast = slice(G, 3, C - 1, C);                                            // [B, H, n, 1, N]
    Var to_end = exp(Glast - G);                                                  // e^{G_C - G}
    Var bh = bc * to_end, kh = kc * to_end;
    Var Z;  // [B, H, N, N]
    std::vector<Var>& outs = outs_;
    outs.clear();
    for (int64_t c = 0; c < n; ++c) {
      Var U = Z.defined() ? matmul(chunk_of(X1, c), Z) + chunk_of(X2, c) : chunk_of(X2, c);
      Var Vc = chunk_of(vc, c);
      Var o = matmul(chunk_of(Arb, c), U) + matmul(chunk_of(Ark, c), Vc);
      if (Z.defined()) o = o + matmul(chunk_of(rt, c), Z);
      outs.push_back(o);
      if (c + 1 == n) break;
      Var next = matmul(chunk_of(bh, c), U, true, false) + matmul(chunk_of(kh, c), Vc, true, false);
      Z = Z.defined() ? Z * reshape(exp(chunk_of(Glast, c)), {B, H, N, 1}) + next : next;
    }
    return join_chunks(outs, T);                                                  // [B, H, T, N]
  }

  Rwkv7Shape shape_;
  std::string mode_;
  int64_t chunk_ = 16;
  double norm_eps_ = 64e-5;
  Param mix_[6], k_k_, k_a_, r_k_, norm_weight_, norm_bias_;
  Linear r_proj_, k_proj_, v_proj_, o_proj_;
  Lora w_lora_, a_lora_, g_lora_;
  // Members so that steps after the first allocate nothing (the no-allocation test covers every layer).
  mutable std::vector<Var> rows_, outs_;
};

std::unique_ptr<Layer> build_rwkv7_time_mixer(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Rwkv7TimeMixer>(c, s, ctx);
}

// heads * N^2, the matrix state (as RWKV-5/6; the token shift's previous input is not counted).
StateSize rwkv7_state(const config::Value& c, const BuildContext&) {
  const Rwkv7Shape s = rwkv7_shape(c);
  return {s.heads * s.head_dim * s.head_dim, true};
}

// Per token and head in the recurrent form: a^T Z (2 N^2), the decay, the rank-one updates (4 N^2) and r^T Z
// (2 N^2); the bonus 4 N.
double rwkv7_flops(const config::Value& c, const BuildContext&) {
  const Rwkv7Shape s = rwkv7_shape(c);
  const double n = static_cast<double>(s.head_dim);
  return static_cast<double>(s.heads) * (9.0 * n * n + 4.0 * n);
}

// The head size (the state dim * N): the divisors of dim up to 128.
std::vector<config::Value> rwkv7_sizes(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  for (int64_t n = 1; n <= 128 && n <= ctx.dim; ++n) {
    if (ctx.dim % n != 0 || n == c.get<int64_t>("head_dim")) continue;
    config::Value o = c;
    o.set("head_dim", config::Value(n));
    out.push_back(std::move(o));
  }
  return out;
}

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
  LayerEntry rwkv7{"rwkv7-time-mixer", "rwkv", true,
                   "RWKV-7 time mixer: generalised delta rule with per-channel decay, 2 heads of 64, low-rank w/a/g",
                   &build_rwkv7_time_mixer, &rwkv7_state, &rwkv7_flops, &rwkv7_sizes};
  rwkv7.small_test_overrides = "{head_dim: 4, decay_low_rank_dim: 3, a_low_rank_dim: 3, gate_low_rank_dim: 3, chunk_size: 4}";
  r.add(std::move(rwkv7));
  r.add({"rwkv7-channel-mixer", "rwkv", false, "RWKV-7 channel mixer: token shift, V relu(K x_k)^2, inner 512",
         &build_channel_mixer<7>, &channel_mixer_state, nullptr, &channel_mixer_sizes});
  r.add({"rwkv6-channel-mixer", "rwkv", false,
         "RWKV-6 channel mixer: token shift, sigmoid(R x_r) * V relu(K x_k)^2, inner 512", &build_channel_mixer<6>,
         &channel_mixer_state, nullptr, &channel_mixer_sizes});
}

}  // namespace mad::models
