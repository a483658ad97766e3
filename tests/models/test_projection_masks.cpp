// NCPS wiring masks on registered layers' own projections (models/projection_mask.h): mlstm, mlstm-block
// and the attention family take `wiring:` for all of their projections or per projection. Masked weights
// start at zero, get exactly zero gradient and are left out of the effective parameter count; the layer
// still passes the float64 gradient check; unmasked layers keep the configs (and hashes) they had.
#include <gtest/gtest.h>

#include "config/yaml.h"
#include "models/backbone.h"
#include "tests/support/gradcheck.h"
#include "tests/support/test_util.h"

namespace mad::models {
namespace {

ArchSpec spec_of(const std::string& yaml) { return arch_from_config(config::load_string(yaml)); }

struct MaskCase {
  const char* spec;                       // a one-layer architecture at D = 16
  std::vector<const char*> masked;        // parameters that must carry a mask
  std::vector<const char*> dense;         // parameters that must not
};

std::vector<MaskCase> mask_cases() {
  return {
      {"dim: 16\nlayers: [{type: mlstm, n_heads: 4, cell_eps: 0, wiring: {kind: random, sparsity: 0.5, seed: 3}}]",
       {"q.weight", "k.weight", "v.weight", "igate_preact.weight", "fgate_preact.weight", "out_proj.weight"},
       {}},
      {"dim: 16\nlayers: [{type: mlstm-block, n_heads: 2, cell_eps: 0, wiring: {q: {kind: ncp, sparsity: 0.5, "
       "polarity: true}, ogate_preact: {kind: random, sparsity: 0.3}}}]",
       {"q.weight", "ogate_preact.weight"},
       {"k.weight", "v.weight", "out_proj.weight"}},
      {"dim: 16\nlayers: [{type: mh-attention, n_heads: 4, rotary_emb_dim: 4, wiring: {Wqkv: {kind: autoncp, "
       "sparsity: 0.6}}}]",
       {"Wqkv.weight"},
       {"out_proj.weight"}},
  };
}

class ProjectionMasks : public ::testing::TestWithParam<size_t> {};

const ParamStore::Entry& entry_named(const ParamStore& params, const std::string& name) {
  const int i = params.find(name);
  if (i < 0) {
    std::string names;
    for (const auto& e : params.entries()) names += " " + e.name;
    throw std::runtime_error("no parameter " + name + "; have" + names);
  }
  return params.entry(i);
}

TEST_P(ProjectionMasks, MaskedWeightsAreZeroGetNoGradientAndPassTheGradientCheck) {
  const MaskCase mc = mask_cases()[GetParam()];  // a copy: mask_cases() returns a temporary
  const ArchSpec spec = spec_of(mc.spec);
  const LayerSpec& l = spec.layers.at(0);
  ParamStore params(DType::F64);
  const BuildContext ctx{16, 6, LinearInit::pytorch_default};
  auto layer = builtin_layers().find(l.type).build(l.config, ParamScope(params), ctx);
  params.finalize(4);
  // The gate weights start at zero by design; give every weight values so that the check sees them.
  Rng rng(7);
  for (const auto& e : params.entries()) {
    Init values = Init::normal(0, 0.2);
    values.zero_mask = e.init.zero_mask;
    initialize(e.value, values, rng);
  }
  int64_t masked_zeros = 0;
  for (const char* name : mc.masked) {
    const auto& e = entry_named(params, name);
    ASSERT_TRUE(e.init.zero_mask) << name;
    EXPECT_GT(e.init.masked_count(), 0) << name;
    masked_zeros += e.init.masked_count();
  }
  for (const char* name : mc.dense) EXPECT_FALSE(entry_named(params, name).init.zero_mask) << name;

  // Masked entries keep value 0 and get gradient exactly 0; the unmasked ones learn.
  params.zero_grad();
  {
    Tape tape;
    Var x = tape.leaf(testing::randn({2, 6, 16}, 5), false);
    tape.backward(sum_all(layer->forward(tape, x) * layer->forward(tape, x)));
  }
  for (const char* name : mc.masked) {
    const auto& e = entry_named(params, name);
    int64_t learning = 0;
    for (int64_t i = 0; i < e.value.numel(); ++i)
      if ((*e.init.zero_mask)[static_cast<size_t>(i)] == 0) {
        EXPECT_EQ(e.value.item(i), 0.0) << name << "[" << i << "]";
        EXPECT_EQ(e.grad.item(i), 0.0) << name << "[" << i << "]";
      } else {
        learning += e.grad.item(i) != 0.0;
      }
    EXPECT_GT(learning, 0) << name;
  }
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return layer->forward(tape, x); },
                                           testing::randn({2, 6, 16}, 5), params);
  EXPECT_TRUE(r.ok) << mc.spec << ": max error " << r.max_abs_error << "\n" << r.report;

  // The model counts effective parameters: the masked zeros are not parameters.
  Model dense_model(spec_of(std::string(mc.spec).substr(0, std::string(mc.spec).find(", wiring")) + "}]"),
                    BackboneKind::language_model, 8, 6);
  Model masked_model(spec, BackboneKind::language_model, 8, 6);
  EXPECT_EQ(masked_model.layer_params(0), dense_model.layer_params(0) - masked_zeros);
}

INSTANTIATE_TEST_SUITE_P(Layers, ProjectionMasks, ::testing::Range<size_t>(0, mask_cases().size()));

// One setting for all projections draws each with its own seed: q and k (one shape) get different masks.
TEST(ProjectionMasks, OneSettingForAllGivesEachProjectionItsOwnMask) {
  const ArchSpec spec = spec_of("dim: 16\nlayers: [{type: mlstm, n_heads: 4, wiring: {kind: random, sparsity: 0.5}}]");
  Model m(spec, BackboneKind::language_model, 8, 6);
  const auto& q = entry_named(m.params(), "model.0.layer.q.weight");
  const auto& k = entry_named(m.params(), "model.0.layer.k.weight");
  ASSERT_TRUE(q.init.zero_mask && k.init.zero_mask);
  EXPECT_NE(*q.init.zero_mask, *k.init.zero_mask);
}

// A layer without a mask resolves exactly as before masks existed: no `wiring` key, so the same hash.
TEST(ProjectionMasks, UnmaskedLayersHaveNoWiringKey) {
  for (const char* type : {"attention", "mlstm", "mlstm-block", "sliding-attention"})
    EXPECT_FALSE(spec_of(fmt::format("layers: [{}]", type)).layers.at(0).config.contains("wiring")) << type;
  EXPECT_NE(arch_hash(spec_of("layers: [attention]")),
            arch_hash(spec_of("layers: [{type: attention, wiring: {Wqkv: {kind: random}}}]")));
}

TEST(ProjectionMasks, BadSettingsAreOneLineErrors) {
  using testing::error_of;
  const std::string unknown = error_of([] { spec_of("layers: [{type: attention, wiring: {q: {kind: random}}}]"); });
  EXPECT_NE(unknown.find("'attention' has no projection 'q' to mask; its projections are Wqkv, out_proj"),
            std::string::npos) << unknown;
  EXPECT_EQ(unknown.find('\n'), std::string::npos);
  const std::string none = error_of([] { spec_of("layers: [{type: mlp, wiring: {kind: random}}]"); });
  EXPECT_NE(none.find("'mlp' has no projection that takes a wiring mask"), std::string::npos) << none;
  const std::string form = error_of([] { spec_of("layers: [{type: mlstm, wiring: random}]"); });
  EXPECT_NE(form.find("wiring on 'mlstm' is a map"), std::string::npos) << form;
  const std::string kind = error_of([] {
    Model m(spec_of("layers: [{type: mlstm, wiring: {v: {kind: ncps}}}]"), BackboneKind::language_model, 8, 6);
  });
  EXPECT_NE(kind.find("unknown wiring kind 'ncps'"), std::string::npos) << kind;
  const std::string gate = error_of([] {
    Model m(spec_of("layers: [{type: mlstm, wiring: {ogate_preact: {kind: random}}}]"), BackboneKind::language_model,
            8, 6);
  });
  EXPECT_NE(gate.find("a mask on ogate_preact needs output_gate: true"), std::string::npos) << gate;
}

}  // namespace
}  // namespace mad::models
