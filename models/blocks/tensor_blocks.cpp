// Parameter-free blocks of wiring graphs: split, concat, add, mul and the activations.
#include "models/blocks/block.h"
#include "models/blocks/pieces.h"

namespace mad::models {

int64_t same_widths(std::span<const int64_t> in, const char* block) {
  for (int64_t w : in)
    MAD_CHECK(w == in[0], "{} needs inputs of one width, got widths {}", block, fmt::join(in, ", "));
  return in[0];
}

namespace {

// `sizes: [a, b, ...]` (summing to the input width) or `parts: n` (equal parts).
std::vector<int64_t> split_widths(const config::Value& c, std::span<const int64_t> in) {
  const config::Value& sizes = c.at("sizes");
  if (!sizes.is_null()) {
    const std::vector<int64_t> s = sizes.as<std::vector<int64_t>>();
    int64_t total = 0;
    for (int64_t w : s) total += w;
    MAD_CHECK(s.size() >= 2 && total == in[0], "{}: sizes [{}] must be two or more widths summing to the input width {}",
              sizes.where(), fmt::join(s, ", "), in[0]);
    return s;
  }
  const int64_t parts = c.get<int64_t>("parts");
  MAD_CHECK(parts >= 2 && in[0] % parts == 0, "{}: parts = {} must be at least 2 and divide the input width {}",
            c.at("parts").where(), parts, in[0]);
  return std::vector<int64_t>(static_cast<size_t>(parts), in[0] / parts);
}

// x [B, T, sum C_j] -> consecutive parts [B, T, C_j] (views when contiguous).
class SplitBlock : public Block {
 public:
  SplitBlock(const config::Value& c, const ParamScope&, const BuildContext&)
      : sizes_(split_widths(c, block_inputs(c))) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override { split(in[0], -1, sizes_, out); }

 private:
  std::vector<int64_t> sizes_;
};

std::vector<int64_t> concat_widths(const config::Value&, std::span<const int64_t> in) {
  int64_t total = 0;
  for (int64_t w : in) total += w;
  return {total};
}

// [B, T, C_i] ... -> [B, T, sum C_i]
class ConcatBlock : public Block {
 public:
  ConcatBlock(const config::Value&, const ParamScope&, const BuildContext&) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override {
    out[0] = in.size() == 1 ? in[0] : concat(in, -1);
  }
};

std::vector<int64_t> add_widths(const config::Value&, std::span<const int64_t> in) { return {same_widths(in, "add")}; }
std::vector<int64_t> mul_widths(const config::Value&, std::span<const int64_t> in) { return {same_widths(in, "mul")}; }

// Elementwise sum or product of inputs of one width, left to right.
template <bool Product>
class ElementwiseBlock : public Block {
 public:
  ElementwiseBlock(const config::Value&, const ParamScope&, const BuildContext&) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override {
    Var y = in[0];
    for (size_t i = 1; i < in.size(); ++i) y = Product ? y * in[i] : y + in[i];
    out[0] = y;
  }
};

enum class Fn { identity, silu, sigmoid, tanh, relu, gelu, gelu_tanh, exp, softplus, softcap };

Fn activation_fn(const config::Value& c) {
  static const std::pair<const char*, Fn> kFns[] = {
      {"identity", Fn::identity}, {"silu", Fn::silu}, {"sigmoid", Fn::sigmoid}, {"tanh", Fn::tanh},
      {"relu", Fn::relu}, {"gelu", Fn::gelu}, {"gelu_tanh", Fn::gelu_tanh}, {"exp", Fn::exp},
      {"softplus", Fn::softplus}, {"softcap", Fn::softcap}};
  const std::string name = c.get<std::string>("fn");
  for (const auto& [n, f] : kFns)
    if (name == n) return f;
  fail(fmt::format("{}: unknown activation '{}'; use identity, silu, sigmoid, tanh, relu, gelu, gelu_tanh, exp, "
                   "softplus or softcap (cap tanh(x / cap))", c.at("fn").where(), name));
}

std::vector<int64_t> activation_widths(const config::Value& c, std::span<const int64_t> in) {
  if (activation_fn(c) == Fn::softcap)
    MAD_CHECK(c.get<double>("cap") > 0, "{}: cap must be positive, got {}", c.at("cap").where(), c.get<double>("cap"));
  return {in[0]};
}

class ActivationBlock : public Block {
 public:
  ActivationBlock(const config::Value& c, const ParamScope&, const BuildContext&)
      : fn_(activation_fn(c)), cap_(c.get<double>("cap")) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override {
    const Var x = in[0];
    switch (fn_) {
      case Fn::identity: out[0] = x; break;
      case Fn::silu: out[0] = silu(x); break;
      case Fn::sigmoid: out[0] = sigmoid(x); break;
      case Fn::tanh: out[0] = tanh(x); break;
      case Fn::relu: out[0] = relu(x); break;
      case Fn::gelu: out[0] = gelu_erf(x); break;
      case Fn::gelu_tanh: out[0] = gelu_tanh(x); break;
      case Fn::exp: out[0] = exp(x); break;
      case Fn::softplus: out[0] = softplus(x); break;
      case Fn::softcap: out[0] = soft_cap(x, cap_); break;
    }
  }

 private:
  Fn fn_;
  double cap_;
};

// silu(a) * b through the fused op (core/ops_fused.cpp): SwiGLU's gate in one pass.
std::vector<int64_t> swiglu_widths(const config::Value&, std::span<const int64_t> in) {
  return {same_widths(in, "swiglu-gate")};
}
class SwigluGateBlock : public Block {
 public:
  SwigluGateBlock(const config::Value&, const ParamScope&, const BuildContext&) {}
  void apply(Tape&, std::span<const Var> in, std::span<Var> out) const override { out[0] = swiglu_gate(in[0], in[1]); }
};

const BlockSpec kSplit{1, 1, &split_widths};
const BlockSpec kConcat{1, -1, &concat_widths};
const BlockSpec kAdd{2, -1, &add_widths};
const BlockSpec kMul{2, -1, &mul_widths};
const BlockSpec kActivation{1, 1, &activation_widths};
const BlockSpec kSwigluGate{2, 2, &swiglu_widths};

}  // namespace

MAD_REGISTER_LAYERS(r) {
  add_block(r, "split", "split the channels into consecutive parts (outputs name.0, name.1, ... or out: [...])",
            &build_block<SplitBlock>, &kSplit);
  add_block(r, "concat", "concatenate the inputs' channels", &build_block<ConcatBlock>, &kConcat);
  add_block(r, "add", "elementwise sum of inputs of one width", &build_block<ElementwiseBlock<false>>, &kAdd);
  add_block(r, "mul", "elementwise product of inputs of one width", &build_block<ElementwiseBlock<true>>, &kMul);
  add_block(r, "activation", "elementwise function: silu, sigmoid, tanh, relu, gelu, exp, softplus, softcap, ...",
            &build_block<ActivationBlock>, &kActivation);
  add_block(r, "swiglu-gate", "silu(a) * b, fused (SwiGLU's gate)", &build_block<SwigluGateBlock>, &kSwigluGate);
}

}  // namespace mad::models
