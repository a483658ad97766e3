// RWKV-5/6 layers (models/layers/rwkv.cpp): parameter counts and state sizes at D = 128 counted by hand,
// the reference initialisation, the chunkwise WKV against the step-by-step recurrence (output and every
// gradient, float64), and a gradient check of RWKV-6 with its low-rank projections away from their
// near-zero initialisation (the automatic check in test_layers.cpp sees them at +-1e-4).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/backbone.h"
#include "tests/support/gradcheck.h"
#include "tests/support/evaluate.h"
#include "tests/support/layer_run.h"

namespace mad::models {
namespace {

int64_t params_at_128(const std::string& name) {
  Model model(arch_from_names(std::vector<std::string>{name}, 128), BackboneKind::language_model, 16, 127);
  EXPECT_TRUE(model.layer_state(0).fixed) << name;
  return model.layer_params(0);
}
int64_t state_at_128(const std::string& name) {
  Model model(arch_from_names(std::vector<std::string>{name}, 128), BackboneKind::language_model, 16, 127);
  return model.layer_state(0).floats;
}

TEST(RwkvCounts, TimeMixersAt128) {
  // receptance, key, value, gate D -> 128 and output 128 -> D, no bias; GroupNorm weight and bias [128];
  // bonus time_faaaa [8, 16].
  const int64_t common = 5 * 128 * 128 + 2 * 128 + 128;
  // RWKV-5: time_mix_k, v, r, g [128] and time_decay [8, 16].
  EXPECT_EQ(params_at_128("rwkv5-time-mixer"), common + 4 * 128 + 128);  // 82,944
  // RWKV-6: time_maa_x, w, k, v, r, g [128]; time_maa_w1 [128, 5*32], time_maa_w2 [5, 32, 128];
  // time_decay [128]; time_decay_w1 [128, 64], time_decay_w2 [64, 128].
  EXPECT_EQ(params_at_128("rwkv6-time-mixer"),
            common + 6 * 128 + 128 * 160 + 5 * 32 * 128 + 128 + 128 * 64 + 64 * 128);  // 140,544
  // mad-protocol.md section 7: heads * d_k * d_v = 8 * 16 * 16; two time mixers make the protocol's 4,096.
  EXPECT_EQ(state_at_128("rwkv5-time-mixer"), 2048);
  EXPECT_EQ(state_at_128("rwkv6-time-mixer"), 2048);
}

TEST(RwkvCounts, ChannelMixersAt128) {
  // time_mix (or time_maa) k and r [128]; key 128 -> 512, receptance 128 -> 128, value 512 -> 128, no bias.
  for (const char* name : {"rwkv5-channel-mixer", "rwkv6-channel-mixer"}) {
    EXPECT_EQ(params_at_128(name), 2 * 128 + 128 * 512 + 128 * 128 + 512 * 128) << name;  // 147,712
    EXPECT_EQ(state_at_128(name), 0) << name;  // counted as a channel mixer (docs/layers.md)
  }
}

// The reference's initialisation with layer_id = 0, n_layer = 1.
TEST(RwkvInit, ReferenceValues) {
  ParamStore params(DType::F64);
  const BuildContext ctx{128, 127, LinearInit::pytorch_default};
  const LayerRegistry& reg = builtin_layers();
  auto five = reg.find("rwkv5-time-mixer").build(reg.resolve("rwkv5-time-mixer", config::Value::map(), 128),
                                                ParamScope(params).sub("a"), ctx);
  auto six = reg.find("rwkv6-time-mixer").build(reg.resolve("rwkv6-time-mixer", config::Value::map(), 128),
                                               ParamScope(params).sub("b"), ctx);
  params.finalize(1);
  auto at = [&](const std::string& name, int64_t i) { return params.entry(params.find(name)).value.item(i); };
  EXPECT_DOUBLE_EQ(at("a.time_decay", 0), -6.0);
  EXPECT_DOUBLE_EQ(at("a.time_decay", 127), -1.0);
  EXPECT_DOUBLE_EQ(at("a.time_decay", 64), -6.0 + 5.0 * std::pow(64.0 / 127.0, 0.7));
  EXPECT_DOUBLE_EQ(at("a.time_faaaa", 0), 0.0);
  EXPECT_DOUBLE_EQ(at("a.time_faaaa", 1), 0.1);
  EXPECT_DOUBLE_EQ(at("a.time_faaaa", 2), -0.1);
  EXPECT_DOUBLE_EQ(at("a.time_mix_k", 32), 0.25);
  EXPECT_DOUBLE_EQ(at("a.time_mix_r", 32), 0.5);
  EXPECT_DOUBLE_EQ(at("b.time_maa_k", 32), 0.75);
  EXPECT_DOUBLE_EQ(at("b.time_maa_g", 32), 0.5);
  EXPECT_DOUBLE_EQ(at("b.time_decay", 127), -1.0);
  EXPECT_DOUBLE_EQ(at("b.ln_x.weight", 5), 1.0);
  const Tensor& w1 = params.entry(params.find("b.time_maa_w1")).value;
  for (int64_t i = 0; i < w1.numel(); ++i) ASSERT_LE(std::abs(w1.item(i)), 1e-4);
}

// Redraws every low-rank projection of RWKV-6 from N(0, 0.5^2), so that the decay and token shift
// really depend on the data.
testing::LayerRunOptions strong_lora_options() {
  testing::LayerRunOptions options;
  options.reinitialize = [](ParamStore& params) {
    Rng rng(3);
    for (const auto& e : params.entries())
      if (e.name.find("_w1") != std::string::npos || e.name.find("_w2") != std::string::npos)
        initialize(e.value, Init::normal(0, 0.5), rng);
  };
  return options;
}

// T = 37 spans three 16-step chunks of the chunkwise form; D = 16 with 4 heads of 4.
TEST(RwkvForms, ChunkedWkvEqualsRecurrence) {
  for (const char* name : {"rwkv5-time-mixer", "rwkv6-time-mixer"}) {
    for (bool strong : {false, true}) {
      if (strong && std::string(name) == "rwkv5-time-mixer") continue;
      config::Value o = config::Value::map();
      o.set("dim_att", config::Value(16));
      o.set("head_dim", config::Value(4));
      if (std::string(name) == "rwkv6-time-mixer") {
        o.set("time_mix_extra_dim", config::Value(3));
        o.set("time_decay_extra_dim", config::Value(5));
      }
      o.set("mode", config::Value(std::string("chunk")));
      const testing::LayerRunOptions options = strong ? strong_lora_options() : testing::LayerRunOptions{};
      const testing::LayerRun chunk = testing::run_layer(name, o, 16, 37, options);
      o.set("mode", config::Value(std::string("recurrent")));
      const testing::LayerRun step = testing::run_layer(name, o, 16, 37, options);
      EXPECT_LT(testing::relative_error(chunk.out, step.out), 1e-10) << name << " output, strong lora " << strong;
      EXPECT_LT(testing::relative_error(chunk.dx, step.dx), 1e-10) << name << " input gradient, strong lora " << strong;
      EXPECT_LT(testing::relative_error(chunk.dparams, step.dparams), 1e-10)
          << name << " parameter gradients, strong lora " << strong;
    }
  }
}

// The bonus u acts on the current token only: with u = 0 and a first position, the output of the WKV is
// zero, so the layer's output at t = 0 is output(GroupNorm(0) * g) = output(ln_x.bias * g).
TEST(RwkvForms, FirstTokenSeesOnlyTheBonus) {
  config::Value o = config::Value::map();
  o.set("dim_att", config::Value(8));
  o.set("head_dim", config::Value(4));
  const config::Value cfg = builtin_layers().resolve("rwkv5-time-mixer", o, 8);
  ParamStore params(DType::F64);
  const BuildContext ctx{8, 4, LinearInit::pytorch_default};
  auto layer = builtin_layers().find("rwkv5-time-mixer").build(cfg, ParamScope(params), ctx);
  params.finalize(5);
  const Tensor& u = params.entry(params.find("time_faaaa")).value;
  for (int64_t i = 0; i < u.numel(); ++i) u.data<double>()[i] = 0;
  Tape tape;
  Var y = layer->forward(tape, tape.constant(testing::randn({1, 4, 8}, 7)));
  // ln_x.bias is 0, so the whole first row is 0; later rows are not.
  double first = 0, later = 0;
  for (int64_t c = 0; c < 8; ++c) first = std::max(first, std::abs(y.value().item(c)));
  for (int64_t i = 8; i < 32; ++i) later = std::max(later, std::abs(y.value().item(i)));
  EXPECT_EQ(first, 0.0);
  EXPECT_GT(later, 1e-6);
}

TEST(RwkvGradient, Rwkv6WithDataDependentDecay) {
  config::Value o = config::Value::map();
  o.set("dim_att", config::Value(8));
  o.set("head_dim", config::Value(4));
  o.set("time_mix_extra_dim", config::Value(2));
  o.set("time_decay_extra_dim", config::Value(3));
  constexpr int64_t D = 8, T = 6;
  const config::Value cfg = builtin_layers().resolve("rwkv6-time-mixer", o, D);
  ParamStore params(DType::F64);
  const BuildContext ctx{D, T, LinearInit::pytorch_default};
  auto layer = builtin_layers().find("rwkv6-time-mixer").build(cfg, ParamScope(params), ctx);
  params.finalize(3);
  Rng rng(9);
  for (const auto& e : params.entries()) {
    if (e.name.find("_w1") != std::string::npos || e.name.find("_w2") != std::string::npos)
      initialize(e.value, Init::normal(0, 0.5), rng);
    if (e.name.find("bias") != std::string::npos) initialize(e.value, Init::normal(0, 0.1), rng);
  }
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return layer->forward(tape, x); },
                                           testing::randn({2, T, D}, 5), params);
  EXPECT_TRUE(r.ok) << "max error " << r.max_abs_error << "\n" << r.report;
}

TEST(RwkvConfig, BadSettingsAreOneLineErrors) {
  config::Value o = config::Value::map();
  o.set("head_dim", config::Value(12));  // does not divide dim_att 128
  EXPECT_THROW(builtin_layers().find("rwkv6-time-mixer").state(builtin_layers().resolve("rwkv6-time-mixer", o, 128),
                                                                 BuildContext{}),
               Error);
  config::Value m = config::Value::map();
  m.set("mode", config::Value(std::string("parallel")));
  ParamStore params(DType::F64);
  EXPECT_THROW(builtin_layers().find("rwkv5-time-mixer")
                   .build(builtin_layers().resolve("rwkv5-time-mixer", m, 128), ParamScope(params), BuildContext{}),
               Error);
}

TEST(RwkvRegistry, SizeOptionsAndFlops) {
  const BuildContext ctx{128, 127, LinearInit::pytorch_default};
  for (const char* name : {"rwkv5-time-mixer", "rwkv6-time-mixer", "rwkv5-channel-mixer", "rwkv6-channel-mixer"}) {
    const LayerEntry& e = builtin_layers().find(name);
    const config::Value def = builtin_layers().resolve(name, config::Value::map(), 128);
    ASSERT_NE(e.size_options, nullptr) << name;
    const auto options = e.size_options(def, ctx);
    EXPECT_GE(options.size(), 4u) << name;
    for (const auto& opt : options) {  // every option builds
      ParamStore params(DType::F32);
      EXPECT_NO_THROW(e.build(opt, ParamScope(params), ctx)) << name;
    }
  }
  const LayerEntry& t = builtin_layers().find("rwkv6-time-mixer");
  ASSERT_NE(t.mixing_flops, nullptr);
  // 8 heads of 16: 8 * (4 * 256 + 2 * 16 * 17 + 4 * 16)
  EXPECT_DOUBLE_EQ(t.mixing_flops(builtin_layers().resolve("rwkv6-time-mixer", config::Value::map(), 128), ctx),
                   8.0 * (4 * 256 + 2 * 16 * 17 + 4 * 16));
}

}  // namespace
}  // namespace mad::models
