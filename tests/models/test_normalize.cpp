// models/normalize.h: iso-state / iso-parameter normalisation. Every registered fixed-state sequence mixer
// (iterated from the registry, so layers added later are covered) must offer size_options and normalise
// [mixer, swiglu, mixer, swiglu] to a total state of 4096, confirmed by describing the normalised model; a
// layer that cannot says so in its entry (LayerEntry::closest_state_to_4096) and is held to that total.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "config/yaml.h"
#include "core/error.h"
#include "models/describe.h"
#include "models/normalize.h"
#include "tests/support/test_util.h"

namespace mad::models {
namespace {

constexpr int64_t kSeqLen = 128, kVocab = 16;
const NormalizeShape kShape{BackboneKind::language_model, kVocab, kSeqLen};

ArchDescription describe_spec(const ArchSpec& spec) {
  return describe(Model(spec, BackboneKind::language_model, kVocab, kSeqLen));
}

bool is_fixed_state_mixer(const LayerEntry& entry) {
  if (!entry.sequence_mixer) return false;
  BuildContext ctx;
  ctx.seq_len = kSeqLen;
  return entry.state(builtin_layers().resolve(entry.name, config::Value(), 128), ctx).fixed;
}

TEST(Normalize, EveryFixedStateMixerReaches4096) {
  int mixers = 0;
  for (const std::string& name : builtin_layers().layer_names()) {
    const LayerEntry& entry = builtin_layers().find(name);
    if (!is_fixed_state_mixer(entry)) continue;
    ++mixers;
    SCOPED_TRACE(name);
    const int64_t expected = entry.closest_state_to_4096 == 0 ? 4096 : entry.closest_state_to_4096;
    ASSERT_TRUE(entry.size_options != nullptr || expected != 4096)
        << "layer '" << name << "' is a fixed-state sequence mixer without size_options: implement "
        << "LayerEntry::size_options (models/registry.h) so that `mad normalize` can resize it, or, for a layer "
        << "without size knobs, set LayerEntry::closest_state_to_4096 to the total it has";
    const std::vector<std::string> names = {name, "swiglu", name, "swiglu"};
    const ArchSpec spec = arch_from_names(names, 128);
    const NormalizeResult r = normalize(spec, kShape, {4096});
    EXPECT_EQ(r.state, expected);
    EXPECT_EQ(r.state_exact, expected == 4096);
    // describe of the normalised model agrees, and the printed YAML loads back to the same spec.
    const ArchDescription d = describe_spec(r.spec);
    EXPECT_EQ(d.total_state, expected);
    EXPECT_TRUE(d.fixed_state);
    EXPECT_EQ(d.params, r.params);
    const ArchSpec reloaded = arch_from_config(config::load_string(to_yaml(r.spec)));
    EXPECT_EQ(arch_hash(reloaded), arch_hash(r.spec)) << to_yaml(r.spec);
  }
  EXPECT_GE(mixers, 19);  // every fixed-state sequence mixer of the registry (19 today)
}

// The MAD convention (issue 8): at the reference defaults, two of these layers total 4096 (four mamba layers).
TEST(Normalize, ReferenceDefaultsTotal4096) {
  for (const char* name :
       {"mh-gated-linear-attention", "hyena", "hyena-experts", "mh-hyena", "rwkv5-time-mixer", "rwkv6-time-mixer"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(describe_spec(arch_from_names(std::vector<std::string>{name, "swiglu", name, "swiglu"}, 128)).total_state,
              name == std::string("mh-hyena") ? 8192 : 4096);
  }
  EXPECT_EQ(describe_spec(arch_from_names(std::vector<std::string>(4, "mamba"), 128)).total_state, 4096);
}

TEST(Normalize, AtTargetAlreadyLeavesTheSpecUnchanged) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mh-gated-linear-attention", "swiglu",
                                                                 "mh-gated-linear-attention", "swiglu"}, 128);
  const NormalizeResult r = normalize(spec, kShape, {4096});
  EXPECT_EQ(arch_hash(r.spec), arch_hash(spec));
  EXPECT_EQ(r.params, r.params_before);
}

TEST(Normalize, MlstmHybridTo4096WithIdenticalChoices) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mlstm", "swiglu", "mlstm", "swiglu"}, 128);
  EXPECT_EQ(describe_spec(spec).total_state, 2 * 2184);
  const NormalizeResult r = normalize(spec, kShape, {4096});
  EXPECT_EQ(describe_spec(r.spec).total_state, 4096);
  EXPECT_TRUE(r.identical_choices);
  EXPECT_EQ(r.spec.layers[0].config, r.spec.layers[2].config);
  // 8 heads of Dk 15, Dv 16: 8 * (15 * 16 + 15 + 1) = 2048, the least change from 8 heads of 16 x 16.
  EXPECT_EQ(r.spec.layers[0].config.get<int64_t>("n_heads"), 8);
  EXPECT_EQ(r.spec.layers[1].config, spec.layers[1].config);  // swiglu untouched without a parameter target

  // A mixed xLSTM / GLA hybrid as well.
  const ArchSpec mixed = arch_from_names(
      std::vector<std::string>{"mlstm-block", "swiglu", "slstm", "swiglu", "mh-gated-linear-attention", "swiglu"}, 128);
  EXPECT_EQ(describe_spec(normalize(mixed, kShape, {4096}).spec).total_state, 4096);
}

// The xLSTM presets of configs/architectures/ reach 4096 exactly (xLSTM[7:1] needs the small end of
// mlstm-preup-block's knobs: before proj_factor 0.5 and 64 heads, its closest total was 5216).
TEST(Normalize, XlstmPresetsReach4096) {
  for (const char* file : {"xlstm-7-1.yml", "xlstm-1-0.yml"}) {
    const ArchSpec spec = arch_from_file(std::string(MAD_SOURCE_DIR) + "/configs/architectures/" + file);
    const NormalizeResult r = normalize(spec, kShape, {4096});
    EXPECT_TRUE(r.state_exact) << file << ": " << r.state;
    EXPECT_EQ(describe_spec(r.spec).total_state, 4096) << file;
  }
}

// A wiring is normalised through the knobs of its nodes that keep every width (models/wiring_graph.cpp):
// the wired pre-up-projection mLSTM block reaches, through its causal-conv node, the state the C++ block
// reaches the same way (K = 4 -> 2 removes 2 x 256 carried inputs), and the two agree.
TEST(Normalize, AWiringNormalisesThroughItsNodesKnobs) {
  const ArchSpec wired = arch_from_file(std::string(MAD_SOURCE_DIR) + "/configs/architectures/mlstm-preup-wired.yml");
  const int64_t before = describe_spec(wired).total_state, target = before - 2 * 256;
  const NormalizeResult r = normalize(wired, kShape, {target});
  EXPECT_TRUE(r.state_exact) << r.state;
  EXPECT_EQ(describe_spec(r.spec).total_state, target);
  EXPECT_EQ(r.spec.layers.at(0).config.at("nodes").at("conv1d").get<int64_t>("kernel_size"), 2);
  const NormalizeResult cpp = normalize(arch_from_names(std::vector<std::string>{"mlstm-preup-block"}, 128), kShape, {target});
  EXPECT_TRUE(cpp.state_exact);
  EXPECT_EQ(cpp.spec.layers.at(0).config.get<int64_t>("conv1d_kernel_size"), 2);
  EXPECT_EQ(cpp.params, r.params);
}

// A wiring's knobs (models/wiring_knobs.h) are varied like the C++ layer's size knobs: the wired xLSTM-7B
// mLSTM layer normalises to 4096 exactly, choosing what the C++ layer chooses (4 heads, qk_dim 124) with
// the same parameter count; the normalised spec reloads to the same architecture.
TEST(Normalize, AWiringsKnobsNormaliseLikeTheCppLayer) {
  const ArchSpec wired = arch_from_file(std::string(MAD_SOURCE_DIR) + "/configs/architectures/mlstm-block-wired.yml");
  const NormalizeResult r = normalize(wired, kShape, {4096});
  ASSERT_TRUE(r.state_exact) << r.state;
  const NormalizeResult cpp = normalize(arch_from_names(std::vector<std::string>{"mlstm-block", "swiglu"}, 128), kShape, {4096});
  ASSERT_TRUE(cpp.state_exact);
  const config::Value& knobs = r.spec.layers.at(0).config.at("knobs");
  EXPECT_EQ(knobs.at("heads").get<int64_t>("value"), cpp.spec.layers.at(0).config.get<int64_t>("n_heads"));
  EXPECT_EQ(knobs.at("qk_dim").get<int64_t>("value"),
            static_cast<int64_t>(128 * cpp.spec.layers.at(0).config.get<double>("qk_dim_factor")));
  EXPECT_EQ(r.params, cpp.params);
  // The knob's value is written where it is used.
  EXPECT_EQ(r.spec.layers.at(0).config.at("nodes").at("k").get<int64_t>("width"), knobs.at("qk_dim").get<int64_t>("value"));
  const ArchSpec reloaded = arch_from_config(config::load_string(to_yaml(r.spec)));
  EXPECT_EQ(arch_hash(reloaded), arch_hash(r.spec));
}

// Issue 18's target: every preset of configs/architectures/ normalises to a state of 4096 exactly, except the
// one whose only sequence mixer is softmax attention (its KV cache grows; that is a one-line error).
TEST(Normalize, EveryPresetReaches4096) {
  int presets = 0;
  for (const auto& file : std::filesystem::directory_iterator(std::string(MAD_SOURCE_DIR) + "/configs/architectures")) {
    if (file.path().extension() != ".yml") continue;
    ++presets;
    SCOPED_TRACE(file.path().filename().string());
    const ArchSpec spec = arch_from_file(file.path().string());
    if (file.path().filename() == "mad-transformer.yml") {
      EXPECT_NE(testing::error_of([&] { normalize(spec, kShape, {4096}); }).find("has no fixed-state sequence mixer"),
                std::string::npos);
      continue;
    }
    const NormalizeResult r = normalize(spec, kShape, {4096});
    EXPECT_TRUE(r.state_exact) << r.state;
    const ArchDescription d = describe_spec(r.spec);
    int64_t fixed = 0;
    for (const auto& layer : d.layers) fixed += layer.state.fixed_floats();
    EXPECT_EQ(fixed, 4096);
  }
  EXPECT_GE(presets, 15);
}

// A parallel group is resized through its children's knobs (models/graph.cpp): the Hyena beside an attention
// changes, the attention and its growing KV cache do not, and only the fixed part is counted.
TEST(Normalize, AParallelGroupResizesItsFixedStateBranch) {
  const ArchSpec spec = arch_from_file(std::string(MAD_SOURCE_DIR) + "/configs/architectures/parallel-attention-hyena.yml");
  const NormalizeResult before = normalize(spec, kShape, {4096});
  EXPECT_EQ(before.state_before, 4096);  // two Hyena branches of 2048; the attention's 2 x 32768 are not counted
  EXPECT_EQ(before.growing_state, 2 * 32768);
  const NormalizeResult r = normalize(spec, kShape, {3 * 2048});
  EXPECT_EQ(r.state, 3 * 2048);
  EXPECT_EQ(r.growing_state, 2 * 32768);
  EXPECT_TRUE(r.layers.at(0).partly_growing);
  EXPECT_FALSE(r.layers.at(0).growing);
  for (size_t i : {0u, 2u}) {
    const config::Value& branches = r.spec.layers.at(i).config.at("branches");
    EXPECT_EQ(branches.as_list().at(0), spec.layers.at(i).config.at("branches").as_list().at(0));  // the attention
  }
  EXPECT_NE(r.spec.layers.at(0).config.at("branches").as_list().at(1), spec.layers.at(0).config.at("branches").as_list().at(1));
  const ArchSpec reloaded = arch_from_config(config::load_string(to_yaml(r.spec)));
  EXPECT_EQ(arch_hash(reloaded), arch_hash(r.spec));
  // The branch takes the size a Hyena layer on its own takes for the same state.
  const NormalizeResult grouped = normalize(spec, kShape, {8192});
  const NormalizeResult alone = normalize(arch_from_file(std::string(MAD_SOURCE_DIR) + "/configs/architectures/hyena.yml"),
                                          kShape, {8192});
  ASSERT_TRUE(grouped.state_exact && alone.state_exact);
  EXPECT_EQ(grouped.params - grouped.params_before, alone.params - alone.params_before);
}

// "$name*F" writes the knob's value times F (the pre-up block's up-projection is twice its inner width),
// recorded as "node.key*F"; a bad factor is a one-line error.
TEST(Normalize, WiringKnobFactors) {
  const std::string head = "layers:\n  - type: wiring\n    input: x\n    knobs: {w: 48}\n    nodes:\n";
  const ArchSpec spec = arch_from_config(config::load_string(
      head + "      a: {type: linear, in: x, width: $w*2}\n      b: {type: linear, in: a, width: $w}\n"
             "      c: {type: linear, in: b}\n    output: c\n"));
  const config::Value& c = spec.layers.at(0).config;
  EXPECT_EQ(c.at("nodes").at("a").get<int64_t>("width"), 96);
  EXPECT_EQ(c.at("nodes").at("b").get<int64_t>("width"), 48);
  EXPECT_EQ(c.at("knobs").at("w").at("at").as_list().at(0).as_string(), "a.width*2");
  for (const char* bad : {"$w*0", "$w*x", "$w*2000"}) {
    const std::string e = testing::error_of([&] {
      arch_from_config(config::load_string(head + "      a: {type: linear, in: x, width: " + std::string(bad) +
                                           "}\n    output: a\n"));
    });
    EXPECT_NE(e.find("a knob use is $name or $name*F with F an integer from 1 to 1024"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
}

TEST(Normalize, WiringKnobErrorsAreOneLine) {
  const std::string head = "layers:\n  - type: wiring\n    input: x\n";
  const std::string unknown = testing::error_of([&] {
    arch_from_config(config::load_string(head + "    knobs: {w: 64}\n    nodes:\n      a: {type: linear, in: x, width: $v}\n"
                                                 "      b: {type: linear, in: a, width: $w}\n    output: b\n"));
  });
  EXPECT_NE(unknown.find("node 'a' uses knob 'v', which is not defined; knobs: w"), std::string::npos) << unknown;
  const std::string unused = testing::error_of([&] {
    arch_from_config(config::load_string(head + "    knobs: {w: 64}\n    nodes:\n      a: {type: linear, in: x}\n"
                                                 "    output: a\n"));
  });
  EXPECT_NE(unused.find("knob 'w' is never used"), std::string::npos) << unused;
  EXPECT_EQ(unused.find('\n'), std::string::npos);
}

TEST(Normalize, ParameterTargetWithinTwoPercent) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mh-gated-linear-attention", "swiglu",
                                                                 "mh-gated-linear-attention", "swiglu"}, 128);
  const int64_t before = describe_spec(spec).params;
  for (double scale : {0.8, 1.3, 2.0}) {
    SCOPED_TRACE(scale);
    const auto target = static_cast<int64_t>(scale * static_cast<double>(before));
    const NormalizeResult r = normalize(spec, kShape, {4096, target});
    const ArchDescription d = describe_spec(r.spec);
    EXPECT_EQ(d.total_state, 4096);
    EXPECT_LE(std::abs(static_cast<double>(d.params - target)), 0.02 * static_cast<double>(target))
        << normalize_report(r, {4096, target});
    EXPECT_TRUE(r.params_within_tolerance);
  }
}

TEST(Normalize, GrowingAttentionIsLeftAsIsAndNotCounted) {
  const ArchSpec spec = arch_from_names(
      std::vector<std::string>{"mh-attention", "swiglu", "mh-gated-linear-attention", "swiglu"}, 128);
  const NormalizeResult r = normalize(spec, kShape, {1024});
  EXPECT_EQ(r.state, 1024);
  EXPECT_EQ(r.growing_state, 2 * kSeqLen * 128);
  EXPECT_TRUE(r.layers[0].growing);
  EXPECT_EQ(r.spec.layers[0].config, spec.layers[0].config);
  EXPECT_EQ(r.layers[2].state_after, 1024);
}

TEST(Normalize, UnreachableTotalGivesTheClosestAndSaysSo) {
  // sLSTM's state is a multiple of dim (128): 4100 is not reachable; 4096 is the closest.
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"slstm", "swiglu", "slstm", "swiglu"}, 128);
  const NormalizeResult r = normalize(spec, kShape, {4100});
  EXPECT_FALSE(r.state_exact);
  EXPECT_EQ(r.state, 4096);
  EXPECT_NE(normalize_report(r, {4100}).find("NOT reachable"), std::string::npos);
}

TEST(Normalize, BadInputIsAnError) {
  const ArchSpec transformer = arch_from_names(std::vector<std::string>{"mh-attention", "swiglu"}, 128);
  try {
    normalize(transformer, kShape, {4096});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no fixed-state sequence mixer"), std::string::npos) << e.what();
  }
  const ArchSpec gla = arch_from_names(std::vector<std::string>{"mh-gated-linear-attention"}, 128);
  EXPECT_THROW(normalize(gla, kShape, {0}), Error);
  EXPECT_THROW(normalize(gla, kShape, {4096, -1}), Error);
}

// Hand counts of the sequence-mixing FLOPs per token at D = 128, L = 128 (models/describe.h).
TEST(Normalize, MixingFlopsOfTheFixedStateMixers) {
  const auto mixing = [](const char* name) {
    BuildContext ctx;
    ctx.seq_len = kSeqLen;
    return builtin_layers().find(name).mixing_flops(builtin_layers().resolve(name, config::Value(), 128), ctx);
  };
  EXPECT_DOUBLE_EQ(mixing("mh-gated-linear-attention"), 8 * (5.0 * 16 * 16 + 10 * 16 + 10 * 16));
  EXPECT_DOUBLE_EQ(mixing("mh-linear-attention"), 16 * (4.0 * 8 * 8 + 3 * 8 + 8));
  EXPECT_DOUBLE_EQ(mixing("hyena"), 512 * (30.0 * 8 + 12 + 4));          // log2(256) = 8
  EXPECT_DOUBLE_EQ(mixing("mh-hyena"), 8 * 16 * 16 * (30.0 * 8 + 12 + 4));
  EXPECT_DOUBLE_EQ(mixing("hyena-experts"), 128 * (30.0 * 8 + 12 + 6) + 5 * 8);
  EXPECT_DOUBLE_EQ(mixing("mlstm"), 8 * (5.0 * 16 * 16 + 5 * 16 + 13));
  EXPECT_DOUBLE_EQ(mixing("slstm"), 25.0 * 128);
}

}  // namespace
}  // namespace mad::models
