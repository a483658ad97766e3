// The chunkwise causal_linear_attention op equals its two oracles built from primitive ops, forward and
// every gradient: the quadratic masked form (no decay) and the step-by-step recurrence (with decay); the
// naive recurrent kernel agrees too; strong decays stay finite in float32; slices do not depend on the
// thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/parallel.h"
#include "kernels/linear_attention.h"
#include "tests/support/evaluate.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

// Quadratic oracle (no decay): out = tril(q k^T) v per (batch, head).
Var quadratic_linear_attention(Var q, Var k, Var v) {
  Var qh = permute(q, {0, 2, 1, 3}), kh = permute(k, {0, 2, 1, 3}), vh = permute(v, {0, 2, 1, 3});  // [B, H, T, D]
  Var scores = causal_mask(matmul(qh, kh, false, true), 0.0);                                      // [B, H, T, T]
  return permute(matmul(scores, vh), {0, 2, 1, 3});                                                // [B, T, H, Dv]
}

// Recurrent oracle: S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, out_t = S_t^T q_t, one step at a time.
Var recurrent_linear_attention(Var q, Var k, Var v, Var g) {
  const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), Dk = q.dim(3), Dv = v.dim(3);
  Var S;  // [B, H, Dk, Dv]
  std::vector<Var> outs;
  for (int64_t t = 0; t < T; ++t) {
    auto step = [&](Var x, int64_t D, bool column) {
      return reshape(slice(x, 1, t, t + 1), column ? std::initializer_list<int64_t>{B, H, D, 1}
                                                   : std::initializer_list<int64_t>{B, H, 1, D});
    };
    Var kv = step(k, Dk, true) * step(v, Dv, false);
    S = S.defined() ? S * exp(step(g, Dk, true)) + kv : kv;
    outs.push_back(reshape(sum(step(q, Dk, true) * S, 2), {B, 1, H, Dv}));
  }
  return concat(outs, 1);
}

TEST(CausalLinearAttention, EqualsQuadraticFormForwardAndBackward) {
  const Shape qs{2, 11, 3, 4}, vs{2, 11, 3, 5};
  const std::vector<Tensor> inputs{randn(qs, 1), randn(qs, 2), randn(vs, 3)};
  const Tensor cot = randn(vs, 4);
  const Evaluation want = evaluate([](auto v) { return quadratic_linear_attention(v[0], v[1], v[2]); }, inputs, cot,
                                   DType::F64);
  for (int64_t chunk : {1, 3, 4, 11, 16}) {
    const Evaluation got = evaluate([chunk](auto v) { return causal_linear_attention(v[0], v[1], v[2], Var(), chunk); },
                                    inputs, cot, DType::F64);
    EXPECT_LT(relative_error(got.out, want.out), 1e-12) << "chunk " << chunk;
    for (size_t i = 0; i < 3; ++i) EXPECT_LT(relative_error(got.grads[i], want.grads[i]), 1e-12) << "chunk " << chunk;
    const Evaluation f32 = evaluate([chunk](auto v) { return causal_linear_attention(v[0], v[1], v[2], Var(), chunk); },
                                    inputs, cot, DType::F32);
    EXPECT_LT(relative_error(f32.out, want.out), 1e-5) << "chunk " << chunk;
  }
}

TEST(CausalLinearAttention, GatedEqualsRecurrentFormForwardAndBackward) {
  const Shape qs{2, 13, 2, 4}, vs{2, 13, 2, 3};
  const std::vector<Tensor> inputs{randn(qs, 11), randn(qs, 12), randn(vs, 13), uniform(qs, 14, -2.0, -0.01)};
  const Tensor cot = randn(vs, 15);
  const Evaluation want = evaluate([](auto v) { return recurrent_linear_attention(v[0], v[1], v[2], v[3]); }, inputs,
                                   cot, DType::F64);
  for (int64_t chunk : {1, 2, 5, 13, 64}) {
    const Evaluation got = evaluate([chunk](auto v) { return causal_linear_attention(v[0], v[1], v[2], v[3], chunk); },
                                    inputs, cot, DType::F64);
    EXPECT_LT(relative_error(got.out, want.out), 1e-12) << "chunk " << chunk;
    for (size_t i = 0; i < 4; ++i)
      EXPECT_LT(relative_error(got.grads[i], want.grads[i]), 1e-11) << "chunk " << chunk << " input " << i;
  }
}

TEST(CausalLinearAttention, NaiveRecurrentKernelAgrees) {
  const int64_t L = 37, Dk = 5, Dv = 6;
  const Tensor q = randn({L, Dk}, 21), k = randn({L, Dk}, 22), v = randn({L, Dv}, 23), g = uniform({L, Dk}, 24, -1, 0);
  const kernels::LinearAttentionDims d{L, Dk, Dv, Dk, Dv, 8};
  std::vector<double> chunked(L * Dv), naive(L * Dv), scratch(kernels::linear_attention_forward_scratch_size(d));
  std::vector<double> state(Dk * Dv);
  const double* gated = g.data<double>();
  for (const double* gate : {static_cast<const double*>(nullptr), gated}) {
    kernels::linear_attention_forward<double>(d, q.data<double>(), k.data<double>(), v.data<double>(), gate,
                                              chunked.data(), scratch.data());
    kernels::linear_attention_recurrent_forward<double>(d, q.data<double>(), k.data<double>(), v.data<double>(), gate,
                                                        naive.data(), state.data());
    for (int64_t i = 0; i < L * Dv; ++i) EXPECT_NEAR(chunked[i], naive[i], 1e-11 * (1 + std::abs(naive[i])));
  }
}

// Decays of e^-40 per step: the chunked form only ever exponentiates differences <= 0, so float32 stays finite
// and close to float64.
TEST(CausalLinearAttention, StrongDecaysStayFiniteInFloat32) {
  const Shape qs{1, 40, 1, 3}, vs{1, 40, 1, 2};
  const std::vector<Tensor> inputs{randn(qs, 31), randn(qs, 32), randn(vs, 33), uniform(qs, 34, -40.0, -5.0)};
  const Tensor cot = randn(vs, 35);
  auto fn = [](auto v) { return causal_linear_attention(v[0], v[1], v[2], v[3], 16); };
  const Evaluation f64 = evaluate(fn, inputs, cot, DType::F64);
  const Evaluation f32 = evaluate(fn, inputs, cot, DType::F32);
  for (int64_t i = 0; i < f32.out.numel(); ++i) ASSERT_TRUE(std::isfinite(f32.out.item(i)));
  for (const Tensor& gr : f32.grads)
    for (int64_t i = 0; i < gr.numel(); ++i) ASSERT_TRUE(std::isfinite(gr.item(i)));
  EXPECT_LT(relative_error(f32.out, f64.out), 1e-5);
  for (size_t i = 0; i < 4; ++i) EXPECT_LT(relative_error(f32.grads[i], f64.grads[i]), 1e-4) << "input " << i;
}

TEST(CausalLinearAttention, SameBitsForAnyThreadCount) {
  const Shape qs{3, 9, 2, 4}, vs{3, 9, 2, 4};
  const std::vector<Tensor> inputs{randn(qs, 41), randn(qs, 42), randn(vs, 43), uniform(qs, 44, -1, -0.01)};
  const Tensor cot = randn(vs, 45);
  auto fn = [](auto v) { return causal_linear_attention(v[0], v[1], v[2], v[3], 4); };
  const int before = num_threads();
  set_num_threads(1);
  const Evaluation one = evaluate(fn, inputs, cot, DType::F32);
  set_num_threads(2);
  const Evaluation two = evaluate(fn, inputs, cot, DType::F32);
  set_num_threads(before);
  EXPECT_EQ(one.out.to_vector<float>(), two.out.to_vector<float>());
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(one.grads[i].to_vector<float>(), two.grads[i].to_vector<float>());
}

TEST(CausalLinearAttention, BadShapesAreReported) {
  Tape tape;
  Var q = tape.leaf(randn({1, 4, 2, 3}, 1), false), v = tape.leaf(randn({1, 4, 2, 5}, 2), false);
  Var bad = tape.leaf(randn({1, 4, 2, 5}, 3), false);
  EXPECT_THROW(causal_linear_attention(q, v, v), Error);      // k must match q
  EXPECT_THROW(causal_linear_attention(q, q, v, bad), Error);  // decay must match q
  EXPECT_THROW(causal_linear_attention(q, q, v, Var(), 0), Error);
}

}  // namespace
}  // namespace mad::testing
