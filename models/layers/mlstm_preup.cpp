// `mlstm-preup-block`: the original xLSTM pre-up-projection mLSTM block (shared/docs/layers.md A.6), wired
// from small pieces, each a class of its own below:
//
//   [xm | z] = UpProjectionSplit(x)            W_up: D -> 2 inner, split in halves          [B, T, inner] each
//   c        = CausalConv(xm)                  SiLU(depthwise causal conv, width K, bias)    [B, T, inner]
//   h        = MlstmCore(c, xm)                q = BD_q c, k = BD_k c, v = BD_v xm (block-diagonal, no bias);
//                                              i, f = W_{i,f} [q; k; v] + b (one per head); mLSTM cell per
//                                              head (core/ops_xlstm.h, kernel per layer); per-head LayerNorm
//   o        = OutputGate(LearnableSkip(h, c), z) = (h + s * c) * SiLU(z)                     [B, T, inner]
//   y        = DownProjection(o)               W_down: inner -> D                              [B, T, D]
//
// inner = ceil(proj_factor * D / inner_multiple_of) * inner_multiple_of (64 in xLSTM), DH = inner / n_heads (d_k = d_v = DH). The block's pre-norm and
// residual are the backbone's (x + block(norm(x))); xLSTM's mLSTM blocks have no feed-forward. The pieces are
// one registered layer rather than graph entries (models/graph.h) because they pass several streams of width
// inner (xm, z, c) between them, while graph entries are maps [B, T, D] -> [B, T, D].
//
// Initialisation (A.6): W_up and BD_q/k/v small(D) = N(0, 2/(5D)); W_i, W_f zero, b_i ~ N(0, 0.1),
// b_f = linspace(3, 6) over heads; conv PyTorch's default; skip and norm scales one (XL's 1 + w with w = 0).
// W_down keeps the backbone's Linear default (XL's wang init depends on the number of blocks).
#include <cmath>

#include "core/ops_xlstm.h"
#include "models/blocks/pieces.h"
#include "models/layers/config_checks.h"
#include "models/registry.h"

namespace mad::models {
namespace {

struct PreupShape {
  int64_t dim, inner, heads, conv, block;
  MlstmKernel kernel;
  int64_t chunk;
  int64_t dh() const { return inner / heads; }
};

PreupShape preup_shape(const config::Value& c) {
  PreupShape s{};
  s.dim = c.get<int64_t>("dim");
  const double factor = c.get<double>("proj_factor");
  MAD_CHECK(factor > 0, "{}: proj_factor must be positive, got {}", c.at("proj_factor").where(), factor);
  const int64_t multiple = int_at_least(c, "inner_multiple_of", 1);
  s.inner = static_cast<int64_t>(std::ceil(factor * static_cast<double>(s.dim) / static_cast<double>(multiple))) * multiple;
  s.heads = c.get<int64_t>("n_heads");
  MAD_CHECK(s.heads >= 1 && s.inner % s.heads == 0, "{}: n_heads = {} must divide the inner width {}; choose a divisor",
            c.at("n_heads").where(), s.heads, s.inner);
  s.conv = int_at_least(c, "conv1d_kernel_size", 1);
  s.block = c.get<int64_t>("qkv_proj_blocksize");
  MAD_CHECK(s.block >= 1 && s.inner % s.block == 0, "{}: qkv_proj_blocksize = {} must divide the inner width {}",
            c.at("qkv_proj_blocksize").where(), s.block, s.inner);
  const std::string kernel = c.get<std::string>("kernel");
  MAD_CHECK(kernel == "parallel" || kernel == "chunkwise" || kernel == "recurrent",
            "{}: unknown mLSTM kernel '{}'; use parallel, chunkwise or recurrent", c.at("kernel").where(), kernel);
  s.kernel = kernel == "parallel" ? MlstmKernel::parallel
                                  : (kernel == "chunkwise" ? MlstmKernel::chunkwise : MlstmKernel::recurrent);
  s.chunk = int_at_least(c, "chunk_size", 1);
  return s;
}

// x [B, T, D] -> xm, z [B, T, inner]: one Linear D -> 2 inner (no bias), first half the mLSTM branch.
class UpProjectionSplit {
 public:
  UpProjectionSplit(const ParamScope& s, int64_t dim, int64_t inner, const BuildContext& ctx)
      : inner_(inner), proj_(s, dim, 2 * inner, false, ctx, small_init(dim)) {}
  std::pair<Var, Var> operator()(Tape& tape, Var x) const {
    Var u = proj_(tape, x);  // [B, T, 2 inner]
    return {slice(u, 2, 0, inner_), slice(u, 2, inner_, 2 * inner_)};
  }

 private:
  int64_t inner_;
  Linear proj_;
};

// x [B, T, C] -> SiLU(depthwise causal conv of width K with bias) [B, T, C].
class CausalConv {
 public:
  CausalConv(const ParamScope& s, int64_t channels, int64_t width) : conv_(s, channels, width, true) {}
  Var operator()(Tape& tape, Var x) const { return silu(conv_(tape, x)); }

 private:
  DepthwiseCausalConv conv_;
};

// c, xm [B, T, inner] -> per-head LayerNorm of the mLSTM cell output [B, T, inner].
class MlstmCore {
 public:
  MlstmCore(const ParamScope& s, const PreupShape& shape, double cell_eps, double norm_eps)
      : shape_(shape), cell_eps_(cell_eps), norm_eps_(norm_eps),
        q_(s.sub("q_proj"), shape.inner, shape.block, small_init(shape.dim)),
        k_(s.sub("k_proj"), shape.inner, shape.block, small_init(shape.dim)),
        v_(s.sub("v_proj"), shape.inner, shape.block, small_init(shape.dim)) {
    const int64_t H = shape.heads;
    igate_w_ = s.sub("igate").param("weight", {H, 3 * shape.inner}, Init::zeros());
    igate_b_ = s.sub("igate").param("bias", {H}, Init::normal(0, 0.1));
    fgate_w_ = s.sub("fgate").param("weight", {H, 3 * shape.inner}, Init::zeros());
    fgate_b_ = s.sub("fgate").param("bias", {H}, H > 1 ? Init::linspace(3.0, 6.0) : Init::constant(3.0));
    norm_w_ = s.sub("outnorm").param("weight", {shape.inner}, Init::ones());
  }
  Var operator()(Tape& tape, Var c, Var xm) const {
    const int64_t H = shape_.heads;
    Var q = q_(tape, c), k = k_(tape, c), v = v_(tape, xm);                          // [B, T, inner]
    Var qkv = concat({q, k, v}, -1);                                                 // [B, T, 3 inner]
    Var ig = matmul(qkv, igate_w_.on(tape), false, true) + igate_b_.on(tape);        // [B, T, H]
    Var fg = matmul(qkv, fgate_w_.on(tape), false, true) + fgate_b_.on(tape);        // [B, T, H]
    Var h = mlstm_cell(q, k, v, ig, fg, shape_.kernel, shape_.chunk, cell_eps_);     // [B, T, inner]
    return layer_norm(h, norm_w_.on(tape), Var(), norm_eps_, H);
  }

 private:
  PreupShape shape_;
  double cell_eps_, norm_eps_;
  BlockDiagonalProjection q_, k_, v_;
  Param igate_w_, igate_b_, fgate_w_, fgate_b_, norm_w_;
};

// h + s * c with a learnable per-channel s (init ones).
class LearnableSkip {
 public:
  LearnableSkip(const ParamScope& s, int64_t channels) : scale_(s, channels) {}
  Var operator()(Tape& tape, Var h, Var c) const { return h + scale_(tape, c); }

 private:
  ChannelScale scale_;
};

// y * SiLU(z): the z branch of the up-projection gates the output (the block's cell has no output gate).
struct OutputGate {
  Var operator()(Var y, Var z) const { return y * silu(z); }
};

class MlstmPreupBlock : public Layer {
 public:
  MlstmPreupBlock(const config::Value& c, const ParamScope& s, const BuildContext& ctx)
      : shape_(preup_shape(c)),
        up_(s.sub("proj_up"), shape_.dim, shape_.inner, ctx),
        conv_(s.sub("conv1d"), shape_.inner, shape_.conv),
        core_(s.sub("mlstm_cell"), shape_, c.get<double>("cell_eps"), c.get<double>("norm_eps")),
        skip_(s.sub("learnable_skip"), shape_.inner),
        down_(s.sub("proj_down"), shape_.inner, shape_.dim, false, ctx) {}

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    auto [xm, z] = up_(tape, x);
    Var c = conv_(tape, xm);
    Var h = core_(tape, c, xm);
    return down_(tape, gate_(skip_(tape, h, c), z));
  }

 private:
  PreupShape shape_;
  UpProjectionSplit up_;
  CausalConv conv_;
  MlstmCore core_;
  LearnableSkip skip_;
  OutputGate gate_;
  Linear down_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<MlstmPreupBlock>(c, s, ctx);
}

// Cell C, n, m per head plus the conv FIFO's K - 1 inputs (layers.md E, "old mLSTM layer").
StateSize state(const config::Value& c, const BuildContext&) {
  const PreupShape s = preup_shape(c);
  return {s.heads * (s.dh() * s.dh() + s.dh() + 1) + (s.conv - 1) * s.inner, true};
}

// Per token, beyond the weight products: the cell's recurrent update and read, about 4 DH^2 per head
// (C decay + k v^T, q^T C), and the depthwise conv's 2 K per channel.
double mixing_flops(const config::Value& c, const BuildContext&) {
  const PreupShape s = preup_shape(c);
  return 4.0 * static_cast<double>(s.inner * s.dh()) + 2.0 * static_cast<double>(s.conv * s.inner);
}

// Size knobs: proj_factor (0.5 to 4), heads (1 to 64, dividing inner) and the conv's kernel size (1 to 8).
// The small end (inner = D/2, many narrow heads) is what lets xLSTM[7:1] (seven of these and an sLSTM) reach
// a total of 4096 at D = 128: seven blocks of inner 64, 64 heads of 1 and K = 6 (192 + 320 floats each).
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> out;
  const PreupShape s = preup_shape(c);
  const int64_t multiple = c.get<int64_t>("inner_multiple_of");
  for (double factor : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0}) {
    const int64_t inner =
        static_cast<int64_t>(std::ceil(factor * static_cast<double>(s.dim) / static_cast<double>(multiple))) * multiple;
    for (int64_t heads : {1, 2, 4, 8, 16, 32, 64}) {
      if (inner % heads != 0 || inner % s.block != 0) continue;
      // The conv's K - 1 carried inputs per inner channel fill in state between the heads' H (Dh^2 + Dh + 1).
      for (int64_t conv = 1; conv <= 8; ++conv) {
        config::Value o = c;
        o.set("proj_factor", config::Value(factor));
        o.set("n_heads", config::Value(heads));
        o.set("conv1d_kernel_size", config::Value(conv));
        if (o != c) out.push_back(std::move(o));
      }
    }
  }
  return out;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"mlstm-preup-block", "xlstm", true,
         "original xLSTM mLSTM block: up-projection split, causal conv, mLSTM core, skip, SiLU(z) gate, down-projection",
         &build, &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
