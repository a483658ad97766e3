// Pieces shared by registered layers and wiring blocks, so that a wired layer runs the same code as the
// C++ layer it mirrors (models/layers/mlstm_preup.cpp uses them, and so do the blocks in this folder).
#pragma once

#include <algorithm>
#include <cmath>

#include "core/ops_xlstm.h"
#include "models/layer.h"

namespace mad::models {

// The dt bias of Mamba-style gates: softplus^-1(dt) with dt = max(exp(u), floor), u ~ U[log lo, log hi], so
// that softplus(bias) starts in [lo, hi] (mamba, mamba2, gated-deltanet).
inline Init inverse_softplus_dt_init(double lo, double hi, double floor) {
  return Init::uniform(std::log(lo), std::log(hi)).then([floor](double u) {
    const double dt = std::max(std::exp(u), floor);
    return dt + std::log(-std::expm1(-dt));
  });
}

// xLSTM's small_init N(0, 2 / (5 D)) for a model of width D.
inline Init small_init(int64_t dim) { return Init::normal(0, std::sqrt(2.0 / (5.0 * static_cast<double>(dim)))); }

// xLSTM's LinearHeadwiseExpand without bias: x [B, T, C] split into C / size blocks of `size`, each times its
// own size x size matrix (weight [blocks, size_in, size_out]) -> [B, T, C].
class BlockDiagonalProjection {
 public:
  BlockDiagonalProjection() = default;
  BlockDiagonalProjection(const ParamScope& s, int64_t channels, int64_t size, Init init)
      : blocks_(channels / size), size_(size) {
    weight_ = s.param("weight", {blocks_, size, size}, init);
  }
  Var operator()(Tape& tape, Var x) const {
    const int64_t B = x.dim(0), T = x.dim(1);
    Var xb = permute(reshape(x, {B * T, blocks_, size_}), {1, 0, 2});  // [blocks, BT, size]
    Var y = matmul(xb, weight_.on(tape));                              // [blocks, BT, size]
    return reshape(permute(y, {1, 0, 2}), {B, T, blocks_ * size_});
  }
  const Param& weight() const { return weight_; }

 private:
  int64_t blocks_ = 0, size_ = 0;
  Param weight_;
};

// Depthwise causal convolution of width K over x [B, T, C] (weight [C, K], optional bias [C]), PyTorch's
// Conv1d default init U(+-1/sqrt(K)).
class DepthwiseCausalConv {
 public:
  DepthwiseCausalConv() = default;
  DepthwiseCausalConv(const ParamScope& s, int64_t channels, int64_t width, bool bias) {
    const Init init = Init::uniform_fan_in(width);  // fan_in = K for a depthwise kernel
    weight_ = s.param("weight", {channels, width}, init);
    if (bias) bias_ = s.param("bias", {channels}, init);
  }
  Var operator()(Tape& tape, Var x) const {
    return depthwise_conv1d(x, weight_.on(tape), bias_.defined() ? bias_.on(tape) : Var());
  }

 private:
  Param weight_, bias_;
};

// s * x with a learnable per-channel s [C] (xLSTM's learnable skip: init ones).
class ChannelScale {
 public:
  ChannelScale() = default;
  ChannelScale(const ParamScope& s, int64_t channels, Init init = Init::ones()) {
    scale_ = s.param("weight", {channels}, init);
  }
  Var operator()(Tape& tape, Var x) const { return scale_.on(tape) * x; }

 private:
  Param scale_;
};

// The mLSTM cell on flat heads: q, k [B, T, H Dk], v [B, T, H Dv], gate pre-activations [B, T, H]
// -> h [B, T, H Dv] (core/ops_xlstm.h).
Var mlstm_cell(Var q, Var k, Var v, Var igate, Var fgate, MlstmKernel kernel, int64_t chunk, double eps);

// Soft cap: cap tanh(z / cap), keeping gate pre-activations in (-cap, cap) (layers.md A.5).
inline Var soft_cap(Var z, double cap) { return tanh(z * (1.0 / cap)) * cap; }

}  // namespace mad::models
