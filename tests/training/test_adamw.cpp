// AdamW's weight-decay groups: with no_norm_bias, norm weights, biases, rank-1 parameters and mamba's A_log
// and D keep their values under a pure decay step (zero gradient), every other parameter is decayed.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "training/adamw.h"

namespace mad {
namespace {

struct Case {
  std::string name;
  Shape shape;
  bool exempt;
};

// One step with zero gradients: Adam's update is 0, so only the decay p *= 1 - lr * wd moves a value.
void decay_step(WeightDecayGroups groups, const std::vector<Case>& cases) {
  ParamStore store;
  for (const Case& c : cases) store.declare(c.name, c.shape, Init::ones());
  store.finalize(1);
  store.zero_grad();
  AdamW opt(store, {.lr = 0.1, .weight_decay = 0.5, .weight_decay_groups = groups});
  opt.step(0.1);
  const float decayed = static_cast<float>(1.0 - 0.1 * 0.5);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Tensor& v = store.entry(static_cast<int>(i)).value;
    const bool kept = groups == WeightDecayGroups::no_norm_bias && cases[i].exempt;
    for (int64_t k = 0; k < v.numel(); ++k)
      ASSERT_FLOAT_EQ(v.data<float>()[k], kept ? 1.0f : decayed) << cases[i].name << " element " << k;
  }
}

const std::vector<Case> kCases = {
    {"embedding.weight", {16, 8}, false},
    {"layers.0.norm.weight", {8}, true},
    {"layers.0.norm.bias", {8}, true},
    {"layers.1.attention.wqkv.weight", {24, 8}, false},
    {"layers.1.attention.wqkv.bias", {24}, true},
    {"layers.2.mamba.A_log", {16, 4}, true},
    {"layers.2.mamba.D", {16}, true},
    {"layers.2.mamba.conv1d.weight", {16, 4}, false},
    {"layers.2.mamba.dt_proj.bias", {16}, true},
    {"head.weight", {16, 8}, false},
};

TEST(AdamWGroups, AllDecaysEveryParameter) { decay_step(WeightDecayGroups::all, kCases); }

TEST(AdamWGroups, NoNormBiasLeavesNormsBiasesAndSsmParametersUndecayed) {
  decay_step(WeightDecayGroups::no_norm_bias, kCases);
}

TEST(AdamWGroups, NamesRoundTripAndBadNamesFail) {
  EXPECT_EQ(weight_decay_groups_from_name("all"), WeightDecayGroups::all);
  EXPECT_EQ(weight_decay_groups_from_name("no_norm_bias"), WeightDecayGroups::no_norm_bias);
  EXPECT_EQ(weight_decay_groups_name(WeightDecayGroups::no_norm_bias), "no_norm_bias");
  EXPECT_THROW(weight_decay_groups_from_name("none"), Error);
}

}  // namespace
}  // namespace mad
