// models/describe.h: parameters, state and FLOPs per layer and in total, computed by hand from the
// layer definitions (mad-protocol.md sections 6 and 7).
#include <gtest/gtest.h>

#include "models/describe.h"

namespace mad::models {
namespace {

ArchDescription describe_lm(const std::vector<std::string>& layers, int64_t seq_len, int64_t vocab = 16) {
  const Model model(arch_from_names(layers, 128), BackboneKind::language_model, vocab, seq_len);
  return describe(model);
}

TEST(Describe, MadTransformerTotals) {
  const ArchDescription d = describe_lm({"mh-attention", "swiglu", "mh-attention", "swiglu"}, 128);
  ASSERT_EQ(d.layers.size(), 4u);
  EXPECT_EQ(d.layers[0].params, 66048);   // Wqkv 128x384 + 384 bias, out 128x128 + 128 bias
  EXPECT_EQ(d.layers[1].params, 135168);  // 3 x 128 x 352
  // 4 layer norms, the final norm and the head Linear(128, 16) with bias.
  EXPECT_EQ(d.params, 2 * (66048 + 135168) + 5 * 128 + 128 * 16 + 16);
  // Attention keeps 2 * L * D floats of KV cache, not a fixed state; SwiGLU none.
  EXPECT_EQ(d.layers[0].state.floats, 2 * 128 * 128);
  EXPECT_FALSE(d.layers[0].state.fixed);
  EXPECT_EQ(d.layers[1].state.floats, 0);
  EXPECT_EQ(d.total_state, 2 * 2 * 128 * 128);
  EXPECT_FALSE(d.fixed_state);
  // FLOPs: 2 per weight, plus QK^T and AV at (L + 1) / 2 keys on average, 2 * D flops per key each.
  EXPECT_DOUBLE_EQ(d.layers[0].flops_per_token, 2.0 * 66048 + 4.0 * 128 * 64.5);
  EXPECT_DOUBLE_EQ(d.layers[1].flops_per_token, 2.0 * 135168);
  EXPECT_DOUBLE_EQ(d.flops_per_token, 2.0 * static_cast<double>(d.params) + 2 * 4.0 * 128 * 64.5);
  EXPECT_DOUBLE_EQ(d.train_step_flops(128), 3.0 * d.flops_per_token * 128 * 128);
}

TEST(Describe, SlidingWindowIsFixedStateAndCheaperAtLength) {
  const ArchDescription d = describe_lm({"mh-sliding-attention", "swiglu"}, 1024);
  EXPECT_TRUE(d.fixed_state);
  EXPECT_EQ(d.total_state, 8448);  // 2 * (32 + 1) * 128, mad-protocol.md section 7
  EXPECT_DOUBLE_EQ(d.layers[0].flops_per_token, 2.0 * 66048 + 4.0 * 128 * 33);
}

}  // namespace
}  // namespace mad::models
