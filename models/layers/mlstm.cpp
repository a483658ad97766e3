// mLSTM sequence mixers (shared/docs/layers.md A): `mlstm`, the bare cell between projections, and
// `mlstm-block`, the mLSTM layer of the xLSTM-7B block (A.5). One class, switched by configuration:
//
//   q = W_q x [qk_dim],  k = W_k x [qk_dim],  v = W_v x [v_dim]             (no bias)
//   i = sc(W_i x + b_i) [H],  f = sc(W_f x + b_f) [H]                        sc(z) = cap tanh(z / cap), or none
//   h = mLSTM cell per head (d_k = qk_dim / H, d_v = v_dim / H)             (core/ops_xlstm.h, kernel per layer)
//   h = MultiHeadLayerNorm(h)                                               (head_norm: per head over d_v)
//   h = sigmoid(W_o x) * h                                                  (output_gate)
//   y = W_out h                                                             (v_dim -> D, no bias)
//
// The block's pre-norm and its feed-forward are the backbone's norm and the next layer (e.g. swiglu): MAD
// builds x = x + layer(norm(x)). Parameter names follow xlstm_large (q, k, v, ogate_preact, igate_preact,
// fgate_preact, multihead_norm, out_proj). Initialisation follows the 7B training code (A.5): q, k, v
// small(D) = N(0, 2/(5D)); output gate and gate weights zero; b_i = -10; b_f = linspace(3, 6) over heads; the
// norm scale one. W_out keeps the backbone's Linear default (the 7B's wang init is tied to its 32 blocks).
#include <algorithm>
#include <cmath>

#include "core/ops_xlstm.h"
#include "models/blocks/pieces.h"
#include "models/layers/config_checks.h"
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

// The projections a `wiring:` mask may go on (models/projection_mask.h), by parameter-scope name.
const std::vector<std::string> kMlstmProjections = {"q", "k", "v", "igate_preact", "fgate_preact", "ogate_preact",
                                                     "out_proj"};

struct MlstmShape {
  int64_t dim, heads, qk_dim, v_dim;
  MlstmKernel kernel;
  int64_t chunk;
  int64_t dk() const { return qk_dim / heads; }
  int64_t dv() const { return v_dim / heads; }
};

MlstmShape mlstm_shape(const config::Value& c) {
  MlstmShape s{};
  s.dim = c.get<int64_t>("dim");
  s.heads = int_at_least(c, "n_heads", 1);
  // Truncation int(D * factor), as xlstm_large does (A-F10).
  s.qk_dim = static_cast<int64_t>(static_cast<double>(s.dim) * c.get<double>("qk_dim_factor"));
  s.v_dim = static_cast<int64_t>(static_cast<double>(s.dim) * c.get<double>("v_dim_factor"));
  MAD_CHECK(s.qk_dim >= s.heads && s.qk_dim % s.heads == 0,
            "{}: qk_dim = int(dim * qk_dim_factor) = {} must be a positive multiple of n_heads = {}; change "
            "qk_dim_factor or n_heads", c.at("qk_dim_factor").where(), s.qk_dim, s.heads);
  MAD_CHECK(s.v_dim >= s.heads && s.v_dim % s.heads == 0,
            "{}: v_dim = int(dim * v_dim_factor) = {} must be a positive multiple of n_heads = {}; change "
            "v_dim_factor or n_heads", c.at("v_dim_factor").where(), s.v_dim, s.heads);
  const std::string kernel = c.get<std::string>("kernel");
  if (kernel == "parallel") {
    s.kernel = MlstmKernel::parallel;
  } else if (kernel == "chunkwise") {
    s.kernel = MlstmKernel::chunkwise;
  } else if (kernel == "recurrent") {
    s.kernel = MlstmKernel::recurrent;
  } else {
    MAD_CHECK(false, "{}: unknown mLSTM kernel '{}'; use parallel, chunkwise or recurrent", c.at("kernel").where(),
              kernel);
  }
  s.chunk = int_at_least(c, "chunk_size", 1);
  return s;
}

class Mlstm : public Layer {
 public:
  Mlstm(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(mlstm_shape(c)) {
    const int64_t D = shape_.dim, H = shape_.heads;
    const config::Value& cap = c.at("gate_soft_cap");
    soft_cap_ = cap.is_null() ? 0.0 : cap.as_double();
    MAD_CHECK(cap.is_null() || soft_cap_ > 0, "{}: gate_soft_cap must be positive or null (off), got {}",
              cap.where(), soft_cap_);
    eps_ = c.get<double>("cell_eps");
    MAD_CHECK(eps_ >= 0, "{}: cell_eps must be >= 0, got {}", c.at("cell_eps").where(), eps_);
    norm_eps_ = c.get<double>("norm_eps");
    const Init small = Init::normal(0, std::sqrt(2.0 / (5.0 * static_cast<double>(D))));
    // Optional NCPS wiring masks on any of the projections (models/projection_mask.h).
    auto mask = [&](const char* name, int64_t in, int64_t out) {
      return layer_projection_mask(c, name, in, out, kMlstmProjections);
    };
    q_ = Linear(s.sub("q"), D, shape_.qk_dim, false, ctx, small, mask("q", D, shape_.qk_dim));
    k_ = Linear(s.sub("k"), D, shape_.qk_dim, false, ctx, small, mask("k", D, shape_.qk_dim));
    v_ = Linear(s.sub("v"), D, shape_.v_dim, false, ctx, small, mask("v", D, shape_.v_dim));
    MAD_CHECK(c.get<bool>("output_gate") || !c.contains("wiring") || !c.at("wiring").contains("ogate_preact"),
              "{}: a mask on ogate_preact needs output_gate: true", c.contains("wiring") ? c.at("wiring").where() : "");
    if (c.get<bool>("output_gate"))
      ogate_ = Linear(s.sub("ogate_preact"), D, shape_.v_dim, false, ctx, Init::zeros(), mask("ogate_preact", D, shape_.v_dim));
    // Gate projections: zero weights (ignoring the backbone's policy: the gates start from their biases).
    igate_mask_ = mask("igate_preact", D, H);
    fgate_mask_ = mask("fgate_preact", D, H);
    igate_w_ = s.sub("igate_preact").param("weight", {H, D}, igate_mask_.applied_to(Init::zeros()));
    igate_b_ = s.sub("igate_preact").param("bias", {H}, Init::constant(-10.0));
    fgate_w_ = s.sub("fgate_preact").param("weight", {H, D}, fgate_mask_.applied_to(Init::zeros()));
    fgate_b_ = s.sub("fgate_preact").param("bias", {H}, H > 1 ? Init::linspace(3.0, 6.0) : Init::constant(3.0));
    if (c.get<bool>("head_norm")) norm_w_ = s.sub("multihead_norm").param("weight", {shape_.v_dim}, Init::ones());
    out_ = Linear(s.sub("out_proj"), shape_.v_dim, D, false, ctx, Init::uniform_fan_in(), mask("out_proj", shape_.v_dim, D));
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t H = shape_.heads;
    Var q = q_(tape, x), k = k_(tape, x), v = v_(tape, x);                         // [B, T, H Dk|Dv]
    Var ig = gate(matmul(x, igate_mask_.applied(tape, igate_w_.on(tape)), false, true) + igate_b_.on(tape));  // [B, T, H]
    Var fg = gate(matmul(x, fgate_mask_.applied(tape, fgate_w_.on(tape)), false, true) + fgate_b_.on(tape));  // [B, T, H]
    Var h = mlstm_cell(q, k, v, ig, fg, shape_.kernel, shape_.chunk, eps_);        // [B, T, H Dv]
    if (norm_w_.defined()) h = layer_norm(h, norm_w_.on(tape), Var(), norm_eps_, H);
    if (ogate_.out() > 0) h = sigmoid(ogate_(tape, x)) * h;
    return out_(tape, h);
  }

 private:
  // Soft-capping keeps the gate pre-activations in (-cap, cap) (layers.md A.5, P2 stability section).
  Var gate(Var z) const { return soft_cap_ > 0 ? soft_cap(z, soft_cap_) : z; }

  MlstmShape shape_;
  double soft_cap_ = 0, eps_ = 1e-6, norm_eps_ = 1e-6;
  Linear q_, k_, v_, ogate_, out_;
  Param igate_w_, igate_b_, fgate_w_, fgate_b_, norm_w_;
  ProjectionMask igate_mask_, fgate_mask_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Mlstm>(c, s, ctx);
}

// Per head: the matrix memory C [d_k, d_v], the normaliser n [d_k] and the stabiliser m (layers.md E).
StateSize state(const config::Value& c, const BuildContext&) {
  const MlstmShape s = mlstm_shape(c);
  return {s.heads * (s.dk() * s.dv() + s.dk() + 1), true};
}

// Per token and head, as the recurrent form computes it (the chunkwise and parallel forms compute the same
// cell): C = f C + i k v^T (3 Dk Dv), n = f n + i k (3 Dk), h = C^T q (2 Dk Dv), n . q and the normaliser
// (2 Dk + 3), the gates' exp and max (about 10); then the head norm and output gate (about 8 per value channel)
// when present.
double mixing_flops(const config::Value& c, const BuildContext&) {
  const MlstmShape s = mlstm_shape(c);
  const double H = static_cast<double>(s.heads), dk = static_cast<double>(s.dk()), dv = static_cast<double>(s.dv());
  const double extras = (c.get<bool>("head_norm") ? 5.0 : 0.0) + (c.get<bool>("output_gate") ? 3.0 : 0.0);
  return H * (5.0 * dk * dv + 5.0 * dk + 13.0) + extras * static_cast<double>(s.v_dim);
}

// The state is H (Dk Dv + Dk + 1): heads among the divisors of dim up to 32, the per-head key width Dk from
// 1 to 64 (qk_dim = H Dk, finely, since the +Dk+1 terms make round totals need odd widths: 8 heads of Dk 15,
// Dv 16 give exactly 2048), and the value width v_dim as is, halved or doubled.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  const MlstmShape shape = mlstm_shape(c);
  std::vector<config::Value> out;
  for (int64_t heads : divisors(ctx.dim, 32))
    for (int64_t v_dim : {shape.v_dim, shape.v_dim / 2, 2 * shape.v_dim}) {
      const double v_factor = exact_factor(v_dim, ctx.dim);
      if (v_dim < heads || v_dim % heads != 0 || v_factor == 0) continue;
      for (int64_t dk = 1; dk <= std::min<int64_t>(64, 2 * ctx.dim / heads); ++dk) {
        const double qk_factor = exact_factor(heads * dk, ctx.dim);
        if (qk_factor == 0) continue;
        out.push_back(c);
        out.back().set("n_heads", config::Value(heads));
        out.back().set("qk_dim_factor", factor_value(qk_factor));
        out.back().set("v_dim_factor", factor_value(v_factor));
      }
    }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"mlstm", "xlstm", true, "mLSTM cell between q/k/v/gate projections, 8 heads of 16x16, chunkwise", &build,
         &state, &mixing_flops, &size_options, nullptr, kMlstmProjections});
  r.add({"mlstm-block", "xlstm", true,
         "xLSTM-7B mLSTM layer: soft-capped gates, per-head LayerNorm, output gate, 4 heads (dk 16, dv 32)", &build,
         &state, &mixing_flops, &size_options, nullptr, kMlstmProjections});
}


}  // namespace mad::models
