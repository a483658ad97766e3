// Recurrent cell cores of wiring graphs: `mlstm-core` (q, k, v and the two gate pre-activations in; the
// heads are the gates' width) and `slstm-core` (the four gates' pre-activations in, block-diagonal
// recurrence). The projections, convolutions and norms around a cell are nodes of their own.
#include "core/ops_xlstm.h"
#include "models/blocks/block.h"
#include "models/blocks/pieces.h"
#include "models/layers/config_checks.h"

namespace mad::models {
namespace {

struct CoreShape {
  int64_t heads, dk, dv;
};

// Inputs q, k [H Dk], v [H Dv], igate, fgate [H].
CoreShape core_shape(std::span<const int64_t> in) {
  const int64_t H = in[3];
  MAD_CHECK(in[4] == H, "mlstm-core reads q, k, v, igate, fgate: the gates have widths {} and {}; both are the heads",
            in[3], in[4]);
  MAD_CHECK(in[0] == in[1] && in[0] % H == 0,
            "mlstm-core: q and k (widths {} and {}) must have one width, a multiple of the {} heads (the gates' width)",
            in[0], in[1], H);
  MAD_CHECK(in[2] % H == 0, "mlstm-core: v's width {} must be a multiple of the {} heads (the gates' width)", in[2], H);
  return {H, in[0] / H, in[2] / H};
}

MlstmKernel core_kernel(const config::Value& c) {
  const std::string kernel = c.get<std::string>("kernel");
  if (kernel == "parallel") return MlstmKernel::parallel;
  if (kernel == "chunkwise") return MlstmKernel::chunkwise;
  MAD_CHECK(kernel == "recurrent", "{}: unknown mLSTM kernel '{}'; use parallel, chunkwise or recurrent",
            c.at("kernel").where(), kernel);
  return MlstmKernel::recurrent;
}

std::vector<int64_t> mlstm_core_widths(const config::Value& c, std::span<const int64_t> in) {
  core_kernel(c);
  int_at_least(c, "chunk_size", 1);
  return {in[2]};
}

// q, k [B, T, H Dk], v [B, T, H Dv], igate, fgate [B, T, H] -> h [B, T, H Dv] (core/ops_xlstm.h).
class MlstmCoreBlock : public Block {
 public:
  MlstmCoreBlock(const config::Value& c, const ParamScope&, const BuildContext&)
      : kernel_(core_kernel(c)), chunk_(c.get<int64_t>("chunk_size")), eps_(c.get<double>("cell_eps")) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override {
    out[0] = mlstm_cell(in[0], in[1], in[2], in[3], in[4], kernel_, chunk_, eps_);
  }

 private:
  MlstmKernel kernel_;
  int64_t chunk_;
  double eps_;
};

// C, n, m per head (layers.md E), as the mlstm layer counts it.
StateSize mlstm_core_state(const config::Value& c, const BuildContext&) {
  const CoreShape s = core_shape(block_inputs(c));
  return {s.heads * (s.dk * s.dv + s.dk + 1), true};
}
double mlstm_core_flops(const config::Value& c, const BuildContext&) {
  const CoreShape s = core_shape(block_inputs(c));
  const double H = static_cast<double>(s.heads), dk = static_cast<double>(s.dk), dv = static_cast<double>(s.dv);
  return H * (5.0 * dk * dv + 5.0 * dk + 13.0);
}

// Input: the gate pre-activations [4 Hd] gate-major (i, f, z, o; then head; then unit); n_heads must divide Hd.
int64_t slstm_hidden(const config::Value& c, std::span<const int64_t> in) {
  MAD_CHECK(in[0] % 4 == 0, "slstm-core reads the four gates' pre-activations (i, f, z, o): width {} is not 4 Hd", in[0]);
  const int64_t hd = in[0] / 4, heads = c.get<int64_t>("n_heads");
  MAD_CHECK(heads >= 1 && hd % heads == 0, "{}: n_heads = {} must divide the hidden width {} (input width / 4)",
            c.at("n_heads").where(), heads, hd);
  return hd;
}
std::vector<int64_t> slstm_core_widths(const config::Value& c, std::span<const int64_t> in) {
  return {slstm_hidden(c, in)};
}

// pre [B, T, 4 Hd] -> h [B, T, Hd]: recurrent kernel [H, DH, 4 DH] (init zeros), bias [4 Hd] (i, z, o zero,
// f linspace(3, 6) over the units, as the slstm layer).
class SlstmCoreBlock : public Block {
 public:
  SlstmCoreBlock(const config::Value& c, const ParamScope& s, const BuildContext&) {
    const int64_t hd = slstm_hidden(c, block_inputs(c)), H = c.get<int64_t>("n_heads"), DH = hd / H;
    r_ = s.param("recurrent_kernel", {H, DH, 4 * DH}, Init::zeros());
    std::vector<double> bias(static_cast<size_t>(4 * hd), 0.0);
    for (int64_t u = 0; u < hd; ++u)
      bias[static_cast<size_t>(hd + u)] = hd == 1 ? 3.0 : 3.0 + 3.0 * static_cast<double>(u) / static_cast<double>(hd - 1);
    bias_ = s.param("bias", {4 * hd}, Init::values(std::move(bias)));
  }
  void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const override {
    out[0] = slstm(in[0], r_.on(tape), bias_.on(tape));
  }

 private:
  Param r_, bias_;
};

// h, c, n, m per unit.
StateSize slstm_core_state(const config::Value& c, const BuildContext&) {
  return {4 * slstm_hidden(c, block_inputs(c)), true};
}
double slstm_core_flops(const config::Value& c, const BuildContext&) {
  return 20.0 * static_cast<double>(slstm_hidden(c, block_inputs(c)));
}

const BlockSpec kMlstmCore{5, 5, &mlstm_core_widths};
const BlockSpec kSlstmCore{1, 1, &slstm_core_widths};

}  // namespace

MAD_REGISTER_LAYERS(r) {
  add_block(r, "mlstm-core", "mLSTM cell: q, k, v, igate, fgate pre-activations in (heads = gate width)",
            &build_block<MlstmCoreBlock>, &kMlstmCore, &mlstm_core_state, &mlstm_core_flops);
  add_block(r, "slstm-core", "sLSTM cell: i, f, z, o pre-activations in, block-diagonal recurrence",
            &build_block<SlstmCoreBlock>, &kSlstmCore, &slstm_core_state, &slstm_core_flops);
}

}  // namespace mad::models
