// Projection blocks of wiring graphs: `linear` (dense or block-diagonal, any output width, optional bias and
// NCPS wiring mask) and `scale` (a learnable per-channel scale, xLSTM's learnable skip).
#include "models/blocks/block.h"
#include "models/blocks/pieces.h"
#include "models/projection_mask.h"

namespace mad::models {
namespace {

// `init` / `bias_init`: a name (default, small, zeros, ones) or a map {normal: std}, {constant: v},
// {linspace: [a, b]}; `preferred` is what `default` means.
Init parse_init(const config::Value& v, const BuildContext& ctx, int64_t dim, Init preferred, bool policy) {
  if (v.kind() == config::Value::Kind::String) {
    const std::string& name = v.as_string();
    if (name == "default") return policy ? ctx.linear_weight(preferred) : preferred;
    if (name == "small") return policy ? ctx.linear_weight(small_init(dim)) : small_init(dim);
    if (name == "zeros") return Init::zeros();
    if (name == "ones") return Init::ones();
  } else if (v.is_map() && v.as_map().size() == 1) {
    const auto& [kind, arg] = v.as_map().front();
    if (kind == "normal") return Init::normal(0, arg.as_double());
    if (kind == "constant") return Init::constant(arg.as_double());
    if (kind == "linspace") {
      const std::vector<double> ab = arg.as<std::vector<double>>();
      MAD_CHECK(ab.size() == 2, "{}: linspace takes [start, end]", arg.where());
      return Init::linspace(ab[0], ab[1]);
    }
  }
  fail(fmt::format("{}: unknown initialiser {}; use default, small, zeros, ones, {{normal: std}}, {{constant: v}} or "
                   "{{linspace: [a, b]}}", v.where(), v.describe()));
}

int64_t linear_width(const config::Value& c) {
  const config::Value& w = c.at("width");
  const int64_t width = w.is_null() ? c.get<int64_t>("dim") : w.as_int();
  MAD_CHECK(width >= 1, "{}: width must be positive, got {}", w.where(), width);
  return width;
}

int64_t linear_block_size(const config::Value& c) {
  const config::Value& b = c.at("block_size");
  return b.is_null() ? 0 : b.as_int();
}

std::vector<int64_t> linear_widths(const config::Value& c, std::span<const int64_t> in) {
  const int64_t width = linear_width(c), block = linear_block_size(c);
  if (block != 0) {
    MAD_CHECK(block >= 1 && in[0] % block == 0, "{}: block_size {} must divide the input width {}",
              c.at("block_size").where(), block, in[0]);
    MAD_CHECK(width == in[0], "{}: a block-diagonal linear keeps its width: width {} differs from the input width {}",
              c.at("width").where(), width, in[0]);
    MAD_CHECK(!c.get<bool>("bias"), "{}: a block-diagonal linear has no bias (xLSTM's headwise projections)",
              c.at("bias").where());
    MAD_CHECK(c.at("wiring").is_null(), "{}: a wiring mask applies to dense projections; drop block_size or wiring",
              c.at("wiring").where());
  }
  return {width};
}

// x [B, T, C] -> [B, T, width]: weight [width, C] (+ bias [width]), or block-diagonal weight
// [C / size, size, size]; with `wiring`, the weight is multiplied by a fixed 0/1 (or +-1) mask.
class LinearBlock : public Block {
 public:
  LinearBlock(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
    const int64_t in = block_inputs(c)[0], width = linear_width(c), D = c.get<int64_t>("dim");
    const int64_t block = linear_block_size(c);
    if (block != 0) {
      diagonal_ = BlockDiagonalProjection(s, in, block, parse_init(c.at("init"), ctx, D, small_init(D), false));
      return;
    }
    const bool zero = c.at("init").kind() == config::Value::Kind::String && c.at("init").as_string() == "zeros";
    // Zero-initialised weights (gates) ignore the backbone's init policy, as the C++ layers do.
    const Init w_init = parse_init(c.at("init"), ctx, D, Init::uniform_fan_in(), !zero);
    if (!c.at("wiring").is_null()) mask_ = projection_mask(c.at("wiring"), in, width);
    weight_ = s.param("weight", {width, in}, mask_.applied_to(w_init));
    if (c.get<bool>("bias")) bias_ = s.param("bias", {width}, parse_init(c.at("bias_init"), ctx, D, Init::zeros(), false));
  }
  void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const override {
    if (diagonal_.weight().defined()) {
      out[0] = diagonal_(tape, in[0]);
      return;
    }
    out[0] = linear(in[0], mask_.applied(tape, weight_.on(tape)), bias_.defined() ? bias_.on(tape) : Var());
  }

 private:
  BlockDiagonalProjection diagonal_;
  Param weight_, bias_;
  ProjectionMask mask_;
};

std::vector<int64_t> scale_widths(const config::Value&, std::span<const int64_t> in) { return {in[0]}; }

class ScaleBlock : public Block {
 public:
  ScaleBlock(const config::Value& c, const ParamScope& s, const BuildContext&)
      : scale_(s, block_inputs(c)[0], Init::constant(c.get<double>("init"))) {}
  void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const override { out[0] = scale_(tape, in[0]); }

 private:
  ChannelScale scale_;
};

const BlockSpec kLinear{1, 1, &linear_widths};
const BlockSpec kScale{1, 1, &scale_widths};

}  // namespace

MAD_REGISTER_LAYERS(r) {
  add_block(r, "linear", "projection to any width: dense (optional bias, NCPS wiring mask) or block-diagonal",
            &build_block<LinearBlock>, &kLinear);
  add_block(r, "scale", "learnable per-channel scale s * x (xLSTM's learnable skip)", &build_block<ScaleBlock>, &kScale);
}

}  // namespace mad::models
