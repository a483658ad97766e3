// Architectures beyond a list (models/graph.h): gradient checks of parallel groups with every combine,
// sequential groups, nesting and shared bricks; the LFM2 layer_types shorthand; describe and the hash of
// composites; one-line errors naming the YAML file and line.
#include <gtest/gtest.h>

#include "config/yaml.h"
#include "models/describe.h"
#include "tests/support/gradcheck.h"

namespace mad::models {
namespace {

constexpr int64_t D = 8, T = 5;

ArchSpec spec_from(const std::string& yaml) { return arch_from_config(config::load_string(yaml, "spec.yml")); }

// Gradient check of one resolved layer entry (input and every parameter), built with a brick table so
// that shared bricks are shared.
void expect_gradients_match(const std::string& yaml_entry, const std::string& bricks_yaml = "") {
  const config::Value doc = config::load_string((bricks_yaml.empty() ? "" : "bricks: " + bricks_yaml + "\n") +
                                                    "entry: " + yaml_entry,
                                                "entry.yml");
  BrickDefinitions bricks;
  if (doc.contains("bricks"))
    for (const auto& [name, body] : doc.at("bricks").as_map()) bricks[name] = resolve_node(body, D, builtin_layers(), &bricks);
  const config::Value node = resolve_node(doc.at("entry"), D, builtin_layers(), &bricks);
  ParamStore params(DType::F64);
  BrickTable table{ParamScope(params).sub("bricks"), {}};
  const BuildContext ctx{D, T, LinearInit::pytorch_default, &builtin_layers(), &table};
  auto layer = build_node(node, ParamScope(params).sub("layer"), ctx);
  params.finalize(3);
  Rng rng(9);
  for (const auto& e : params.entries())  // biases and zero-initialised gates away from 0
    if (e.name.find("bias") != std::string::npos || e.name.find("gate") != std::string::npos)
      initialize(e.value, Init::normal(0, 0.3), rng);
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return layer->forward(tape, x); },
                                           testing::randn({2, T, D}, 5), params);
  EXPECT_TRUE(r.ok) << yaml_entry << ": max error " << r.max_abs_error << "\n" << r.report;
}

const std::string kMlp = "{type: mlp, dim_inner: 6}";
const std::string kAttn = "{type: mh-attention, n_heads: 2, rotary_emb_dim: 4}";

TEST(Graph, ParallelGradientsForEveryCombine) {
  for (const char* combine : {"add", "concat", "gate"})
    expect_gradients_match(fmt::format("{{type: parallel, combine: {}, branches: [{}, {}, {}]}}", combine, kMlp, kAttn, kMlp));
}

TEST(Graph, SequentialGradients) { expect_gradients_match(fmt::format("{{type: sequential, layers: [{}, {}]}}", kAttn, kMlp)); }

TEST(Graph, NestedGradients) {
  expect_gradients_match(fmt::format(
      "{{type: parallel, combine: gate, branches: [{{type: sequential, layers: [{}, {}]}}, "
      "{{type: parallel, combine: concat, branches: [{}, f]}}]}}",
      kAttn, kMlp, kMlp),
      "{f: " + kMlp + "}");
}

TEST(Graph, SharedBrickGradients) {
  expect_gradients_match("{type: sequential, layers: [f, {brick: f}]}", "{f: " + kMlp + "}");
}

// The shared brick's gradient is the sum of the gradients of two separate copies with equal weights.
TEST(Graph, SharedBrickGradientIsTheSumOverUses) {
  const ArchSpec shared = spec_from("dim: 8\nbricks: {f: {type: mlp, dim_inner: 6}}\nlayers: [f, swiglu, {brick: f}]");
  const ArchSpec separate = spec_from("dim: 8\nlayers: [{type: mlp, dim_inner: 6}, swiglu, {type: mlp, dim_inner: 6}]");
  Model a(shared, BackboneKind::language_model, 10, T, DType::F64), b(separate, BackboneKind::language_model, 10, T, DType::F64);
  a.initialize(1);
  b.initialize(2);
  // Copy a's weights into b: every parameter of a by name, the brick's into both of b's copies.
  auto copy = [&](const std::string& from, const std::string& to) {
    b.params().entry(b.params().find(to)).value.copy_from(a.params().entry(a.params().find(from)).value);
  };
  for (const auto& e : a.params().entries()) {
    if (e.name.rfind("bricks.f.", 0) == 0) {
      const std::string rest = e.name.substr(std::string("bricks.f.").size());
      copy(e.name, "model.0.layer." + rest);
      copy(e.name, "model.2.layer." + rest);
    } else {
      copy(e.name, e.name);
    }
  }
  EXPECT_EQ(a.params().num_params() + 2 * 8 * 6, b.params().num_params());  // one copy of fc and proj fewer
  const Tensor tokens = Tensor::from<int32_t>({2, T}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0});
  const Tensor cot = testing::randn({2, T, 10}, 4);
  auto grads = [&](Model& m) {
    m.params().zero_grad();
    Tape tape;
    Var logits = m.logits(tape, tokens);
    tape.backward(sum_all(logits * tape.constant(cot)));
    return logits.value().to_vector<double>();
  };
  EXPECT_EQ(grads(a), grads(b));
  auto grad_of = [](const Model& m, const std::string& name) {
    return m.params().entry(m.params().find(name)).grad.to_vector<double>();
  };
  for (const char* p : {"fc.weight", "proj.weight"}) {
    const std::vector<double> g = grad_of(a, std::string("bricks.f.") + p);
    const std::vector<double> g0 = grad_of(b, std::string("model.0.layer.") + p);
    const std::vector<double> g2 = grad_of(b, std::string("model.2.layer.") + p);
    ASSERT_EQ(g.size(), g0.size());
    for (size_t j = 0; j < g.size(); ++j) EXPECT_NEAR(g[j], g0[j] + g2[j], 1e-12) << p << "[" << j << "]";
  }
  EXPECT_EQ(grad_of(a, "model.1.layer.w1.weight"), grad_of(b, "model.1.layer.w1.weight"));
}

// describe: a shared brick's parameters once, its state per use; group states and FLOPs summed.
TEST(Graph, DescribeCountsSharedParametersOnceAndStatePerUse) {
  const ArchSpec spec = spec_from(
      "bricks: {m: mlstm}\n"
      "layers: [m, swiglu, {type: parallel, combine: concat, branches: [m, mh-sliding-attention]}, swiglu]");
  const Model model(spec, BackboneKind::language_model, 16, 127);
  const ArchDescription d = describe(model);
  ASSERT_EQ(d.bricks.size(), 1u);
  EXPECT_EQ(d.bricks[0].params, 67600);  // models/layers/mlstm.cpp, counted in tests/models/test_layers.cpp
  EXPECT_EQ(d.bricks[0].uses, 2);
  EXPECT_EQ(d.layers[0].params, 0);
  EXPECT_EQ(d.layers[0].state.floats, 2184);
  EXPECT_EQ(d.layers[2].params, 66048 + 2 * 128 * 128);  // mh-sliding-attention + the concat projection
  EXPECT_EQ(d.layers[2].state.floats, 2184 + 8448);
  EXPECT_EQ(d.total_state, 2 * 2184 + 8448);
  EXPECT_EQ(d.layers[2].type, "parallel/concat(*m, mh-sliding-attention)");
  EXPECT_EQ(arch_summary(spec), "*m swiglu parallel/concat(*m, mh-sliding-attention) swiglu");
  // Parameters: the brick once.
  const Model separate(spec_from("layers: [mlstm, swiglu, {type: parallel, combine: concat, branches: [mlstm, "
                                 "mh-sliding-attention]}, swiglu]"),
                       BackboneKind::language_model, 16, 127);
  const ArchDescription ds = describe(separate);
  EXPECT_EQ(d.params + 67600, ds.params);
  EXPECT_EQ(d.total_state, ds.total_state);
  EXPECT_DOUBLE_EQ(d.flops_per_token, ds.flops_per_token);  // the same computation per token
  EXPECT_DOUBLE_EQ(d.layers[2].flops_per_token, ds.layers[2].flops_per_token);
}

TEST(Graph, HashCoversTheGraphAndRoundTrips) {
  const std::string base = "layers: [{type: parallel, combine: COMBINE, branches: [mlp, swiglu]}]";
  auto with = [&](const std::string& combine) {
    std::string s = base;
    s.replace(s.find("COMBINE"), 7, combine);
    return spec_from(s);
  };
  EXPECT_NE(arch_hash(with("add")), arch_hash(with("concat")));
  const ArchSpec bricked = spec_from("bricks: {f: mlp}\nlayers: [f, f]");
  const ArchSpec plain = spec_from("layers: [mlp, mlp]");
  EXPECT_NE(arch_hash(bricked), arch_hash(plain));
  EXPECT_NE(arch_hash(bricked), arch_hash(spec_from("bricks: {g: mlp}\nlayers: [g, g]")));
  for (const ArchSpec& s : {with("gate"), bricked, spec_from("layers: [{type: sequential, layers: [mlp, {type: parallel, "
                                                             "branches: [mlp, mlp]}]}]")})
    EXPECT_EQ(arch_hash(arch_from_config(to_config(s))), arch_hash(s));
  // The round trip keeps the sharing.
  const Model m(arch_from_config(to_config(bricked)), BackboneKind::language_model, 16, 8);
  EXPECT_EQ(describe(m).bricks.at(0).uses, 2);
}

TEST(Graph, LayerTypesShorthand) {
  const ArchSpec s = spec_from(
      "layer_types: [mlstm, full_attention, mlstm]\n"
      "layer_type_overrides: {full_attention: {n_heads: 8}}");
  std::vector<std::string> types;
  for (const LayerSpec& l : s.layers) types.push_back(l.type);
  EXPECT_EQ(types, (std::vector<std::string>{"mlstm", "swiglu", "mh-attention", "swiglu", "mlstm", "swiglu"}));
  EXPECT_EQ(s.layers[2].config.get<int64_t>("n_heads"), 8);
  EXPECT_TRUE(s.layers[2].config.get<bool>("qk_norm"));
  const ArchSpec f = spec_from("layer_types: [mlstm]\nfeed_forward: {type: mlp, dim_inner: 256}");
  EXPECT_EQ(f.layers[1].type, "mlp");
  EXPECT_EQ(f.layers[1].config.get<int64_t>("dim_inner"), 256);
  // An override may change the type, even of a name that is not a layer (LFM2's `conv` on a branch without it).
  const ArchSpec r = spec_from("layer_types: [conv, full_attention]\nlayer_type_overrides: {conv: {type: mh-sliding-attention}}");
  EXPECT_EQ(r.layers[0].type, "mh-sliding-attention");
  // A brick's name works in layer_types too.
  const ArchSpec b = spec_from("bricks: {op: {type: parallel, branches: [mlstm, mh-attention]}}\nlayer_types: [op, op]");
  EXPECT_EQ(b.layers.size(), 4u);
  EXPECT_EQ(arch_summary(b), "*op swiglu *op swiglu");
  // Each operator and each feed-forward gets its own pre-norm: the backbone's, one per entry.
  Model m(s, BackboneKind::language_model, 16, 8);
  EXPECT_GE(m.params().find("model.5.norm.weight"), 0);
}

// Every bad input: a one-line error naming the file, the line and the fix.
TEST(Graph, BadInputsAreOneLineErrorsWithFileAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"layers:\n  - {type: parallel, combine: sum, branches: [mlp, mlp]}", "unknown combine 'sum'"},
      {"layers:\n  - {type: parallel, branches: [mlp]}", "at least 2"},
      {"layers:\n  - {type: parallel, branches: mlp}", "is a list"},
      {"layers:\n  - {type: sequential, layers: []}", "at least 1"},
      {"layers:\n  - {type: sequential, layers: [mlp, {type: mpl}]}", "unknown layer 'mpl'"},
      {"layers:\n  - {type: sequential, layers: [mlp, {type: mlp, dim_iner: 3}]}", "dim_inner"},
      {"layers:\n  - {brick: f}", "brick 'f' is not defined"},
      {"bricks: {f: mlp}\nlayers: [f, mlpp]", "no brick of that name"},
      {"layers: [swiglu, mlpp]", "unknown layer 'mlpp'"},
      {"bricks:\n  f: g\n  g: mlp\nlayers: [f]", "no brick of that name is defined above"},  // bricks see only bricks above them
      {"bricks:\n  f: mlp\nlayers: [mlp]", "defined but never used"},
      {"bricks:\n  mlp: swiglu\nlayers: [mlp]", "is a layer name"},
      {"bricks:\n  f x: swiglu\nlayers: ['f x']", "may contain only"},
      {"bricks: [mlp]\nlayers: [mlp]", "'bricks' is a map"},
      {"layers:\n  - {brick: f, n_heads: 2}", "n_heads"},
      {"layers:\n  - 3", "a layer entry is"},
      {"layers: [mlp]\nlayer_types: [mlp]", "not both"},
      {"layers: [mlp]\nfeed_forward: mlp", "goes with 'layer_types'"},
      {"layer_types: [mlstm]\nlayer_type_overrides:\n  full_attention: {n_heads: 8}", "not in layer_types"},
      {"layer_types: [mlstm]\nlayer_type_overrides:\n  mlstm: {n_head: 8}", "n_heads"},
      {"layer_types: []", "non-empty list"},
  };
  for (const auto& [yaml, expected] : cases) {
    try {
      spec_from(yaml);
      ADD_FAILURE() << "no error for:\n" << yaml;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(expected), std::string::npos) << yaml << "\n-> " << msg;
      EXPECT_NE(msg.find("spec.yml:"), std::string::npos) << yaml << "\n-> " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  // A bad setting inside a group is reported at build time with its own line.
  try {
    Model m(spec_from("layers:\n  - type: parallel\n    branches:\n      - mlp\n      - {type: mh-attention, n_heads: 7}"),
            BackboneKind::language_model, 16, 8);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("n_heads"), std::string::npos) << e.what();
  }
  // Per-layer kernel settings reach layers inside groups.
  try {
    Model m(spec_from("layers:\n  - {type: sequential, layers: [mlp, {type: mlstm, kernel: fast}]}"),
            BackboneKind::language_model, 16, 8);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("spec.yml:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown mLSTM kernel 'fast'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mad::models
