// Every registered layer: float64 gradient check (input and every parameter), and the registry's
// defaults, counts and state sizes against mad-protocol.md sections 6 and 7.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <tuple>

#include "config/yaml.h"
#include "models/backbone.h"
#include "tests/support/gradcheck.h"
#include "tests/support/evaluate.h"
#include "tests/support/layer_run.h"
#include "tests/support/test_util.h"

namespace mad::models {
namespace {

// A small version of each layer for the finite-difference check (width 16, 4 heads, window 2): sizes derived
// from the default keys, then the entry's own small_test_overrides (models/registry.h) on top.
config::Value small_overrides(const std::string& name) {
  config::Value o = config::Value::map();
  const config::Value& d = builtin_layers().defaults(name);
  if (d.contains("n_heads")) o.set("n_heads", config::Value(d.get<int64_t>("n_heads") > 1 ? 4 : 1));
  if (d.contains("rotary_emb_dim")) o.set("rotary_emb_dim", config::Value(d.get<int64_t>("n_heads") > 1 ? 4 : 16));
  if (d.contains("window_size") && d.get<int64_t>("window_size") >= 0) o.set("window_size", config::Value(2));
  if (d.contains("dim_inner")) o.set("dim_inner", config::Value(24));
  if (d.contains("num_heads")) o.set("num_heads", config::Value(d.get<int64_t>("num_heads") > 1 ? 4 : 1));
  if (d.contains("gate_low_rank_dim")) o.set("gate_low_rank_dim", config::Value(4));
  // The mLSTM backward holds the stabiliser constant, which is exact for cell_eps = 0 (layers.md A.4).
  if (d.contains("cell_eps")) o.set("cell_eps", config::Value(0.0));
  // RWKV time mixers: 4 heads of 4 and small low-rank widths.
  if (d.contains("head_dim")) o.set("head_dim", config::Value(4));
  if (d.contains("dim_att")) o.set("dim_att", config::Value(16));
  if (d.contains("time_mix_extra_dim")) o.set("time_mix_extra_dim", config::Value(2));
  if (d.contains("time_decay_extra_dim")) o.set("time_decay_extra_dim", config::Value(3));
  if (d.contains("units")) o.set("units", config::Value(5));  // cfc, ltc
  if (d.contains("backbone_units")) o.set("backbone_units", config::Value(6));
  if (d.contains("inner_multiple_of")) o.set("inner_multiple_of", config::Value(8));  // mlstm-preup-block: inner 32
  const std::string& own = builtin_layers().find(name).small_test_overrides;
  if (!own.empty()) {
    const config::Value extra = config::load_string(own, "small_test_overrides of '" + name + "'");
    for (const auto& [key, value] : extra.as_map()) o.set(key, value);
  }
  return o;
}

class LayerGradient : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerGradient, MatchesFiniteDifferences) {
  const std::string name = GetParam();
  constexpr int64_t D = 16, T = 6;
  const LayerRegistry& registry = builtin_layers();
  const config::Value cfg = registry.resolve(name, small_overrides(name), D);
  ParamStore params(DType::F64);
  const BuildContext ctx{D, T, LinearInit::pytorch_default};
  auto layer = registry.find(name).build(cfg, ParamScope(params), ctx);
  params.finalize(3);
  // Biases start at 0 in the model; give them values so their gradients are exercised away from 0 too.
  Rng rng(9);
  for (const auto& e : params.entries())
    if (e.name.find("bias") != std::string::npos) initialize(e.value, Init::normal(0, 0.1), rng);
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return layer->forward(tape, x); },
                                           testing::randn({2, T, D}, 5), params);
  EXPECT_TRUE(r.ok) << name << ": max error " << r.max_abs_error << "\n" << r.report;
}

INSTANTIATE_TEST_SUITE_P(Registry, LayerGradient, ::testing::ValuesIn(builtin_layers().layer_names()),
                         testing::layer_test_name);

// Parameter counts at D = 128 (mad-protocol.md section 7) and state sizes.
TEST(Registry, ReferenceCountsAndStates) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"attention", "swiglu", "mh-attention", "mlp",
                                                                 "sliding-attention", "mh-sliding-attention"},
                                        128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 66048);
  EXPECT_EQ(model.layer_params(1), 135168);
  EXPECT_EQ(model.layer_params(2), 66048);
  EXPECT_EQ(model.layer_params(3), 131072);
  EXPECT_EQ(model.layer_state(0).floats, 2 * 127 * 128);
  EXPECT_FALSE(model.layer_state(0).fixed);
  EXPECT_EQ(model.layer_state(1).floats, 0);
  EXPECT_EQ(model.layer_state(4).floats, 8448);
  EXPECT_TRUE(model.layer_state(4).fixed);
  EXPECT_EQ(model.layer_state(5).floats, 8448);
}

// Based at D = 128 (16 heads, F 16, Dh 8; no biases): q, k 2 * 128*256, v 128*128, out_proj 128*128 = 98,304;
// state as the reference's inference cache, 16 heads * (1 + 16 + 256) features * (8 value + 1 normaliser) = 39,312.
TEST(Registry, BasedCountAndState) {
  Model model(arch_from_names(std::vector<std::string>{"based"}, 128), BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 2 * 128 * 256 + 128 * 128 + 128 * 128);
  EXPECT_EQ(model.layer_state(0).floats, 16 * 273 * 9);
  EXPECT_TRUE(model.layer_state(0).fixed);
}

// Mamba-2 at D = 128 (E 256, 4 heads of 64, N 128, conv 4): in_proj 128 * (2*256 + 2*128 + 4), conv
// (256 + 2*128) * 4 + bias 512, dt_bias, A_log, D 3 * 4, norm 256, out_proj 256 * 128 = 134,412; state E N = 32,768.
TEST(Registry, Mamba2CountAndState) {
  Model model(arch_from_names(std::vector<std::string>{"mamba2"}, 128), BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 128 * 772 + 512 * 4 + 512 + 3 * 4 + 256 + 256 * 128);
  EXPECT_EQ(model.layer_state(0).floats, 256 * 128);
}

// The delta-rule layers at D = 128 (models/layers/delta_net.cpp), counted by hand. deltanet (4 heads of 32): q, k,
// v 3 * 128*128, b_proj 128*4, three short convs 3 * 128*4, o_norm 32, o_proj 128*128 = 67,616, state 4*32*32.
// gated-deltanet (6 heads, Dk 16, Dv 32): q, k 2 * 128*96, v and g_proj 2 * 128*192, a_proj and b_proj 2 * 128*6,
// A_log and dt_bias 2 * 6, convs (96 + 96 + 192) * 4, o_norm 32, o_proj 192*128 = 101,420, state 6*16*32.
TEST(Registry, DeltaRuleCountsAndStates) {
  Model model(arch_from_names(std::vector<std::string>{"deltanet", "gated-deltanet"}, 128), BackboneKind::language_model,
              16, 127);
  EXPECT_EQ(model.layer_params(0), 3 * 128 * 128 + 128 * 4 + 3 * 128 * 4 + 32 + 128 * 128);
  EXPECT_EQ(model.layer_state(0).floats, 4 * 32 * 32);
  EXPECT_EQ(model.layer_params(1), 2 * 128 * 96 + 2 * 128 * 192 + 2 * 128 * 6 + 2 * 6 + 384 * 4 + 32 + 192 * 128);
  EXPECT_EQ(model.layer_state(1).floats, 6 * 16 * 32);
}

// RWKV-7 at D = 128 (2 heads of 64; low-rank widths 32, 32, 64): six mixes 6 * 128, k_k, k_a 2 * 128, r_k 2 * 64,
// r, k, v, o 4 * 128*128, w and a adapters 2 * (128*32 + 32*128 + 128), gate adapter 128*64 + 64*128, GroupNorm
// 2 * 128 = 99,968; state 2 * 64 * 64. Its channel mixer: x_k 128, key and value 2 * 128*512 = 131,200.
TEST(Registry, Rwkv7CountsAndState) {
  Model model(arch_from_names(std::vector<std::string>{"rwkv7-time-mixer", "rwkv7-channel-mixer"}, 128),
              BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 6 * 128 + 2 * 128 + 2 * 64 + 4 * 128 * 128 + 2 * (128 * 32 + 32 * 128 + 128) +
                                       2 * 128 * 64 + 2 * 128);
  EXPECT_EQ(model.layer_state(0).floats, 2 * 64 * 64);
  EXPECT_EQ(model.layer_params(1), 128 + 2 * 128 * 512);
}

// mLSTM layers at D = 128, counted by hand from the definitions in models/layers/mlstm.cpp:
//   mlstm:       q, k, v 3 * 128*128 + gates 2 * (128*8 + 8) + out_proj 128*128            = 67,600
//   mlstm-block: q, k 2 * 128*64 + v 128*128 + output gate 128*128 + gates 2 * (128*4 + 4)
//                + head-norm scale 128 + out_proj 128*128                                     = 66,696
// States (layers.md E) H * (dk*dv + dk + 1): 8 * (16*16 + 16 + 1) = 2184 and 4 * (16*32 + 16 + 1) = 2116.
TEST(Registry, MlstmCountsAndStates) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mlstm", "mlstm-block"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 3 * 128 * 128 + 2 * (128 * 8 + 8) + 128 * 128);
  EXPECT_EQ(model.layer_params(0), 67600);
  EXPECT_EQ(model.layer_params(1), 2 * 128 * 64 + 128 * 128 + 128 * 128 + 2 * (128 * 4 + 4) + 128 + 128 * 128);
  EXPECT_EQ(model.layer_params(1), 66696);
  EXPECT_EQ(model.layer_state(0).floats, 2184);
  EXPECT_EQ(model.layer_state(1).floats, 2116);
  EXPECT_TRUE(model.layer_state(1).fixed);
}

// slstm at D = 128 with 4 heads of 32 and a width-4 convolution, by hand from models/layers/slstm.cpp:
//   conv 128*4 + 128, i|f and z|o block-diagonal projections 2 * 4*32*64, recurrence R 4*32*128,
//   biases 4*128, head-norm scale 128 = 34,048. State h, c, n, m + 3 conv inputs = 7 * 128 = 896.
TEST(Registry, SlstmCountAndState) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"slstm"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_params(0), 128 * 4 + 128 + 2 * 4 * 32 * 64 + 4 * 32 * 128 + 4 * 128 + 128);
  EXPECT_EQ(model.layer_params(0), 34048);
  EXPECT_EQ(model.layer_state(0).floats, 896);
}

// The kernels of an mLSTM layer agree: same parameters, same input, same output and every gradient.
TEST(Registry, MlstmKernelsAgree) {
  constexpr int64_t D = 16, T = 12;
  testing::LayerRunOptions options;
  options.reinitialize = [](ParamStore& params) {  // gates away from their init
    Rng rng(4);
    for (const auto& e : params.entries()) initialize(e.value, Init::normal(0, 0.5), rng);
  };
  auto run = [&](const char* kernel, int64_t chunk) {
    config::Value o = small_overrides("mlstm-block");
    o.set("kernel", config::Value(std::string(kernel)));
    o.set("chunk_size", config::Value(chunk));
    return testing::run_layer("mlstm-block", o, D, T, options);
  };
  const testing::LayerRun ref = run("recurrent", 1);
  for (const auto& [kernel, chunk] : std::vector<std::pair<const char*, int64_t>>{
           {"parallel", 1}, {"chunkwise", 1}, {"chunkwise", 4}, {"chunkwise", 5}, {"chunkwise", 12}}) {
    const testing::LayerRun r = run(kernel, chunk);
    EXPECT_LE(testing::relative_error(r.out, ref.out), 1e-10) << kernel << " chunk " << chunk;
    EXPECT_LE(testing::relative_error(r.dx, ref.dx), 1e-10) << kernel << " chunk " << chunk;
    EXPECT_LE(testing::relative_error(r.dparams, ref.dparams), 1e-10) << kernel << " chunk " << chunk;
  }
}

TEST(Registry, UnknownNamesAndKeysListTheValidOnes) {
  try {
    arch_from_names(std::vector<std::string>{"mh-atention"}, 128);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mh-attention"), std::string::npos) << e.what();
  }
  config::Value o = config::Value::map();
  o.set("n_head", config::Value(8));
  try {
    builtin_layers().resolve("mh-attention", o, 128);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_heads"), std::string::npos) << e.what();
  }
}

TEST(Registry, BadSettingsAreOneLineErrors) {
  auto build = [](const char* yaml_layers, int64_t seq_len) {
    const ArchSpec spec = arch_from_config(config::load_string(yaml_layers));
    Model m(spec, BackboneKind::language_model, 16, seq_len);
  };
  EXPECT_THROW(build("layers: [{type: mh-attention, n_heads: 7}]", 128), Error);      // 128 % 7 != 0
  EXPECT_THROW(build("layers: [{type: sliding-attention, window_size: 200}]", 128), Error);  // window > L
  EXPECT_THROW(build("layers: []", 128), Error);
  EXPECT_THROW(build("layers: [{type: swiglu, dim: 64}]", 128), Error);  // layer dim != model dim
  EXPECT_THROW(build("dim: 128\nlayerz: [swiglu]", 128), Error);
}

// Issue 22's bad input for the new mixers: head sizes that do not divide, chunk sizes out of range, unknown
// forms; each a one-line error naming the setting (chunks of any size fit: the last one is padded).
TEST(Registry, NewMixerBadSettingsAreOneLineErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"{type: deltanet, num_heads: 3}", "3 heads must divide the key width 128"},
      {"{type: gated-deltanet, head_dim: 16, expand_v: 0.3}", "head_dim x expand_v must be a positive integer"},
      {"{type: deltanet, chunk_size: 0}", "chunk_size"},
      {"{type: gated-deltanet, chunk_size: 1000}", "chunk_size must be at most 256"},
      {"{type: deltanet, mode: fused}", "mode must be chunk"},
      {"{type: mamba2, headdim: 48}", "headdim 48 must divide the inner width expand x dim = 256"},
      {"{type: mamba2, ngroups: 2}", "only ngroups 1"},
      {"{type: mamba2, mode: ssd}", "mode must be chunked"},
      {"{type: rwkv7-time-mixer, head_dim: 48}", "head_dim 48 must divide dim 128"},
      {"{type: rwkv7-time-mixer, chunk_size: 300}", "chunk_size must be at most 256"},
      {"{type: based, num_heads: 3}", "3 heads do not divide dim 128; set head_dim"},
      {"{type: based, feature_dim: 100}", "feature_dim must be between 1 and 64"},
      {"{type: based, parallel_implementation: fast}", "parallel_implementation must be quadratic"},
  };
  for (const auto& [layer, message] : cases) {
    const std::string e = testing::error_of([&] {
      Model m(arch_from_config(config::load_string(std::string("layers: [") + layer + "]")), BackboneKind::language_model,
              16, 127);
    });
    EXPECT_NE(e.find(message), std::string::npos) << layer << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << layer << ": " << e;
  }
  // A chunk longer than the sequence, or not dividing it, is fine.
  for (const char* layer : {"{type: deltanet, chunk_size: 200}", "{type: rwkv7-time-mixer, chunk_size: 5}",
                            "{type: mamba2, mode: chunked, chunk_size: 7}"})
    EXPECT_NO_THROW(Model(arch_from_config(config::load_string(std::string("layers: [") + layer + "]")),
                          BackboneKind::language_model, 16, 127)) << layer;
}

TEST(ArchSpec, CanonicalFormAndHash) {
  const ArchSpec a = arch_from_config(config::load_string("layers: [{type: mh-attention, n_heads: 8}, swiglu]\ndim: 128"));
  const ArchSpec b = arch_from_config(config::load_string("dim: 128\nlayers: [{n_heads: 8, type: mh-attention}, {type: swiglu}]"));
  const ArchSpec c = arch_from_names(std::vector<std::string>{"mh-attention", "swiglu"}, 128);
  EXPECT_EQ(arch_hash(a), arch_hash(b));
  EXPECT_NE(arch_hash(a), arch_hash(c));  // 8 heads vs the default 16
  EXPECT_EQ(a.layers[0].config.get<int64_t>("n_heads"), 8);
  EXPECT_EQ(arch_summary(a), "mh-attention swiglu");
  EXPECT_EQ(arch_hash(a).size(), 64u);
}

TEST(Backbone, ShapesNamesAndDeterministicInit) {
  const ArchSpec spec = arch_from_config(config::load_string("dim: 32\nlayers: [{type: mh-attention, n_heads: 4}, swiglu]"));
  Tensor tokens = Tensor::from<int32_t>({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  for (BackboneKind kind : {BackboneKind::language_model, BackboneKind::autoencoder}) {
    Model a(spec, kind, 10, 5), b(spec, kind, 10, 5);
    a.initialize(7);
    b.initialize(7);
    EXPECT_EQ(a.params().values().to_vector<float>(), b.params().values().to_vector<float>());
    Tape tape;
    Var logits = a.logits(tape, tokens);
    EXPECT_EQ(logits.shape(), (Shape{2, 5, 10}));
  }
  Model lm(spec, BackboneKind::language_model, 10, 5);
  EXPECT_GE(lm.params().find("model.0.layer.Wqkv.weight"), 0);
  EXPECT_GE(lm.params().find("unembed.lm_head.bias"), 0);
  Model ae(spec, BackboneKind::autoencoder, 10, 5);
  EXPECT_GE(ae.params().find("encoder.1.1.w3.weight"), 0);
  EXPECT_GE(ae.params().find("decoder.4.weight"), 0);
}

// The language model is causal: changing a later token never changes earlier logits.
TEST(Backbone, LanguageModelIsCausal) {
  const ArchSpec spec = arch_from_config(config::load_string(
      "dim: 32\nlayers: [{type: mh-attention, n_heads: 4}, swiglu, {type: sliding-attention, window_size: 3, rotary_emb_dim: 32}, mlp]"));
  Model m(spec, BackboneKind::language_model, 10, 8);
  m.initialize(1);
  Tensor a = Tensor::from<int32_t>({1, 8}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor b = a.clone();
  b.data<int32_t>()[6] = 0;
  Tape t1, t2;
  const Tensor& la = m.logits(t1, a).value();
  const Tensor& lb = m.logits(t2, b).value();
  for (int64_t i = 0; i < 6 * 10; ++i) EXPECT_EQ(la.item(i), lb.item(i));
  bool changed = false;
  for (int64_t i = 6 * 10; i < 8 * 10; ++i) changed |= la.item(i) != lb.item(i);
  EXPECT_TRUE(changed);
}

}  // namespace
}  // namespace mad::models

namespace mad::models {
namespace {

class LayerFreeInBackward : public ::testing::TestWithParam<std::string> {};

// Freeing memory during backward changes no gradient, bit for bit, for every layer of the registry.
// Freeing memory during backward changes no gradient, bit for bit, for every layer of the registry (in
// float32, as trained). Released memory is filled with NaN (and poisoned under AddressSanitizer), so a
// backward rule that read freed memory would change the gradients.
TEST_P(LayerFreeInBackward, GivesTheGradientsOfKeepingEverything) {
  const std::string name = GetParam();
  testing::LayerRunOptions options;
  options.dtype = DType::F32;
  const testing::LayerRun kept = testing::run_layer(name, small_overrides(name), 16, 6, options);
  options.free_in_backward = true;
  const testing::LayerRun freed = testing::run_layer(name, small_overrides(name), 16, 6, options);
  for (const auto& [a, b, what] : {std::tuple{&kept.dx, &freed.dx, "input gradient"},
                                   std::tuple{&kept.dparams, &freed.dparams, "parameter gradient"}}) {
    ASSERT_EQ(a->numel(), b->numel());
    for (int64_t i = 0; i < a->numel(); ++i) {
      const float u = a->data<float>()[i], v = b->data<float>()[i];
      ASSERT_FALSE(std::isnan(u)) << name << ": " << what << " " << i << " is NaN without freeing";
      ASSERT_EQ(std::bit_cast<uint32_t>(u), std::bit_cast<uint32_t>(v))
          << name << ": " << what << " " << i << " is " << u << " keeping everything, " << v << " freeing";
    }
  }
}

// The whole model (embedding, residual adds written into the layer outputs, head, cross-entropy) gives
// the same parameter gradients with freeing on, and a smaller footprint.
TEST(Model, FreeInBackwardGivesTheSameGradients) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mh-attention", "swiglu", "hyena", "swiglu"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 12);
  model.initialize(3);
  Tensor tokens = Tensor::zeros({3, 12}, DType::I32), targets = Tensor::zeros({36}, DType::I32);
  for (int64_t i = 0; i < 36; ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>(i * 7 % 16);
    targets.data<int32_t>()[i] = static_cast<int32_t>(i * 5 % 16);
  }
  auto step = [&](bool free_in_backward, std::vector<float>& grads) {
    Tape tape;
    tape.set_free_in_backward(free_in_backward);
    tape.arena().set_fill_released(true);
    model.params().zero_grad();
    Var logits = model.logits(tape, tokens);
    tape.backward(cross_entropy(reshape(logits, {36, 16}), targets, -100));
    grads.assign(model.params().grads().span<float>().begin(), model.params().grads().span<float>().end());
    return tape.arena().high_water();
  };
  std::vector<float> kept, freed;
  const size_t kept_bytes = step(false, kept), freed_bytes = step(true, freed);
  EXPECT_LT(freed_bytes, kept_bytes * 3 / 4);
  ASSERT_EQ(kept.size(), freed.size());
  for (size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(std::bit_cast<uint32_t>(kept[i]), std::bit_cast<uint32_t>(freed[i])) << i;
}

INSTANTIATE_TEST_SUITE_P(Registry, LayerFreeInBackward, ::testing::ValuesIn(builtin_layers().layer_names()),
                         testing::layer_test_name);

}  // namespace
}  // namespace mad::models
