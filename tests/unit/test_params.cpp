// The parameter block, initialisers, and AdamW against hand-computed PyTorch semantics.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops.h"
#include "core/params.h"
#include "training/adamw.h"

namespace mad {
namespace {

TEST(ParamStore, HierarchicalNamesOneBlock) {
  ParamStore store;
  ParamScope root(store);
  Param w = root.sub("layers").sub(2).sub("attention").sub("wqkv").param("weight", {3, 5}, Init::ones());
  Param b = root.sub("layers").sub(2).sub("attention").sub("wqkv").param("bias", {3}, Init::zeros());
  EXPECT_THROW(root.param("layers.2.attention.wqkv.weight", {1}, Init::zeros()), Error);
  store.finalize(0);
  EXPECT_EQ(store.entry(w.index()).name, "layers.2.attention.wqkv.weight");
  EXPECT_EQ(store.find("layers.2.attention.wqkv.bias"), b.index());
  EXPECT_EQ(store.num_params(), 18);
  // Values, then gradients, in one allocation.
  auto* base = static_cast<std::byte*>(store.values().raw());
  EXPECT_EQ(static_cast<std::byte*>(w.value().raw()), base);
  EXPECT_EQ(static_cast<std::byte*>(w.grad().raw()), base + store.padded_size() * 4);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.value().raw()) % 64, 0u);
  EXPECT_EQ(w.value().item(7), 1.0);
  EXPECT_THROW(root.param("late", {1}, Init::zeros()), Error);
}

// The initial weights come from their own stream, not from Rng(seed), which generates a dataset of the
// same seed (tasks/dataset.cpp): the two must be independent.
TEST(ParamStore, InitialisationStreamIsNotTheDataStream) {
  ParamStore store;
  Param w = ParamScope(store).param("w", {64}, Init::uniform(0, 1));
  store.finalize(7);
  const std::vector<float> drawn = w.value().to_vector<float>();
  auto draw_from = [](Rng rng) {
    Tensor t = Tensor::zeros(Shape{64}, DType::F32);
    initialize(t, Init::uniform(0, 1), rng);
    return t.to_vector<float>();
  };
  EXPECT_NE(drawn, draw_from(Rng(7)));
  EXPECT_EQ(drawn, draw_from(ParamStore::parameter_rng(7)));
}

TEST(ParamStore, GradientsFromTwoUsesAdd) {
  ParamStore store(DType::F64);
  Param w = ParamScope(store).param("w", {2}, Init::constant(3.0));
  store.finalize(0);
  Tape tape;
  Var x = tape.leaf(Tensor::from<double>({2}, {1, 2}), false);
  // The same parameter used twice (shared weights): y = sum(w * x) + sum(w)
  tape.backward(sum_all(w.on(tape) * x) + sum_all(w.on(tape)));
  EXPECT_DOUBLE_EQ(w.grad().item(0), 2.0);
  EXPECT_DOUBLE_EQ(w.grad().item(1), 3.0);
  store.zero_grad();
  EXPECT_DOUBLE_EQ(w.grad().item(1), 0.0);
}

TEST(Init, FanInAndDeterminism) {
  auto make = [](uint64_t seed) {
    ParamStore s;
    Param p = ParamScope(s).param("w", {64, 16}, Init::uniform_fan_in());
    s.finalize(seed);
    return p.value().to_vector<float>();
  };
  const auto a = make(5), b = make(5), c = make(6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) EXPECT_LE(std::abs(v), 0.25f);  // 1/sqrt(16)
  ParamStore s;
  Param l = ParamScope(s).param("l", {5}, Init::linspace(0, 1));
  s.finalize(0);
  EXPECT_EQ(l.value().to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1}));
}

// Two AdamW steps on one parameter, computed by hand with torch.optim.AdamW's formulas.
// A values init copies its table in element order and draws nothing: the parameters declared after it get
// the same values as without it.
TEST(Init, ValuesTableInElementOrder) {
  ParamStore s(DType::F64);
  Param t = ParamScope(s).param("t", {2, 3}, Init::values({1, 2, 3, 4, 5, 6}));
  Param w = ParamScope(s).param("w", {4}, Init::normal(0, 1));
  s.finalize(3);
  EXPECT_EQ(t.value().to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  ParamStore alone(DType::F64);
  Param w2 = ParamScope(alone).param("w", {4}, Init::normal(0, 1));
  alone.finalize(3);
  EXPECT_EQ(w.value().to_vector<double>(), w2.value().to_vector<double>());
  ParamStore bad;
  ParamScope(bad).param("t", {4}, Init::values({1, 2, 3}));
  EXPECT_THROW(bad.finalize(0), Error);  // 3 values for 4 elements
}

TEST(AdamW, MatchesPyTorchFormulas) {
  ParamStore store(DType::F64);
  Param p = ParamScope(store).param("p", {1}, Init::constant(1.0));
  store.finalize(0);
  AdamW opt(store, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1});
  double x = 1.0, m = 0, v = 0;
  const double grads[] = {0.5, -0.25};
  for (int t = 1; t <= 2; ++t) {
    p.grad().data<double>()[0] = grads[t - 1];
    opt.step(0.1);
    x *= 1 - 0.1 * 0.1;
    m = 0.9 * m + 0.1 * grads[t - 1];
    v = 0.999 * v + 0.001 * grads[t - 1] * grads[t - 1];
    x -= 0.1 / (1 - std::pow(0.9, t)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    EXPECT_NEAR(p.value().item(), x, 1e-15) << "step " << t;
  }
}

}  // namespace
}  // namespace mad
