// Every wiring block (family "block", models/blocks/): a float64 gradient check of its inputs and
// parameters on small widths, and a coverage test that fails for a registered block without a case.
#include <gtest/gtest.h>

#include <set>

#include "config/yaml.h"
#include "models/blocks/block.h"
#include "tests/support/gradcheck.h"

namespace mad::models {
namespace {

struct BlockCase {
  std::string block;
  std::string overrides;  // YAML map
  std::vector<int64_t> in;
};

const std::vector<BlockCase>& cases() {
  static const std::vector<BlockCase> k = {
      {"linear", "{width: 6, bias: true}", {5}},
      {"linear", "{width: 4, block_size: 2}", {4}},
      {"linear", "{width: 6, wiring: {kind: random, sparsity: 0.5, seed: 3}}", {5}},
      {"linear", "{width: 6, wiring: {kind: autoncp, sparsity: 0.5, polarity: true}}", {5}},
      {"scale", "{}", {5}},
      {"split", "{parts: 2}", {6}},
      {"split", "{sizes: [1, 2, 3]}", {6}},
      {"concat", "{}", {3, 2}},
      {"add", "{}", {4, 4, 4}},
      {"mul", "{}", {4, 4}},
      {"swiglu-gate", "{}", {4, 4}},
      {"activation", "{fn: silu}", {4}},
      {"activation", "{fn: sigmoid}", {4}},
      {"activation", "{fn: tanh}", {4}},
      {"activation", "{fn: relu}", {4}},
      {"activation", "{fn: gelu}", {4}},
      {"activation", "{fn: gelu_tanh}", {4}},
      {"activation", "{fn: exp}", {4}},
      {"activation", "{fn: softplus}", {4}},
      {"activation", "{fn: softcap, cap: 2.0}", {4}},
      {"activation", "{fn: identity}", {4}},
      {"norm", "{kind: rmsnorm, groups: 2}", {6}},
      {"norm", "{kind: layernorm, groups: 3, bias: true}", {6}},
      {"causal-conv", "{kernel_size: 3}", {4}},
      // The mLSTM backward holds the stabiliser constant, which is exact for cell_eps = 0 (layers.md A.4).
      {"mlstm-core", "{kernel: recurrent, cell_eps: 0.0}", {4, 4, 6, 2, 2}},
      {"mlstm-core", "{kernel: chunkwise, chunk_size: 2, cell_eps: 0.0}", {4, 4, 6, 2, 2}},
      {"mlstm-core", "{kernel: parallel, cell_eps: 0.0}", {4, 4, 6, 2, 2}},
      {"slstm-core", "{n_heads: 2}", {16}},
  };
  return k;
}

class BlockGradient : public ::testing::TestWithParam<size_t> {};

TEST_P(BlockGradient, MatchesFiniteDifferences) {
  const BlockCase& bc = cases()[GetParam()];
  SCOPED_TRACE(bc.block + " " + bc.overrides);
  constexpr int64_t D = 8, T = 5;
  const LayerEntry& entry = builtin_layers().find(bc.block);
  ASSERT_NE(entry.block, nullptr);
  config::Value cfg = builtin_layers().resolve(bc.block, config::load_string(bc.overrides), D);
  const std::vector<int64_t> out_widths = entry.block->widths(cfg, bc.in);
  config::Value in_widths = config::Value::list();
  int64_t total = 0;
  for (int64_t w : bc.in) {
    in_widths.push_back(config::Value(w));
    total += w;
  }
  cfg.set("in_widths", in_widths);
  ParamStore params(DType::F64);
  auto layer = entry.build(cfg, ParamScope(params), BuildContext{D, T, LinearInit::pytorch_default});
  const auto* block = dynamic_cast<const Block*>(layer.get());
  ASSERT_NE(block, nullptr);
  params.finalize(3);
  Rng rng(9);  // every parameter away from its init (zero recurrences, unit scales)
  for (const auto& e : params.entries()) initialize(e.value, Init::normal(0.2, 0.4), rng);
  for (const auto& e : params.entries())
    if (e.init.zero_mask) initialize(e.value, e.init, rng);  // the masked zeros stay zero
  std::vector<Var> ins(bc.in.size()), outs(out_widths.size());
  const auto r = testing::gradcheck_module(
      [&](Tape& tape, Var x) {
        split(x, -1, bc.in, ins);  // one input tensor carries all the block's inputs side by side
        block->apply(tape, ins, outs);
        for (size_t j = 0; j < outs.size(); ++j) EXPECT_EQ(outs[j].dim(2), out_widths[j]);
        return outs.size() == 1 ? outs[0] : concat(outs, -1);
      },
      testing::randn({2, T, total}, 5), params);
  EXPECT_TRUE(r.ok) << "max error " << r.max_abs_error << "\n" << r.report;
}

INSTANTIATE_TEST_SUITE_P(Blocks, BlockGradient, ::testing::Range<size_t>(0, cases().size()));

TEST(Blocks, EveryRegisteredBlockHasAGradientCase) {
  std::set<std::string> covered;
  for (const BlockCase& c : cases()) covered.insert(c.block);
  for (const std::string& name : builtin_layers().block_names())
    EXPECT_TRUE(covered.contains(name)) << "block '" << name << "' has no case in tests/models/test_blocks.cpp";
}

// State sizes of the stateful blocks (layers.md E).
TEST(Blocks, StateSizes) {
  auto state = [](const char* name, std::vector<int64_t> in) {
    config::Value cfg = builtin_layers().resolve(name, config::Value(), 128);
    config::Value w = config::Value::list();
    for (int64_t x : in) w.push_back(config::Value(x));
    cfg.set("in_widths", w);
    return builtin_layers().find(name).state(cfg, BuildContext{}).floats;
  };
  EXPECT_EQ(state("mlstm-core", {64, 64, 128, 4, 4}), 4 * (16 * 32 + 16 + 1));  // = mlstm-block's 2116
  EXPECT_EQ(state("causal-conv", {256}), 3 * 256);
  EXPECT_EQ(state("slstm-core", {512}), 4 * 128);
  EXPECT_EQ(state("linear", {128}), 0);
}

}  // namespace
}  // namespace mad::models
