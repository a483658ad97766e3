// The selective_scan op equals its oracle, the step-by-step recurrence built from primitive ops, forward and
// every gradient (several channel blocks, ragged last block); float32 stays close to float64; results do not
// depend on the thread count.
#include <gtest/gtest.h>

#include <vector>

#include "core/parallel.h"
#include "tests/support/evaluate.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

// h_t = exp(dt_t A) h_{t-1} + dt_t B_t x_t, y_t = sum_n C_t[n] h_t[n], one step at a time.
// x, dt [B, T, C], A [C, N], Bm, Cm [B, T, N].
Var recurrent_selective_scan(Var x, Var dt, Var A, Var Bm, Var Cm) {
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), N = A.dim(1);
  Var h;  // [B, C, N]
  std::vector<Var> ys;
  for (int64_t t = 0; t < T; ++t) {
    Var dtt = reshape(slice(dt, 1, t, t + 1), {B, C, 1});
    Var xt = reshape(slice(x, 1, t, t + 1), {B, C, 1});
    Var bt = reshape(slice(Bm, 1, t, t + 1), {B, 1, N});
    Var ct = reshape(slice(Cm, 1, t, t + 1), {B, 1, N});
    Var input = dtt * xt * bt;
    h = h.defined() ? exp(dtt * A) * h + input : input;
    ys.push_back(reshape(sum(h * ct, 2), {B, 1, C}));
  }
  return concat(ys, 1);
}

std::vector<Tensor> scan_inputs(int64_t B, int64_t T, int64_t C, int64_t N, uint64_t seed) {
  return {randn({B, T, C}, seed), uniform({B, T, C}, seed + 1, 0.001, 1.5), uniform({C, N}, seed + 2, -4.0, -0.5),
          randn({B, T, N}, seed + 3), randn({B, T, N}, seed + 4)};
}

TEST(SelectiveScan, EqualsRecurrentFormForwardAndBackward) {
  for (int64_t C : {3, 64, 70, 131}) {  // one block, one full block, a ragged second block, three blocks
    const std::vector<Tensor> inputs = scan_inputs(2, 9, C, 4, 10 + static_cast<uint64_t>(C));
    const Tensor cot = randn({2, 9, C}, 7);
    auto oracle = [](auto v) { return recurrent_selective_scan(v[0], v[1], v[2], v[3], v[4]); };
    auto fast = [](auto v) { return selective_scan(v[0], v[1], v[2], v[3], v[4]); };
    const Evaluation want = evaluate(oracle, inputs, cot, DType::F64);
    const Evaluation got = evaluate(fast, inputs, cot, DType::F64);
    EXPECT_LT(relative_error(got.out, want.out), 1e-12) << "C " << C;
    for (size_t i = 0; i < 5; ++i) EXPECT_LT(relative_error(got.grads[i], want.grads[i]), 1e-12) << "C " << C << " input " << i;
    const Evaluation f32 = evaluate(fast, inputs, cot, DType::F32);
    EXPECT_LT(relative_error(f32.out, want.out), 1e-5) << "C " << C;
    for (size_t i = 0; i < 5; ++i) EXPECT_LT(relative_error(f32.grads[i], want.grads[i]), 1e-4) << "C " << C << " input " << i;
  }
}

TEST(SelectiveScan, SameBitsForAnyThreadCount) {
  const std::vector<Tensor> inputs = scan_inputs(3, 8, 130, 4, 40);
  const Tensor cot = randn({3, 8, 130}, 45);
  auto fn = [](auto v) { return selective_scan(v[0], v[1], v[2], v[3], v[4]); };
  const int before = num_threads();
  set_num_threads(1);
  const Evaluation one = evaluate(fn, inputs, cot, DType::F32);
  set_num_threads(2);
  const Evaluation two = evaluate(fn, inputs, cot, DType::F32);
  set_num_threads(before);
  EXPECT_EQ(one.out.to_vector<float>(), two.out.to_vector<float>());
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(one.grads[i].to_vector<float>(), two.grads[i].to_vector<float>());
}

TEST(SelectiveScan, BadShapesAreReported) {
  Tape tape;
  Var x = tape.leaf(randn({1, 4, 3}, 1), false), A = tape.leaf(randn({3, 2}, 2), false);
  Var bc = tape.leaf(randn({1, 4, 2}, 3), false), wrong = tape.leaf(randn({1, 4, 5}, 4), false);
  EXPECT_THROW(selective_scan(x, x, A, wrong, bc), Error);  // B must be [B, T, N]
  EXPECT_THROW(selective_scan(x, bc, A, bc, bc), Error);    // dt must match x
  EXPECT_THROW(selective_scan(x, x, bc, bc, bc), Error);    // A must be [C, N]
}

}  // namespace
}  // namespace mad::testing
