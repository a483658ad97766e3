// sLSTM sequence mixer `slstm` (shared/docs/layers.md B.3): the sLSTM layer of xLSTM at model width D,
// NH heads of DH = D / NH units:
//
//   xc  = SiLU(CausalConv1d_K(x))                       (depthwise, with bias; skipped when conv1d_kernel_size = 0)
//   pre = [BD_i(xc) | BD_f(xc) | BD_z(x) | BD_o(x)]       block-diagonal: NH blocks of DH x DH, no bias [B, T, 4D]
//   h   = sLSTM cell(pre; R, b)                          (core/ops_xlstm.h; R block-diagonal [NH, DH, 4 DH])
//   y   = MultiHeadLayerNorm(h)                          (per head over DH, eps 1e-5, no bias)
//
// The block's pre-norm and gated FFN are the backbone's norm and the next layer (e.g. swiglu). The i and f
// projections share one [NH, DH, 2 DH] weight and z, o another (numerically the same as four separate ones).
// Initialisation (B.4): projections small(D) = N(0, 2/(5D)), R zero, biases of i, z, o zero, the norm scale one.
// Forget-gate biases: linspace(3, 6) over the D units (xLSTM's `small_init` alternative; its default
// "powerlaw_blockdependent" per-unit curve needs an initialiser the engine does not have).
#include <algorithm>
#include <cmath>

#include "core/ops_xlstm.h"
#include "models/registry.h"
#include "models/size_options.h"

namespace mad::models {
namespace {

struct SlstmShape {
  int64_t dim, heads, conv;
  int64_t dh() const { return dim / heads; }
};

SlstmShape slstm_shape(const config::Value& c) {
  SlstmShape s{c.get<int64_t>("dim"), c.get<int64_t>("n_heads"), c.get<int64_t>("conv1d_kernel_size")};
  MAD_CHECK(s.heads >= 1 && s.dim % s.heads == 0, "{}: {} heads do not divide the width {}; choose a divisor",
            c.at("n_heads").where(), s.heads, s.dim);
  MAD_CHECK(s.conv >= 0, "{}: conv1d_kernel_size must be >= 0 (0: no convolution), got {}",
            c.at("conv1d_kernel_size").where(), s.conv);
  return s;
}

class Slstm : public Layer {
 public:
  Slstm(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(slstm_shape(c)) {
    const int64_t D = shape_.dim, H = shape_.heads, DH = shape_.dh();
    if (shape_.conv > 0) {
      const Init conv_init = Init::uniform_fan_in(shape_.conv);  // PyTorch Conv1d default, fan_in = K
      conv_w_ = s.sub("conv1d").param("weight", {D, shape_.conv}, conv_init);
      conv_b_ = s.sub("conv1d").param("bias", {D}, conv_init);
    }
    const Init small = ctx.linear_weight(Init::normal(0, std::sqrt(2.0 / (5.0 * static_cast<double>(D)))));
    w_if_ = s.sub("ifgate").param("weight", {H, DH, 2 * DH}, small);
    w_zo_ = s.sub("zogate").param("weight", {H, DH, 2 * DH}, small);
    const ParamScope cell = s.sub("slstm_cell");
    r_ = cell.param("recurrent_kernel", {H, DH, 4 * DH}, Init::zeros());
    b_i_ = cell.param("igate_bias", {D}, Init::zeros());
    b_f_ = cell.param("fgate_bias", {D}, Init::linspace(3.0, 6.0));
    b_z_ = cell.param("zgate_bias", {D}, Init::zeros());
    b_o_ = cell.param("ogate_bias", {D}, Init::zeros());
    norm_w_ = s.sub("group_norm").param("weight", {D}, Init::ones());
    norm_eps_ = c.get<double>("norm_eps");
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    Var xc = shape_.conv > 0 ? silu(depthwise_conv1d(x, conv_w_.on(tape), conv_b_.on(tape))) : x;
    Var pre = concat({block_diagonal(xc, w_if_.on(tape)), block_diagonal(x, w_zo_.on(tape))}, -1);  // [B, T, 4D]
    Var bias = concat({b_i_.on(tape), b_f_.on(tape), b_z_.on(tape), b_o_.on(tape)}, 0);            // [4D]
    Var h = slstm(pre, r_.on(tape), bias);                                                         // [B, T, D]
    return layer_norm(h, norm_w_.on(tape), Var(), norm_eps_, shape_.heads);
  }

 private:
  // x [B, T, H*DH], w [H, DH, G*DH] -> [B, T, G*H*DH] in gate-major layout (gate, head, unit): head h's slice
  // of x times w[h], as the cell expects its pre-activations.
  Var block_diagonal(Var x, Var w) const {
    const int64_t B = x.dim(0), T = x.dim(1), H = shape_.heads, DH = shape_.dh(), G = w.dim(2) / DH;
    Var xh = permute(reshape(x, {B * T, H, DH}), {1, 0, 2});          // [H, BT, DH]
    Var y = reshape(matmul(xh, w), {H, B * T, G, DH});                // [H, BT, G, DH]
    return reshape(permute(y, {1, 2, 0, 3}), {B, T, G * H * DH});     // [B, T, G*H*DH]
  }

  SlstmShape shape_;
  double norm_eps_ = 1e-5;
  Param conv_w_, conv_b_, w_if_, w_zo_, r_, b_i_, b_f_, b_z_, b_o_, norm_w_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Slstm>(c, s, ctx);
}

// h, c, n, m (D each) plus the K - 1 previous inputs of the convolution (layers.md E): 7D for K = 4.
StateSize state(const config::Value& c, const BuildContext&) {
  const SlstmShape s = slstm_shape(c);
  return {4 * s.dim + std::max<int64_t>(s.conv - 1, 0) * s.dim, true};
}

// The recurrent matrix product R h is a weight product (counted with the parameters); beyond it, per unit
// and token: the four gates' nonlinearities and the stabilised exponentials, the c, n, m, h updates (about 20),
// and the head LayerNorm (about 5).
double mixing_flops(const config::Value& c, const BuildContext&) {
  return 25.0 * static_cast<double>(slstm_shape(c).dim);
}

// The state is dim (4 + max(conv - 1, 0)): a multiple of dim, set by the convolution width (0 to 32); the
// heads (divisors of dim) change only the parameters (block-diagonal gates and recurrence, 6 D^2 / H).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext& ctx) {
  std::vector<config::Value> out;
  for (int64_t heads : divisors(ctx.dim, ctx.dim))
    for (int64_t conv = 0; conv <= 32; ++conv) {
      out.push_back(c);
      out.back().set("n_heads", config::Value(heads));
      out.back().set("conv1d_kernel_size", config::Value(conv));
    }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"slstm", "xlstm", true, "sLSTM layer: causal conv, block-diagonal gates and recurrence, 4 heads", &build,
         &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
