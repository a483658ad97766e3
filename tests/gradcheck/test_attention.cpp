// The fused attention and rotary ops equal their composites built from primitive ops, forward and every
// gradient, in float64 and float32; fused attention's memory stays far below the [B, H, T, T] scores;
// results do not depend on the thread count; bad arguments are reported. The packed ops (rotary_qk,
// attention_packed) equal slices + rotary + attention bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "tests/support/evaluate.h"
#include "tests/support/gradcheck.h"
#include "tests/support/test_util.h"

namespace mad::testing {
namespace {

// Checks forward and every gradient; returns the largest relative error seen.
double expect_same(const Evaluation& fused, const Evaluation& composite, double tol, const std::string& what) {
  double worst = relative_error(fused.out, composite.out);
  EXPECT_LE(worst, tol) << what << ": forward";
  for (size_t k = 0; k < fused.grads.size(); ++k) {
    const double err = relative_error(fused.grads[k], composite.grads[k]);
    EXPECT_LE(err, tol) << what << ": gradient of input " << k;
    worst = std::max(worst, err);
  }
  return worst;
}

// ---- attention ---------------------------------------------------------------------------------------

// The definition from primitive ops: [B, T, H, Dh] -> [B, H, T, Dh], full scores, mask, softmax, back.
Var composite_attention(Var q, Var k, Var v, double scale, bool causal, int64_t window) {
  const std::initializer_list<int> heads_first = {0, 2, 1, 3};
  Var scores = matmul(permute(q, heads_first), permute(k, heads_first), false, true) * scale;
  if (causal) scores = causal_mask(scores, -std::numeric_limits<double>::infinity(), window);
  return permute(matmul(softmax(scores), permute(v, heads_first)), heads_first);
}

struct AttentionShape {
  int64_t B, T, H, Dh;
  bool causal;
  int64_t window;
  std::string str() const {
    return "B=" + std::to_string(B) + " T=" + std::to_string(T) + " H=" + std::to_string(H) + " Dh=" +
           std::to_string(Dh) + (causal ? " causal" : " full") + " window=" + std::to_string(window);
  }
};

std::vector<AttentionShape> attention_shapes() {
  std::vector<AttentionShape> shapes;
  for (int64_t T : {1, 7, 64, 100, 200})
    for (int64_t Dh : {8, 16}) {
      for (int64_t window : {-1, 3, 32}) shapes.push_back({2, T, 2, Dh, true, window});
      shapes.push_back({1, T, 3, Dh, false, -1});
    }
  return shapes;
}

void check_attention_matches_composite(DType dtype, double tol) {
  uint64_t seed = 1;
  double worst = 0;
  for (const AttentionShape& a : attention_shapes()) {
    const Shape shape{a.B, a.T, a.H, a.Dh};
    // Scaled-up inputs make the softmax peaked, so the online rescaling of running maxima matters.
    const std::vector<Tensor> qkv = {randn(shape, ++seed, 2.0), randn(shape, ++seed, 2.0), randn(shape, ++seed)};
    const Tensor cot = randn(shape, ++seed);
    const double scale = 1.0 / std::sqrt(static_cast<double>(a.Dh));
    const Fn fused = [&](std::span<const Var> v) { return attention(v[0], v[1], v[2], scale, a.causal, a.window); };
    const Fn composite = [&](std::span<const Var> v) {
      return composite_attention(v[0], v[1], v[2], scale, a.causal, a.window);
    };
    worst = std::max(worst, expect_same(evaluate(fused, qkv, cot, dtype), evaluate(composite, qkv, cot, dtype), tol,
                                        std::string(dtype_name(dtype)) + " " + a.str()));
  }
  std::printf("attention vs composite, %s: largest relative error %.2g (tolerance %.0e)\n",
              std::string(dtype_name(dtype)).c_str(), worst, tol);
}

TEST(Attention, EqualsCompositeFloat64) { check_attention_matches_composite(DType::F64, 1e-10); }
TEST(Attention, EqualsCompositeFloat32) { check_attention_matches_composite(DType::F32, 1e-4); }

// Each (batch, head) slice is computed by one thread in a fixed order, so the thread count changes nothing.
TEST(Attention, BitIdenticalAcrossThreadCounts) {
  const Shape shape{3, 130, 4, 8};
  const std::vector<Tensor> qkv = {randn(shape, 1), randn(shape, 2), randn(shape, 3)};
  const Tensor cot = randn(shape, 4);
  const Fn fused = [](std::span<const Var> v) { return attention(v[0], v[1], v[2], 0.35, true, 50); };
  const Evaluation one = evaluate(fused, qkv, cot, DType::F32);
  set_num_threads(2);
  const Evaluation two = evaluate(fused, qkv, cot, DType::F32);
  set_num_threads(1);
  EXPECT_EQ(relative_error(one.out, two.out), 0.0);
  for (size_t k = 0; k < 3; ++k) EXPECT_EQ(relative_error(one.grads[k], two.grads[k]), 0.0) << "gradient " << k;
}

// MAD's mh-attention shape at T = 1024: the [B, H, T, T] scores alone would take 128 MiB in float32.
TEST(Attention, MemoryFarBelowTheScoreTensor) {
  const int64_t B = 2, T = 1024, H = 16, Dh = 8;
  const Shape shape{B, T, H, Dh};
  Tape tape;
  std::vector<Var> qkv;
  for (uint64_t seed : {1, 2, 3}) qkv.push_back(tape.leaf(randn(shape, seed).to(DType::F32), true));
  Var y = attention(qkv[0], qkv[1], qkv[2], 1 / std::sqrt(8.0));
  tape.backward(y, randn(shape, 4).to(DType::F32));
  const double scores_bytes = static_cast<double>(B * H * T * T) * sizeof(float);
  const double used = static_cast<double>(tape.arena().high_water());
  std::printf("attention B=%lld T=%lld H=%lld Dh=%lld float32, forward + backward: arena high water %.2f MiB; "
              "the score tensor alone would be %.0f MiB\n",
              static_cast<long long>(B), static_cast<long long>(T), static_cast<long long>(H),
              static_cast<long long>(Dh), used / (1 << 20), scores_bytes / (1 << 20));
  // out (1 MiB), the output gradient (1 MiB), the three input gradients (3 MiB), lse and tile scratch.
  EXPECT_LT(used, scores_bytes / 20);
}

TEST(Attention, RejectsBadArguments) {
  Tape tape;
  Var x = tape.leaf(randn({1, 4, 2, 3}, 1));
  Var other = tape.leaf(randn({1, 4, 2, 5}, 2));
  Var flat = tape.leaf(randn({1, 4, 6}, 3));
  EXPECT_NE(error_of([&] { attention(x, other, x, 1.0); }).find("same shape"), std::string::npos);
  EXPECT_NE(error_of([&] { attention(flat, flat, flat, 1.0); }).find("[B, T, H, Dh]"), std::string::npos);
  EXPECT_NE(error_of([&] { attention(x, x, x, 1.0, true, -2); }).find("window"), std::string::npos);
  EXPECT_NE(error_of([&] { attention(x, x, x, 1.0, false, 3); }).find("causal"), std::string::npos);
  EXPECT_NE(error_of([&] { rotary(x, 10000.0, 3); }).find("even"), std::string::npos);
  EXPECT_NE(error_of([&] { rotary(flat); }).find("[B, T, H, Dh]"), std::string::npos);
}

// ---- rotary ------------------------------------------------------------------------------------------

// cos/sin [T, 1, rotary_dim] = cat(angles, angles) with the PyTorch recipe in T_'s precision:
// inv_freq = 1 / base^(arange(0, dim, 2) / dim), angles = outer(arange(T), inv_freq).
template <typename T_>
std::pair<Tensor, Tensor> rotary_tables(int64_t T, int64_t dim, double base) {
  std::vector<T_> c(static_cast<size_t>(T * dim)), s(c.size());
  for (int64_t i = 0; i < dim / 2; ++i) {
    const T_ inv_freq = T_(1) / std::pow(static_cast<T_>(base), static_cast<T_>(2 * i) / static_cast<T_>(dim));
    for (int64_t t = 0; t < T; ++t) {
      const T_ angle = static_cast<T_>(t) * inv_freq;
      for (int64_t copy : {int64_t(0), dim / 2}) {
        c[static_cast<size_t>(t * dim + copy + i)] = static_cast<T_>(std::cos(static_cast<double>(angle)));
        s[static_cast<size_t>(t * dim + copy + i)] = static_cast<T_>(std::sin(static_cast<double>(angle)));
      }
    }
  }
  return {Tensor::from<T_>({T, 1, dim}, c), Tensor::from<T_>({T, 1, dim}, s)};
}

// y = x * cos + rotate_half(x) * sin on the first `dim` channels, the rest passed through.
Var composite_rotary(Tape& tape, Var x, double base, int64_t dim) {
  const int64_t Dh = x.dim(3), half = dim / 2;
  const auto [cos_t, sin_t] = x.dtype() == DType::F32 ? rotary_tables<float>(x.dim(1), dim, base)
                                                       : rotary_tables<double>(x.dim(1), dim, base);
  Var rot = slice(x, 3, 0, dim);
  Var rotated_half = concat({neg(slice(rot, 3, half, dim)), slice(rot, 3, 0, half)}, 3);
  Var y = rot * tape.constant(cos_t) + rotated_half * tape.constant(sin_t);
  return dim == Dh ? y : concat({y, slice(x, 3, dim, Dh)}, 3);
}

TEST(Rotary, EqualsComposite) {
  struct Case {
    Shape shape;
    double base;
    int64_t dim;  // -1: all of Dh
  };
  const Case cases[] = {{{2, 7, 3, 8}, 10000.0, -1}, {{1, 200, 2, 16}, 10000.0, 8}, {{2, 33, 1, 6}, 500.0, 2}};
  uint64_t seed = 10;
  for (const Case& c : cases) {
    const std::vector<Tensor> x = {randn(c.shape, ++seed)};
    const Tensor cot = randn(c.shape, ++seed);
    const int64_t dim = c.dim < 0 ? c.shape[3] : c.dim;
    for (auto [dtype, tol] : {std::pair{DType::F64, 1e-12}, std::pair{DType::F32, 1e-6}}) {
      const Fn fused = [&](std::span<const Var> v) { return rotary(v[0], c.base, c.dim); };
      const Fn composite = [&](std::span<const Var> v) { return composite_rotary(v[0].tape(), v[0], c.base, dim); };
      expect_same(evaluate(fused, x, cot, dtype), evaluate(composite, x, cot, dtype), tol,
                  std::string(dtype_name(dtype)) + " rotary " + c.shape.str() + " dim=" + std::to_string(dim));
    }
  }
}

// ---- packed: rotary_qk and attention_packed on a projection qkv [B, T, 3*H*Dh] --------------------------

struct PackedCase {
  int64_t B, T, H, Dh, rotary_dim;  // rotary_dim 0: no rotary
  bool causal;
  int64_t window;
  std::string str() const {
    return "B=" + std::to_string(B) + " T=" + std::to_string(T) + " H=" + std::to_string(H) + " Dh=" +
           std::to_string(Dh) + " rotary_dim=" + std::to_string(rotary_dim) + (causal ? " causal" : " full") +
           " window=" + std::to_string(window);
  }
};

// What the attention layer did before the packed ops: three slices, reshaped, rotated, attended.
Var sliced_attention(Var qkv, const PackedCase& p, double scale) {
  Var parts[3];
  const int64_t D = p.H * p.Dh;
  const int64_t sizes[] = {D, D, D};
  split(qkv, -1, sizes, parts);
  Var q = reshape(parts[0], {p.B, p.T, p.H, p.Dh}), k = reshape(parts[1], {p.B, p.T, p.H, p.Dh});
  Var v = reshape(parts[2], {p.B, p.T, p.H, p.Dh});
  if (p.rotary_dim > 0) {
    q = rotary(q, 500.0, p.rotary_dim);
    k = rotary(k, 500.0, p.rotary_dim);
  }
  return attention(q, k, v, scale, p.causal, p.window);
}

// The packed ops. With in_place the projection is first copied into a fresh result that rotary_qk may
// overwrite (x + 0: add's backward does not read its result), as the layer's Wqkv output is.
Var packed_attention(Var qkv, const PackedCase& p, double scale, bool in_place) {
  if (in_place) {
    Tape& tape = qkv.tape();
    qkv = qkv + tape.constant(Tensor::zeros(qkv.shape(), qkv.dtype()));
  }
  if (p.rotary_dim > 0) qkv = rotary_qk(qkv, p.H, 500.0, p.rotary_dim);
  return attention_packed(qkv, p.H, scale, p.causal, p.window);
}

// Same kernels, same rotations, same order of additions: bit-identical, forward and gradient, in float32
// and float64, at 1 and 2 threads (T = 70 spans two query/key tiles).
TEST(PackedAttention, BitIdenticalToSlicesRotaryAttention) {
  const PackedCase cases[] = {{2, 7, 2, 8, 8, true, -1},   {2, 70, 2, 8, 4, true, -1}, {2, 70, 3, 4, 4, true, 5},
                              {1, 9, 2, 8, 0, true, 2},    {2, 6, 2, 4, 2, false, -1}, {1, 70, 1, 16, 16, false, -1}};
  uint64_t seed = 300;
  for (const PackedCase& p : cases) {
    const std::vector<Tensor> qkv = {randn({p.B, p.T, 3 * p.H * p.Dh}, ++seed, 2.0)};
    const Tensor cot = randn({p.B, p.T, p.H, p.Dh}, ++seed);
    const double scale = 1.0 / std::sqrt(static_cast<double>(p.Dh));
    const Fn sliced = [&](std::span<const Var> v) { return sliced_attention(v[0], p, scale); };
    for (DType dtype : {DType::F32, DType::F64})
      for (int threads : {1, 2}) {
        set_num_threads(threads);
        const Evaluation want = evaluate(sliced, qkv, cot, dtype);
        for (bool in_place : {false, true}) {
          const Fn packed = [&](std::span<const Var> v) { return packed_attention(v[0], p, scale, in_place); };
          const Evaluation got = evaluate(packed, qkv, cot, dtype);
          const std::string what = std::string(dtype_name(dtype)) + " " + p.str() + " threads=" +
                                   std::to_string(threads) + (in_place ? " in place" : " new tensor");
          EXPECT_EQ(relative_error(got.out, want.out), 0.0) << what << ": forward";
          EXPECT_EQ(relative_error(got.grads[0], want.grads[0]), 0.0) << what << ": gradient";
        }
      }
    set_num_threads(1);
  }
}

// rotary_qk overwrites its input exactly when the tape allows it: a fresh linear result, not a leaf nor
// the result of an op whose backward reads it (exp). In place, the projection's gradient is still right
// (BitIdenticalToSlicesRotaryAttention and the gradient checks in op_cases.cpp).
TEST(PackedAttention, RotaryQkInPlaceExactlyWhenTheTapeAllows) {
  Tape tape;
  Var x = tape.leaf(randn({2, 3, 4}, 1), true);
  Var w = tape.leaf(randn({24, 4}, 2), true);
  Var projected = linear(x, w);  // [2, 3, 24]
  ASSERT_TRUE(tape.can_overwrite(projected));
  EXPECT_EQ(rotary_qk(projected, 2).value().raw(), projected.value().raw());

  Var leaf = tape.leaf(randn({2, 3, 24}, 3), true);
  ASSERT_FALSE(tape.can_overwrite(leaf));
  EXPECT_NE(rotary_qk(leaf, 2).value().raw(), leaf.value().raw());

  Var exponent = exp(linear(x, w));
  ASSERT_FALSE(tape.can_overwrite(exponent));
  EXPECT_NE(rotary_qk(exponent, 2).value().raw(), exponent.value().raw());
}

TEST(PackedAttention, RejectsBadArguments) {
  Tape tape;
  Var qkv = tape.leaf(randn({1, 4, 12}, 1));
  Var heads4 = tape.leaf(randn({1, 4, 2, 3}, 2));
  EXPECT_NE(error_of([&] { attention_packed(qkv, 3, 1.0); }).find("divisible"), std::string::npos);
  EXPECT_NE(error_of([&] { attention_packed(heads4, 1, 1.0); }).find("[B, T, 3*D]"), std::string::npos);
  EXPECT_NE(error_of([&] { attention_packed(qkv, 2, 1.0, false, 3); }).find("causal"), std::string::npos);
  EXPECT_NE(error_of([&] { rotary_qk(qkv, 2, 10000.0, 1); }).find("even"), std::string::npos);
  EXPECT_NE(error_of([&] { rotary_qk(qkv, 5); }).find("divisible"), std::string::npos);
}

}  // namespace
}  // namespace mad::testing
