// The Hyena family: hyena, mh-hyena and hyena-experts (the reference's HyenaOperator,
// MultiHeadHyenaOperator and HyenaExpertsOperator, order 2, with the implicit HyenaFilter).
//
// hyena / mh-hyena, x [B, T, D], inner width E = D * inner_factor:
//   u = tile(W_in x + b_in, proj_groups)                  [B, T, 3E]  (W_in: D -> 3E / proj_groups)
//   (x0, x1, v) = split(short_conv(u))                     3 x [B, T, E]  (depthwise causal, kernel 3, bias)
//   per head h of width Dh (channel c = h*Dh + d):
//     y[h, d2] = sum_{d1} x0[h, d1] * ( f_h * (v[h, d1] x1[h, d2]) + b_h v[h, d1] x1[h, d2] )
//   out = W_out y + b_out
// where * is the causal long convolution over time (FFT by default) with one implicit filter f_h per head.
// With one-channel heads (Dh = 1, hyena) this is the elementwise y = x0 * (f * (v x1) + b v x1).
//
// Head layout. The reference's mh-hyena configures num_heads: 16 but passes num_heads as the head WIDTH to
// its fftconv_heads, so it realises E / num_heads = 8 heads of 16 channels, with 8 filters; hyena
// (num_heads: 1) realises 512 heads of one channel. head_layout: reference (the default) builds exactly
// that; head_layout: as_configured builds num_heads heads of E / num_heads channels (the paper's intent).
//
// hyena-experts: the same order-2 recurrence on D channels (no tiling, heads of one channel), then
//   y [B, T, D] viewed as [B, T, dim_inner, num_experts] (channel c -> (c / E, c % E)),
//   w = softmax(top-k-zeroed router logits)  — the logits outside the top active_experts are set to 0,
//   not -inf, as the reference does, so every expert keeps some weight —
//   out = W_out (sum_e w_e y[..., e]) + b_out   (W_out: dim_inner -> D).
//
// Implicit filter (HyenaFilter, emb_dim 3, depth 2): positions z(n) = [n/(L-1), cos(2 pi f n/L),
// -sin(2 pi f n/L)], f = 1e-4, a trainable [L, 3] table; MLP 3 -> o -> o -> o -> channels with sin
// activations sharing one trainable frequency vector [o] (init 1), the last layer without bias; times the
// fixed modulation exp(-t_n |delta_c|), delta = linspace(ln(0.01)/1.5, ln(0.01)/0.3, channels). L is the
// model's sequence length (the reference uses its max_length; see docs/layers.md).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <vector>

#include "models/layers/config_checks.h"
#include "models/layers/router.h"
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

// A value on the tape that needs no gradient, filled by fn(T_* data) in the input's precision; arena memory.
template <typename Fill>
Var constant(Tape& tape, const Shape& shape, DType dtype, Fill&& fill) {
  Tensor t = tape.alloc(shape, dtype);
  dispatch_float(dtype, "hyena constant", [&]<typename T_>() { fill(t.data<T_>()); });
  return tape.leaf(t, false);
}

ConvKernel conv_kernel(const config::Value& c) {
  const std::string k = c.get<std::string>("conv_kernel");
  MAD_CHECK(k == "fft" || k == "direct" || k == "auto",
            "{}: conv_kernel must be fft (the reference's), direct or auto, got '{}'", c.at("conv_kernel").where(), k);
  return k == "fft" ? ConvKernel::fft : k == "direct" ? ConvKernel::direct : ConvKernel::automatic;
}

// The implicit long filter h [T, channels] (HyenaFilter).
class HyenaFilter {
 public:
  HyenaFilter() = default;
  HyenaFilter(const ParamScope& s, int64_t channels, int64_t order, int64_t max_len, const BuildContext& ctx)
      : channels_(channels), max_len_(max_len) {
    z_ = s.sub("pos_emb").param("z", {max_len, 3}, Init::values(positions(max_len)));
    const ParamScope mlp = s.sub("implicit_filter");
    layers_[0] = Linear(mlp.sub("0"), 3, order, true, ctx);
    freq_ = mlp.sub("1").param("freq", {order}, Init::ones());  // one Sin module, applied after layers 0, 2, 4
    layers_[1] = Linear(mlp.sub("2"), order, order, true, ctx);
    layers_[2] = Linear(mlp.sub("4"), order, order, true, ctx);
    layers_[3] = Linear(mlp.sub("6"), order, channels, false, ctx);
  }

  // -> h [T, channels] for the first T <= max_len positions.
  Var operator()(Tape& tape, int64_t T, DType dtype) const {
    MAD_CHECK(T <= max_len_, "hyena: sequence length {} exceeds the filter length {} the layer was built for", T,
              max_len_);
    Var freq = freq_.on(tape);
    Var h = slice(z_.on(tape), 0, 0, T);  // [T, 3]
    for (int i = 0; i < 3; ++i) h = sin(freq * layers_[i](tape, h));
    h = layers_[3](tape, h);  // [T, channels]
    // Fixed modulation exp(-t_n |delta_c|): filters decay over time, the later channels faster.
    const int64_t C = channels_, L = max_len_;
    Var decay = constant(tape, Shape{T, C}, dtype, [&]<typename T_>(T_* p) {
      const double lo = std::log(1e-2) / 1.5, hi = std::log(1e-2) / 0.3;
      for (int64_t n = 0; n < T; ++n)
        for (int64_t c = 0; c < C; ++c) {
          const double delta = C == 1 ? lo : lo + (hi - lo) * static_cast<double>(c) / static_cast<double>(C - 1);
          const double t = L == 1 ? 0.0 : static_cast<double>(n) / static_cast<double>(L - 1);
          p[n * C + c] = static_cast<T_>(std::exp(-t * std::abs(delta)));
        }
    });
    return h * decay;
  }

 private:
  // z(n) = [n / (L-1), cos(2 pi 1e-4 n / L), -sin(2 pi 1e-4 n / L)], row-major [L, 3].
  static std::vector<double> positions(int64_t L) {
    std::vector<double> z(static_cast<size_t>(3 * L));
    for (int64_t n = 0; n < L; ++n) {
      const double w = 2 * std::numbers::pi * 1e-4 * static_cast<double>(n) / static_cast<double>(L);
      z[static_cast<size_t>(3 * n)] = L == 1 ? 0.0 : static_cast<double>(n) / static_cast<double>(L - 1);
      z[static_cast<size_t>(3 * n + 1)] = std::cos(w);
      z[static_cast<size_t>(3 * n + 2)] = -std::sin(w);
    }
    return z;
  }

  Param z_, freq_;
  Linear layers_[4];
  int64_t channels_ = 0, max_len_ = 0;
};

// Depthwise causal short convolution over C channels, kernel K, with bias (PyTorch Conv1d's default init:
// U(+-1/sqrt(K)) for weight and bias). Weight stored [C, K]; tap K-1 multiplies the current token.
struct ShortFilter {
  Param weight, bias;
  ShortFilter() = default;
  ShortFilter(const ParamScope& s, int64_t C, int64_t K) {
    weight = s.param("weight", {C, K}, Init::uniform_fan_in(K));
    bias = s.param("bias", {C}, Init::uniform_fan_in(K));
  }
  Var operator()(Tape& tape, Var u) const { return depthwise_conv1d(u, weight.on(tape), bias.on(tape)); }
};

// ---- hyena, mh-hyena ----------------------------------------------------------------------------------

constexpr int64_t kMaxProjGroups = 16;

struct HyenaShape {
  int64_t dim, inner, heads, head_dim, groups, short_k, filter_order;
};

HyenaShape hyena_shape(const config::Value& c) {
  HyenaShape s{};
  s.dim = c.get<int64_t>("dim");
  MAD_CHECK(c.get<int64_t>("order") == 2, "{}: only order 2 is built (the reference's operators use x0 and x1 only)",
            c.at("order").where());
  s.inner = s.dim * c.get<int64_t>("inner_factor");
  MAD_CHECK(s.inner > 0, "{}: inner_factor must be positive", c.at("inner_factor").where());
  s.groups = c.get<int64_t>("proj_groups");
  MAD_CHECK(s.groups >= 1 && s.groups <= kMaxProjGroups && (3 * s.inner) % s.groups == 0,
            "{}: proj_groups {} must be at most {} and divide 3 * dim * inner_factor = {}", c.at("proj_groups").where(),
            s.groups, kMaxProjGroups, 3 * s.inner);
  const int64_t configured = c.get<int64_t>("num_heads");
  MAD_CHECK(configured >= 1 && s.inner % configured == 0, "{}: {} heads must divide dim * inner_factor = {}",
            c.at("num_heads").where(), configured, s.inner);
  const std::string layout = c.get<std::string>("head_layout");
  MAD_CHECK(layout == "reference" || layout == "as_configured",
            "{}: head_layout must be reference (num_heads is the head width, as the reference realises it) or "
            "as_configured (num_heads heads), got '{}'",
            c.at("head_layout").where(), layout);
  s.head_dim = layout == "reference" ? configured : s.inner / configured;
  s.heads = s.inner / s.head_dim;
  s.short_k = int_at_least(c, "short_filter_order", 1);
  s.filter_order = int_at_least(c, "filter_order", 1);
  return s;
}

class Hyena : public Layer {
 public:
  Hyena(const config::Value& c, const ParamScope& s, const BuildContext& ctx)
      : shape_(hyena_shape(c)), kernel_(conv_kernel(c)) {
    const HyenaShape& h = shape_;
    in_proj_ = Linear(s.sub("in_proj"), h.dim, 3 * h.inner / h.groups, true, ctx);
    short_filter_ = ShortFilter(s.sub("short_filter"), 3 * h.inner, h.short_k);
    const ParamScope conv = s.sub("long_conv");
    if (c.get<bool>("conv_bias")) bias_ = conv.param("bias", {h.heads}, Init::normal(0, 1));
    filter_ = HyenaFilter(conv.sub("filter"), h.heads, h.filter_order, ctx.seq_len, ctx);
    out_proj_ = Linear(s.sub("out_proj"), h.inner, h.dim, true, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), E = shape_.inner, H = shape_.heads, Dh = shape_.head_dim;
    Var u = in_proj_(tape, x);  // [B, T, 3E / groups]
    if (shape_.groups > 1) {  // tile: [B, T, 3E]; a stack array keeps a training step free of heap allocations
      Var copies[kMaxProjGroups];
      std::fill(copies, copies + shape_.groups, u);
      u = concat(std::span<const Var>(copies, static_cast<size_t>(shape_.groups)), -1);
    }
    u = short_filter_(tape, u);
    Var parts[3];
    const int64_t sizes[] = {E, E, E};
    split(u, -1, sizes, parts);
    Var x0 = parts[0], x1 = parts[1], v = parts[2];  // [B, T, E] each
    Var h = filter_(tape, T, x.dtype());               // [T, H]
    Var y;
    if (Dh == 1) {
      Var kv = v * x1;  // [B, T, E]
      y = long_conv(kv, h, kernel_);
      if (bias_.defined()) y = y + kv * bias_.on(tape);
      y = y * x0;
    } else {
      Var kv = reshape(v, {B, T, H, Dh, 1}) * reshape(x1, {B, T, H, 1, Dh});  // [B, T, H, Dh, Dh]
      // Every (d1, d2) channel of head h shares the head's filter: broadcast h [T, H] to [T, H * Dh * Dh].
      Var ones = constant(tape, Shape{1, 1, Dh * Dh}, x.dtype(), [&]<typename T_>(T_* p) {
        for (int64_t i = 0; i < Dh * Dh; ++i) p[i] = T_(1);
      });
      Var filters = reshape(reshape(h, {T, H, 1}) * ones, {T, H * Dh * Dh});
      y = reshape(long_conv(reshape(kv, {B, T, H * Dh * Dh}), filters, kernel_), {B, T, H, Dh, Dh});
      if (bias_.defined()) y = y + kv * reshape(bias_.on(tape), {H, 1, 1});
      y = reshape(sum(reshape(x0, {B, T, H, Dh, 1}) * y, 3), {B, T, E});  // sum over d1
    }
    return out_proj_(tape, y);
  }

 private:
  HyenaShape shape_;
  ConvKernel kernel_;
  Linear in_proj_, out_proj_;
  ShortFilter short_filter_;
  Param bias_;
  HyenaFilter filter_;
};

// mad-protocol.md section 7: long-conv channels * filter order. The convolved channels are the heads'
// Dh x Dh products: 512 x 1 x 1 for hyena (512 * 4 = 2048), 8 x 16 x 16 = 2048 for mh-hyena (2048 * 2 = 4096).
StateSize hyena_state(const config::Value& c, const BuildContext&) {
  const HyenaShape s = hyena_shape(c);
  return {s.heads * s.head_dim * s.head_dim * s.filter_order, true};
}

// ---- hyena-experts -----------------------------------------------------------------------------------

struct ExpertsShape {
  int64_t dim, dim_inner, experts, active, short_k, filter_order;
};

ExpertsShape experts_shape(const config::Value& c) {
  ExpertsShape s{};
  s.dim = c.get<int64_t>("dim");
  MAD_CHECK(c.get<int64_t>("order") == 2, "{}: only order 2 is built", c.at("order").where());
  s.dim_inner = c.get<int64_t>("dim_inner");
  s.experts = c.get<int64_t>("num_experts");
  MAD_CHECK(s.dim_inner >= 1 && s.experts >= 1 && s.dim_inner * s.experts == s.dim,
            "{}: dim_inner * num_experts must equal dim ({} * {} != {}): the reference splits the expert outputs "
            "out of the D operator channels",
            c.at("dim_inner").where(), s.dim_inner, s.experts, s.dim);
  s.active = c.get<int64_t>("active_experts");
  MAD_CHECK(s.active >= 1 && s.active <= s.experts, "{}: active_experts must be in [1, num_experts = {}], got {}",
            c.at("active_experts").where(), s.experts, s.active);
  s.short_k = int_at_least(c, "short_filter_order", 1);
  s.filter_order = int_at_least(c, "filter_order", 1);
  return s;
}

class HyenaExperts : public Layer {
 public:
  HyenaExperts(const config::Value& c, const ParamScope& s, const BuildContext& ctx)
      : shape_(experts_shape(c)), kernel_(conv_kernel(c)) {
    const ExpertsShape& e = shape_;
    in_proj_ = Linear(s.sub("in_proj"), e.dim, 3 * e.dim, true, ctx);
    short_filter_ = ShortFilter(s.sub("short_filter"), 3 * e.dim, e.short_k);
    const ParamScope conv = s.sub("long_conv");
    if (c.get<bool>("conv_bias")) bias_ = conv.param("bias", {e.dim}, Init::normal(0, 1));
    filter_ = HyenaFilter(conv.sub("filter"), e.dim, e.filter_order, ctx.seq_len, ctx);
    router_ = TopKRouter(s.sub("router"), e.dim, e.experts, e.active, RouterFill::zero, ctx);
    out_proj_ = Linear(s.sub("out_proj"), e.dim_inner, e.dim, true, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), D = shape_.dim, E = shape_.experts;
    Var u = short_filter_(tape, in_proj_(tape, x));  // [B, T, 3D]
    Var parts[3];
    const int64_t sizes[] = {D, D, D};
    split(u, -1, sizes, parts);
    Var kv = parts[2] * parts[1];  // v * x1, [B, T, D]
    Var y = long_conv(kv, filter_(tape, T, x.dtype()), kernel_);
    if (bias_.defined()) y = y + kv * bias_.on(tape);
    y = reshape(y * parts[0], {B, T, shape_.dim_inner, E});  // channel c -> (c / E, c % E)
    Var w = router_(tape, x);  // [B, T, E]; logits outside the top-k zeroed, not masked (models/layers/router.h)
    return out_proj_(tape, sum(y * reshape(w, {B, T, 1, E}), -1));
  }

 private:
  ExpertsShape shape_;
  ConvKernel kernel_;
  Linear in_proj_, out_proj_;
  TopKRouter router_;
  ShortFilter short_filter_;
  Param bias_;
  HyenaFilter filter_;
};

// Long-conv channels * filter order: 128 * 16 = 2048.
StateSize experts_state(const config::Value& c, const BuildContext&) {
  const ExpertsShape s = experts_shape(c);
  return {s.dim * s.filter_order, true};
}

// ---- FLOPs and size options ---------------------------------------------------------------------------

// One causal long convolution channel by FFT at length T: transforms of the signal and of the filter and
// the inverse, each about 5 n log2 n at the padded length n = 2T, and the complex product (6 n): per token,
// 30 log2(2T) + 12.
double fft_conv_flops_per_channel(int64_t T) {
  return 30.0 * std::log2(2.0 * static_cast<double>(T)) + 12.0;
}

// The convolved channels (the heads' Dh x Dh products) by FFT, plus the gating products around it
// (v x1, the skip term, x0 and, with wide heads, the sum over d1: about 4 per convolved channel).
double hyena_mixing_flops(const config::Value& c, const BuildContext& ctx) {
  const HyenaShape s = hyena_shape(c);
  const double channels = static_cast<double>(s.heads * s.head_dim * s.head_dim);
  return channels * (fft_conv_flops_per_channel(ctx.seq_len) + 4.0);
}

// D convolved channels, the gating products, and the expert mix (2 per channel) and router softmax.
double experts_mixing_flops(const config::Value& c, const BuildContext& ctx) {
  const ExpertsShape s = experts_shape(c);
  return static_cast<double>(s.dim) * (fft_conv_flops_per_channel(ctx.seq_len) + 6.0) + 5.0 * static_cast<double>(s.experts);
}

// The state is convolved channels * filter_order: filter order 1..32, head width (num_heads in the
// reference layout, heads otherwise) among the divisors of the inner width up to 32, inner_factor 1, 2, 4.
std::vector<config::Value> hyena_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  const bool reference_layout = c.get<std::string>("head_layout") == "reference";
  for (int64_t factor : {1, 2, 4}) {
    const int64_t inner = ctx.dim * factor;
    for (int64_t width : divisors(inner, 32))
      for (int64_t order = 1; order <= 32; ++order) {
        out.push_back(c);
        out.back().set("inner_factor", config::Value(factor));
        out.back().set("num_heads", config::Value(reference_layout ? width : inner / width));
        out.back().set("filter_order", config::Value(order));
      }
  }
  return out;
}

// The state is dim * filter_order: filter order 1..64; experts among the divisors of dim up to 32 (with
// dim_inner = dim / experts and at most as many active experts as before).
std::vector<config::Value> experts_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  const int64_t active = c.get<int64_t>("active_experts");
  for (int64_t experts : divisors(ctx.dim, 32))
    for (int64_t order = 1; order <= 64; ++order) {
      out.push_back(c);
      out.back().set("num_experts", config::Value(experts));
      out.back().set("dim_inner", config::Value(ctx.dim / experts));
      out.back().set("active_experts", config::Value(std::min(active, experts)));
      out.back().set("filter_order", config::Value(order));
    }
  return out;
}

template <typename L>
std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<L>(c, s, ctx);
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"hyena", "hyena", true, "Hyena, order 2, 512 channels, implicit long filters (FFT convolution)",
         &build<Hyena>, &hyena_state, &hyena_mixing_flops, &hyena_options});
  r.add({"mh-hyena", "hyena", true, "multi-head Hyena as the reference realises it: 8 heads of 16 channels",
         &build<Hyena>, &hyena_state, &hyena_mixing_flops, &hyena_options});
  LayerEntry experts{"hyena-experts", "hyena", true, "Hyena with 8 experts of 16 channels, top-2 router (zeroed logits)",
                     &build<HyenaExperts>, &experts_state, &experts_mixing_flops, &experts_options};
  experts.small_test_overrides = "{dim_inner: 2}";  // 8 experts of 2 (16 in all) for the finite differences
  r.add(std::move(experts));
}

}  // namespace mad::models
