// mamba and moe-mlp: parameter counts and state sizes at D = 128 by hand (mad-protocol.md sections 6, 7),
// the reference's initialisation of Mamba's A_log, D and dt bias, the MoE router's two fills, and the
// size options each layer offers for normalisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "config/yaml.h"
#include "models/backbone.h"
#include "models/layers/router.h"
#include "tests/support/gradcheck.h"

namespace mad::models {
namespace {

// mamba at D = 128 (E = 256, N = 4, R = 8, d_conv 4):
//   in_proj 128*512 + conv 256*4 + 256 + x_proj 256*(8+4+4) + dt_proj 8*256 + 256 + A_log 256*4 + D 256
//   + out_proj 256*128 = 107,264 (section 7); state E * N = 1,024 per layer, 4,096 for the 4-layer model.
TEST(Mamba, CountsAndStateAt128) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mamba", "mamba", "mamba", "mamba"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 128 * 512 + 256 * 4 + 256 + 256 * 16 + 8 * 256 + 256 + 256 * 4 + 256 + 256 * 128);
  EXPECT_EQ(model.layer_params(0), 107264);
  int64_t total = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(model.layer_state(i).fixed);
    total += model.layer_state(i).floats;
  }
  EXPECT_EQ(model.layer_state(0).floats, 1024);
  EXPECT_EQ(total, 4096);
}

TEST(Mamba, ReferenceInitialisation) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mamba"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  model.initialize(3);
  const ParamStore& p = model.params();
  auto values = [&](const std::string& name) {
    const int i = p.find("model.0.layer." + name);
    EXPECT_GE(i, 0) << name;
    return p.entry(i).value.to_vector<float>();
  };
  const std::vector<float> a_log = values("A_log"), d = values("D"), dt_bias = values("dt_proj.bias");
  ASSERT_EQ(a_log.size(), 256u * 4);
  for (size_t i = 0; i < a_log.size(); ++i) EXPECT_FLOAT_EQ(a_log[i], std::log(static_cast<float>(i % 4 + 1)));
  for (float v : d) EXPECT_EQ(v, 1.0f);
  // softplus(bias) = dt in [dt_min, dt_max] = [0.001, 0.1], spread over the range.
  float lo = 1, hi = 0;
  for (float b : dt_bias) {
    const float dt = std::log1p(std::exp(b));
    lo = std::min(lo, dt);
    hi = std::max(hi, dt);
  }
  EXPECT_GE(lo, 0.001f * 0.999f);
  EXPECT_LE(hi, 0.1f * 1.001f);
  EXPECT_LT(lo, 0.002f);
  EXPECT_GT(hi, 0.05f);
  const std::vector<float> dt_w = values("dt_proj.weight");  // U(+-1/sqrt(8))
  for (float w : dt_w) EXPECT_LE(std::abs(w), 1.0f / std::sqrt(8.0f));
}

TEST(Mamba, BadSettingsAreOneLineErrors) {
  auto build = [](const char* yaml) {
    Model m(arch_from_config(config::load_string(yaml)), BackboneKind::language_model, 16, 32);
  };
  EXPECT_THROW(build("layers: [{type: mamba, dt_rank: big}]"), Error);
  EXPECT_THROW(build("layers: [{type: mamba, d_state: 0}]"), Error);
  EXPECT_THROW(build("layers: [{type: mamba, dt_min: 0.5, dt_max: 0.1}]"), Error);
  EXPECT_NO_THROW(build("layers: [{type: mamba, dt_rank: 4, expand: 1}]"));
}

// moe-mlp at D = 128: up1, up2 128*128 each, down 128*1024, router 128*8 + 8 = 164,872; no state.
TEST(MoeMlp, CountsAndStateAt128) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"moe-mlp"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 2 * 128 * 128 + 128 * 1024 + 128 * 8 + 8);
  EXPECT_EQ(model.layer_state(0).floats, 0);
}

// zero (the reference): every expert keeps weight; mask: exactly `active` experts per token.
TEST(MoeMlp, RouterFills) {
  for (RouterFill fill : {RouterFill::zero, RouterFill::mask}) {
    ParamStore params(DType::F64);
    const TopKRouter router(ParamScope(params).sub("router"), 6, 5, 2, fill, BuildContext{6, 4});
    params.finalize(1);
    Tape tape;
    const Tensor w = router(tape, tape.constant(testing::randn({2, 4, 6}, 2))).value();
    for (int64_t token = 0; token < 8; ++token) {
      int nonzero = 0;
      double total = 0;
      for (int64_t e = 0; e < 5; ++e) {
        nonzero += w.item(token * 5 + e) != 0.0;
        total += w.item(token * 5 + e);
      }
      EXPECT_NEAR(total, 1.0, 1e-12);
      EXPECT_EQ(nonzero, fill == RouterFill::zero ? 5 : 2);
    }
  }
  EXPECT_THROW(Model(arch_from_config(config::load_string("layers: [{type: moe-mlp, router_fill: sparse}]")),
                     BackboneKind::language_model, 16, 8),
               Error);
  EXPECT_THROW(Model(arch_from_config(config::load_string("layers: [{type: moe-mlp, active_experts: 9}]")),
                     BackboneKind::language_model, 16, 8),
               Error);
}

// Every size option builds, and the options span several states (mamba) and parameter counts (moe-mlp).
TEST(SizeOptions, BuildAndVary) {
  const BuildContext ctx{128, 127};
  for (const char* name : {"mamba", "moe-mlp"}) {
    const LayerEntry& entry = builtin_layers().find(name);
    ASSERT_NE(entry.size_options, nullptr) << name;
    const config::Value defaults = builtin_layers().resolve(name, config::Value::map(), 128);
    const std::vector<config::Value> options = entry.size_options(defaults, ctx);
    EXPECT_GE(options.size(), 8u) << name;
    std::set<int64_t> sizes;
    for (const config::Value& o : options) {
      ParamStore params(DType::F32);
      EXPECT_NO_THROW(entry.build(o, ParamScope(params), ctx)) << name;
      sizes.insert(std::string(name) == "mamba" ? entry.state(o, ctx).floats : params.num_params());
    }
    EXPECT_GE(sizes.size(), 8u) << name;
  }
}

}  // namespace
}  // namespace mad::models
