// Sequence mixers with two forms: parameter counts and state sizes at D = 128 against hand counts from the
// definitions (mad-protocol.md sections 6 and 7), and the agreement of each layer's two forms (the fast one
// we train with vs the oracle), forward and every gradient, in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "config/yaml.h"
#include "models/backbone.h"
#include "tests/support/gradcheck.h"
#include "tests/support/evaluate.h"
#include "tests/support/layer_run.h"

namespace mad::models {
namespace {

// Parameters and state of one layer at D = 128 inside a language model over length-127 inputs (the
// in-context-recall baseline).
struct Counts {
  int64_t params;
  int64_t state;
};
Counts counts_at_128(const std::string& name) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{name}, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_TRUE(model.layer_state(0).fixed) << name;
  return {model.layer_params(0), model.layer_state(0).floats};
}

TEST(MixerCounts, LinearAttention) {
  // q, k, v, out projections D x D without bias, plus two Hadamard feature maps (q and k), each two
  // Linear(Dk, Dk) with bias on one head's channels (shared by the heads).
  const int64_t projections = 4 * 128 * 128;
  const Counts one = counts_at_128("linear-attention");
  EXPECT_EQ(one.params, projections + 2 * 2 * (128 * 128 + 128));  // 131,584
  EXPECT_EQ(one.state, 1 * 128 * 128);                             // heads * d_k * d_v
  const Counts mh = counts_at_128("mh-linear-attention");
  EXPECT_EQ(mh.params, projections + 2 * 2 * (8 * 8 + 8));  // 65,824
  EXPECT_EQ(mh.state, 16 * 8 * 8);                          // 1,024
}

TEST(MixerCounts, GatedLinearAttention) {
  // q, k, v, g, o projections D x D without bias; the low-rank gate D -> 16 (no bias) -> D (bias); the
  // RMSNorm weight of one head's Dv channels (shared by the heads).
  const int64_t common = 5 * 128 * 128 + (128 * 16 + 16 * 128 + 128);
  const Counts one = counts_at_128("gated-linear-attention");
  EXPECT_EQ(one.params, common + 128);  // 86,272
  EXPECT_EQ(one.state, 128 * 128);      // 16,384
  const Counts mh = counts_at_128("mh-gated-linear-attention");
  EXPECT_EQ(mh.params, common + 16);  // 86,160
  EXPECT_EQ(mh.state, 8 * 16 * 16);   // 2,048 (mad-protocol.md section 7)
}

// The implicit filter of `channels` outputs and MLP width o over L = 127 positions: z [L, 3], Linear(3, o),
// two Linear(o, o), Linear(o, channels) without bias, one shared frequency vector [o].
int64_t filter_params(int64_t channels, int64_t o) { return 3 * 127 + (3 * o + o) + 2 * (o * o + o) + o * channels + o; }

TEST(MixerCounts, Hyena) {
  // in_proj 128 -> 384 with bias, short filter over 1536 channels (3 taps + bias), long-conv bias [512],
  // filter (512 channels, width 4), out_proj 512 -> 128 with bias.
  const Counts h = counts_at_128("hyena");
  EXPECT_EQ(h.params, (128 * 384 + 384) + 1536 * 4 + 512 + filter_params(512, 4) + (512 * 128 + 128));  // 124,345
  EXPECT_EQ(h.state, 512 * 4);  // 2,048 (mad-protocol.md section 7)
  // mh-hyena as the reference realises it: in_proj 128 -> 96 tiled 4x to 384, 8 heads of 16 channels, one
  // filter (and one bias) per head, filter width 2; state: 8 heads x 16 x 16 convolved channels x order 2.
  const Counts mh = counts_at_128("mh-hyena");
  EXPECT_EQ(mh.params, (128 * 96 + 96) + 384 * 4 + 8 + filter_params(8, 2) + (128 * 128 + 128));  // 30,859
  EXPECT_EQ(mh.state, 8 * 16 * 16 * 2);                                                          // 4,096
  // hyena-experts: in_proj 128 -> 384 (no tiling), short filter over 384 channels, long-conv bias [128],
  // filter (128 channels, width 16), router 128 -> 8 with bias, out_proj 16 -> 128 with bias.
  const Counts ex = counts_at_128("hyena-experts");
  EXPECT_EQ(ex.params, (128 * 384 + 384) + 384 * 4 + 128 + filter_params(128, 16) + (128 * 8 + 8) + (16 * 128 + 128));
  EXPECT_EQ(ex.state, 128 * 16);  // 2,048 (mad-protocol.md section 7)
}

TEST(MixerCounts, MhHyenaAsConfiguredLayout) {
  config::Value o = config::Value::map();
  o.set("head_layout", config::Value(std::string("as_configured")));
  ArchSpec spec = arch_from_names(std::vector<std::string>{"mh-hyena"}, 128);
  spec.layers[0].config = builtin_layers().resolve("mh-hyena", o, 128);
  Model model(spec, BackboneKind::language_model, 16, 127);
  EXPECT_EQ(model.layer_state(0).floats, 16 * 8 * 8 * 2);  // 16 heads of 8
}

// Output and every gradient (input and parameters) of layer `name` built twice with the same seed, once
// with `key: a` and once with `key: b`.
void expect_forms_agree(const std::string& name, const std::string& key, const config::Value& a,
                        const config::Value& b, int64_t D, int64_t T, double tol,
                        config::Value base = config::Value::map()) {
  auto run = [&](const config::Value& form) {
    config::Value o = base;
    o.set(key, form);
    return testing::run_layer(name, o, D, T);
  };
  const testing::LayerRun ra = run(a), rb = run(b);
  EXPECT_LT(testing::relative_error(ra.out, rb.out), tol) << name << " output";
  EXPECT_LT(testing::relative_error(ra.dx, rb.dx), tol) << name << " input gradient";
  EXPECT_LT(testing::relative_error(ra.dparams, rb.dparams), tol) << name << " parameter gradients";
}

TEST(MixerForms, LinearAttentionRunningSumsEqualQuadratic) {
  for (const char* name : {"linear-attention", "mh-linear-attention"}) {
    config::Value base = config::Value::map();
    base.set("num_heads", config::Value(std::string(name) == "linear-attention" ? 1 : 4));
    // T = 37 spans three 16-step chunks of the running-sum form.
    expect_forms_agree(name, "parallel_implementation", config::Value(std::string("linear")),
                       config::Value(std::string("quadratic")), 16, 37, 1e-9, base);
  }
}

// Based (models/layers/based.cpp): the closed-form kernel 1 + s + s^2/2 of the quadratic form, the explicit
// Taylor features with running sums (T = 37 spans three 16-step chunks) and the token-by-token recurrence
// agree, output and every gradient, also with a value head width other than D / H.
TEST(MixerForms, BasedQuadraticLinearAndRecurrentAgree) {
  for (const char* head_dim : {"null", "5"}) {
    SCOPED_TRACE(head_dim);
    config::Value base = config::load_string(std::string("{num_heads: 2, feature_dim: 3, head_dim: ") + head_dim + "}");
    const config::Value quadratic(std::string("quadratic"));
    expect_forms_agree("based", "parallel_implementation", quadratic, config::Value(std::string("linear")), 16, 37,
                       1e-10, base);
    expect_forms_agree("based", "parallel_implementation", quadratic, config::Value(std::string("recurrent")), 16, 37,
                       1e-10, base);
  }
}

// Mamba-2 (models/layers/mamba.cpp): SSD's masked dual form, its chunks (T = 37 spans three chunks of 16),
// the selective scan with the per-head decay repeated and the token-by-token recurrence agree, output and
// every gradient; 4 heads of 8 at width 16.
TEST(MixerForms, Mamba2QuadraticChunkedScanAndRecurrentAgree) {
  const config::Value base = config::load_string("{d_state: 3, headdim: 8, chunk_size: 16}");
  const config::Value quadratic(std::string("quadratic"));
  for (const char* other : {"chunked", "scan", "recurrent"}) {
    SCOPED_TRACE(other);
    expect_forms_agree("mamba2", "mode", quadratic, config::Value(std::string(other)), 16, 37, 1e-10, base);
  }
}

// DeltaNet and Gated DeltaNet (models/layers/delta_net.cpp): the chunkwise WY/UT form (chunks of 8, the last of
// T = 37 padded; and one chunk longer than T) equals the token-by-token delta rule, output and every gradient.
TEST(MixerForms, DeltaRuleChunkwiseEqualsRecurrent) {
  for (const char* name : {"deltanet", "gated-deltanet"}) {
    for (int chunk : {8, 64}) {
      SCOPED_TRACE(std::string(name) + " chunk " + std::to_string(chunk));
      config::Value base = config::load_string(std::string(name) == "deltanet" ? "{num_heads: 2}" : "{num_heads: 2, head_dim: 4}");
      base.set("chunk_size", config::Value(chunk));
      expect_forms_agree(name, "mode", config::Value(std::string("chunk")), config::Value(std::string("recurrent")), 16,
                         37, 1e-10, base);
    }
  }
}

// RWKV-7's time mixer (models/layers/rwkv.cpp): the chunked generalised delta rule (chunks of 8 with the last of
// T = 37 padded, and one chunk longer than T) equals the token-by-token rule, output and every gradient.
TEST(MixerForms, Rwkv7ChunkedEqualsRecurrent) {
  for (int chunk : {8, 64}) {
    SCOPED_TRACE(chunk);
    config::Value base = config::load_string("{head_dim: 4, decay_low_rank_dim: 3, a_low_rank_dim: 3, gate_low_rank_dim: 3}");
    base.set("chunk_size", config::Value(chunk));
    expect_forms_agree("rwkv7-time-mixer", "mode", config::Value(std::string("chunk")),
                       config::Value(std::string("recurrent")), 16, 37, 1e-10, base);
  }
}

TEST(MixerForms, GatedLinearAttentionChunkedEqualsRecurrent) {
  for (const char* name : {"gated-linear-attention", "mh-gated-linear-attention"}) {
    config::Value base = config::Value::map();
    base.set("num_heads", config::Value(std::string(name) == "gated-linear-attention" ? 1 : 4));
    base.set("gate_low_rank_dim", config::Value(4));
    expect_forms_agree(name, "mode", config::Value(std::string("chunk")), config::Value(std::string("fused_recurrent")),
                       16, 37, 1e-9, base);
  }
}

TEST(MixerForms, HyenaFftEqualsDirectConvolution) {
  for (const char* name : {"hyena", "mh-hyena", "hyena-experts"}) {
    config::Value base = config::Value::map();
    if (std::string(name) == "mh-hyena") base.set("num_heads", config::Value(4));        // 4 heads of 4 at D = 16
    if (std::string(name) == "hyena-experts") base.set("dim_inner", config::Value(2));  // 2 x 8 experts = 16
    expect_forms_agree(name, "conv_kernel", config::Value(std::string("fft")), config::Value(std::string("direct")), 16,
                       21, 1e-9, base);
  }
}

// feature_map: elu (elu(x) + 1, the reference's option with a positive normaliser): finite differences and
// the two forms.
TEST(MixerForms, LinearAttentionEluFeatureMap) {
  config::Value o = config::Value::map();
  o.set("num_heads", config::Value(4));
  o.set("feature_map", config::Value(std::string("elu")));
  expect_forms_agree("mh-linear-attention", "parallel_implementation", config::Value(std::string("linear")),
                     config::Value(std::string("quadratic")), 16, 21, 1e-9, o);
  constexpr int64_t D = 16, T = 6;
  const config::Value cfg = builtin_layers().resolve("mh-linear-attention", o, D);
  ParamStore params(DType::F64);
  const BuildContext ctx{D, T, LinearInit::pytorch_default};
  auto layer = builtin_layers().find("mh-linear-attention").build(cfg, ParamScope(params), ctx);
  params.finalize(3);
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return layer->forward(tape, x); },
                                           testing::randn({2, T, D}, 5), params);
  EXPECT_TRUE(r.ok) << "max error " << r.max_abs_error << "\n" << r.report;
}

// With a positive feature map every output is a convex combination of the values seen so far: with the value
// and output projections set to the identity, y_t lies within [min_{j<=t} x_j, max_{j<=t} x_j] per channel.
// (The reference's Hadamard map breaks this: its weights take both signs; docs/layers.md.)
TEST(MixerForms, LinearAttentionEluIsAConvexCombination) {
  config::Value o = config::Value::map();
  o.set("num_heads", config::Value(4));
  o.set("feature_map", config::Value(std::string("elu")));
  constexpr int64_t D = 16, T = 20;
  const config::Value cfg = builtin_layers().resolve("mh-linear-attention", o, D);
  ParamStore params(DType::F64);
  const BuildContext ctx{D, T, LinearInit::pytorch_default};
  auto layer = builtin_layers().find("mh-linear-attention").build(cfg, ParamScope(params), ctx);
  params.finalize(3);
  for (const char* name : {"proj_v.weight", "out_proj.weight"}) {
    double* w = params.entry(params.find(name)).value.data<double>();
    for (int64_t i = 0; i < D * D; ++i) w[i] = (i / D == i % D) ? 1.0 : 0.0;
  }
  Tape tape;
  const Tensor x = testing::randn({1, T, D}, 8);
  Var y = layer->forward(tape, tape.constant(x));
  for (int64_t c = 0; c < D; ++c) {
    double lo = x.item(c), hi = x.item(c);
    for (int64_t t = 0; t < T; ++t) {
      lo = std::min(lo, x.item(t * D + c));
      hi = std::max(hi, x.item(t * D + c));
      const double v = y.value().item(t * D + c);
      EXPECT_GE(v, lo - 1e-12) << "t " << t << " channel " << c;
      EXPECT_LE(v, hi + 1e-12) << "t " << t << " channel " << c;
    }
  }
}

}  // namespace
}  // namespace mad::models
