// The wired presets of configs/architectures/ equal the C++ layers they are written after: the same
// parameter values (copied through the documented name mapping), the same tokens and cotangent give the
// same logits and every parameter gradient to 1e-12 in float64. A variant (one changed wire) must differ,
// which shows that the comparison can fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "config/yaml.h"
#include "models/backbone.h"
#include "tests/support/evaluate.h"
#include "tests/support/gradcheck.h"

namespace mad::models {
namespace {

using NameMap = std::function<std::string(const std::string&)>;

std::string preset(const char* file) {
  return (std::filesystem::path(MAD_SOURCE_DIR) / "configs" / "architectures" / file).string();
}

// "model.0.layer.nodes.<node>.<rest>" -> (node, rest), or empty when not a node parameter.
std::pair<std::string, std::string> node_param(const std::string& name) {
  const std::string prefix = "model.0.layer.nodes.";
  if (name.rfind(prefix, 0) != 0) return {};
  const std::string tail = name.substr(prefix.size());
  const size_t dot = tail.find('.');
  return {tail.substr(0, dot), tail.substr(dot + 1)};
}

std::string preup_map(const std::string& name) {
  const auto [node, rest] = node_param(name);
  if (node.empty()) return name;
  for (const char* cell : {"q_proj", "k_proj", "v_proj", "igate", "fgate", "outnorm"})
    if (node == cell) return "model.0.layer.mlstm_cell." + node + "." + rest;
  return "model.0.layer." + node + "." + rest;
}

std::string block_map(const std::string& name) {
  const auto [node, rest] = node_param(name);
  return node.empty() ? name : "model.0.layer." + node + "." + rest;
}

std::string lfm2_map(const std::string& name) {
  const auto [node, rest] = node_param(name);
  if (node.empty()) return name;
  if (node == "operator_norm") return "model.0.norm." + rest;
  if (node == "ffn_norm") return "model.1.norm." + rest;
  if (node == "w1" || node == "w2" || node == "w3") return "model.1.layer." + node + "." + rest;
  return "model.0.layer." + node + "." + rest;
}

struct Comparison {
  double logits = 0, grads = 0;
  std::string worst;  // the parameter with the largest gradient error
};

// Builds both models in float64, gives the wired one random parameters, copies them into the reference
// by `map` (every parameter of each side mapped exactly once), runs one forward and backward on each.
Comparison compare(const std::string& wired_file, const std::string& reference_yaml, const NameMap& map) {
  constexpr int64_t V = 8, T = 10;
  const ArchSpec wired_spec = arch_from_file(wired_file);
  const ArchSpec ref_spec = arch_from_config(config::load_string(reference_yaml));
  Model wired(wired_spec, BackboneKind::language_model, V, T, DType::F64);
  Model ref(ref_spec, BackboneKind::language_model, V, T, DType::F64);
  wired.initialize(1);
  ref.initialize(2);
  Rng rng(5);
  for (const auto& e : wired.params().entries()) initialize(e.value, Init::normal(0, 0.3), rng);
  EXPECT_EQ(wired.params().entries().size(), ref.params().entries().size());
  for (const auto& e : wired.params().entries()) {
    const int j = ref.params().find(map(e.name));
    EXPECT_GE(j, 0) << e.name << " -> " << map(e.name) << " is not a parameter of the reference";
    if (j < 0) continue;
    const auto& r = ref.params().entry(j);
    EXPECT_EQ(r.shape, e.shape) << e.name;
    if (r.shape == e.shape) r.value.copy_from(e.value);
  }
  Tensor tokens = Tensor::zeros({2, T}, DType::I32);
  for (int64_t i = 0; i < 2 * T; ++i) tokens.data<int32_t>()[i] = static_cast<int32_t>((7 * i + 3) % V);
  const Tensor cot = testing::randn({2, T, V}, 11);
  auto run = [&](Model& m) {
    m.params().zero_grad();
    Tape tape;
    Var y = m.logits(tape, tokens);
    Tensor out = y.value().clone();
    tape.backward(y, cot);
    return out;
  };
  Comparison c;
  c.logits = testing::relative_error(run(wired), run(ref));
  for (const auto& e : wired.params().entries()) {
    const int j = ref.params().find(map(e.name));
    if (j < 0) continue;
    const double err = testing::relative_error(e.grad, ref.params().entry(j).grad);
    if (err >= c.grads) c.worst = e.name;
    c.grads = std::max(c.grads, err);
  }
  return c;
}

TEST(WiredPresets, MlstmPreupBlockEqualsTheCppLayer) {
  const Comparison c = compare(preset("mlstm-preup-wired.yml"), "layers: [mlstm-preup-block]", preup_map);
  EXPECT_LE(c.logits, 1e-12);
  EXPECT_LE(c.grads, 1e-12) << c.worst;
  std::printf("mlstm-preup-wired: logits %.2e, gradients %.2e (%s)\n", c.logits, c.grads, c.worst.c_str());
}

TEST(WiredPresets, MlstmBlockEqualsTheCppLayer) {
  const Comparison c = compare(preset("mlstm-block-wired.yml"), "layers: [mlstm-block, swiglu]", block_map);
  EXPECT_LE(c.logits, 1e-12);
  EXPECT_LE(c.grads, 1e-12) << c.worst;
  std::printf("mlstm-block-wired: logits %.2e, gradients %.2e (%s)\n", c.logits, c.grads, c.worst.c_str());
}

TEST(WiredPresets, Lfm2DecoderLayerEqualsTheCppLayers) {
  const Comparison c = compare(preset("lfm2-decoder-wired.yml"), "layers: [conv, swiglu]", lfm2_map);
  EXPECT_LE(c.logits, 1e-12);
  EXPECT_LE(c.grads, 1e-12) << c.worst;
  std::printf("lfm2-decoder-wired: logits %.2e, gradients %.2e (%s)\n", c.logits, c.grads, c.worst.c_str());
}

// One changed wire (v from the convolved branch) changes the result: the comparison above can fail.
TEST(WiredPresets, AVariantDiffers) {
  const Comparison c = compare(preset("mlstm-preup-wired-v-conv.yml"), "layers: [mlstm-preup-block]", preup_map);
  EXPECT_GT(c.logits, 1e-6);
}

// Masked weights (wiring: on a linear node) are zero from the start and get exactly zero gradient.
TEST(WiredPresets, MaskedWeightsAreZeroWithZeroGradient) {
  const ArchSpec spec = arch_from_file(preset("mlstm-block-wired-gates-from-v.yml"));
  Model m(spec, BackboneKind::language_model, 8, 10, DType::F64);
  m.initialize(3);
  const auto& q = m.params().entry(m.params().find("model.0.layer.nodes.q.weight"));
  ASSERT_TRUE(q.init.zero_mask);
  m.params().zero_grad();
  Tape tape;
  Tensor tokens = Tensor::zeros({2, 10}, DType::I32);
  for (int64_t i = 0; i < 20; ++i) tokens.data<int32_t>()[i] = static_cast<int32_t>(i % 8);
  Var y = m.logits(tape, tokens);
  tape.backward(y, testing::randn({2, 10, 8}, 4));
  int64_t zeros = 0, nonzero_grads = 0;
  for (int64_t i = 0; i < q.value.numel(); ++i)
    if ((*q.init.zero_mask)[static_cast<size_t>(i)] == 0) {
      ++zeros;
      EXPECT_EQ(q.value.item(i), 0.0);
      EXPECT_EQ(q.grad.item(i), 0.0);
    } else {
      nonzero_grads += q.grad.item(i) != 0.0;
    }
  EXPECT_EQ(zeros, 64 * 128 / 2);
  EXPECT_GT(nonzero_grads, 0);
  EXPECT_EQ(m.layer_params(0), 66696 - 2 * 64 * 128 / 2);  // effective: the masked halves of q and k left out
}

}  // namespace
}  // namespace mad::models
