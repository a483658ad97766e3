// Memory of a training step: the arena's reuse of released memory, writing a result into an operand's
// memory (add_into), and what backward frees (Tape::set_free_in_backward). Every layer is checked for
// unchanged gradients with freeing on in tests/models/test_layers.cpp (LayerFreeInBackward).
#include <gtest/gtest.h>

#include "core/budget.h"
#include "core/ops.h"

namespace mad {
namespace {

TEST(Arena, ReleasedMemoryIsReusedBestFitAndMerged) {
  Arena arena(1 << 16);
  void* a = arena.allocate(1000);  // 1024 bytes once rounded to 64
  void* b = arena.allocate(64);
  void* c = arena.allocate(2048);
  EXPECT_EQ(arena.high_water(), 1024u + 64 + 2048);
  arena.release(c, 2048);
  arena.release(a, 1000);
  EXPECT_EQ(arena.allocate(900), a);  // the smaller range that fits, not the later, larger one
  arena.release(a, 900);
  arena.release(b, 64);              // merges with a's range: 1088 bytes from a
  EXPECT_EQ(arena.allocate(1088), a);
  EXPECT_EQ(arena.bytes_in_use(), 1088u);
  EXPECT_EQ(arena.high_water(), 1024u + 64 + 2048);  // nothing new was bumped
  EXPECT_EQ(arena.allocate(2048), c);
  arena.release(c, 2048);
  EXPECT_THROW(arena.release(c, 2048), Error);  // released twice
}

TEST(Arena, FillReleasedOverwritesWithNaN) {
  Arena arena;
  arena.set_fill_released(true);
  auto* p = static_cast<float*>(arena.allocate(4 * sizeof(float)));
  for (int i = 0; i < 4; ++i) p[i] = 1.0f;
  arena.release(p, 4 * sizeof(float));
#if !defined(__SANITIZE_ADDRESS__)  // under ASan the range is poisoned: reading it is the error we want
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isnan(p[i]));
#endif
}

// The arena's blocks together stay within the memory budget: growth near it takes only what is needed,
// and a step that needs more stops with the budget's one-line error before allocating.
TEST(Arena, GrowthStaysWithinTheMemoryBudget) {
  struct RestoreBudget {
    ~RestoreBudget() { set_memory_budget(0); }
  } restore;
  set_memory_budget(int64_t{5} << 19);  // 2.5 MiB
  Arena arena(1 << 20);
  arena.allocate(1 << 20);
  arena.allocate(1 << 20);  // doubling would hold 3 MiB in all; a block of 1 MiB keeps within
  EXPECT_EQ(arena.capacity(), size_t{2} << 20);
  try {
    arena.allocate(1 << 20);
    FAIL() << "an allocation past the budget succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one training step's activations needs 3.0 MiB"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--max-memory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(arena.capacity(), size_t{2} << 20);  // nothing was taken
  // Consolidation into one block adds 1/8 of headroom to the step's 2 MiB only as far as the budget allows.
  set_memory_budget((int64_t{2} << 20) + 1000 * 64);
  arena.reset();
  EXPECT_EQ(arena.capacity(), (size_t{2} << 20) + 1000 * 64);
}

// add_into writes x + y into y's memory only when nothing can read y afterwards: y is the fresh result of
// an op whose backward ignores its result, not yet consumed by any op. The gradients are add's.
TEST(Tape, AddIntoReusesOnlyAnOverwritableOperand) {
  Tape tape;
  Var x = tape.leaf(Tensor::from<double>({2, 2}, {1, 2, 3, 4}), true);
  Var w = tape.leaf(Tensor::from<double>({2, 2}, {1, 0, 0, 2}), true);
  Var y = linear(x, w);  // linear's backward reads x and w, never y
  ASSERT_TRUE(tape.can_overwrite(y));
  const void* y_memory = y.value().raw();
  Var z = add_into(x, y);
  EXPECT_EQ(z.value().raw(), y_memory);
  EXPECT_FALSE(tape.can_overwrite(z));  // z shares y's memory: not its own
  EXPECT_DOUBLE_EQ(z.value().item(3), 4.0 + 8.0);

  Var u = linear(x, w);
  Var t = tanh(u);  // u already has a consumer, whose backward may read it
  (void)t;
  EXPECT_FALSE(tape.can_overwrite(u));
  Var e = exp(x);  // exp's backward reads its result
  EXPECT_FALSE(tape.can_overwrite(e));
  EXPECT_NE(add_into(x, e).value().raw(), e.value().raw());
  Var v = reshape(y, {4});  // a view of y
  EXPECT_FALSE(tape.can_overwrite(v));
  EXPECT_FALSE(tape.can_overwrite(x));  // a leaf: its memory is the caller's

  tape.backward(sum_all(z));  // dz/dx = 1 + w^T rows, dz/dw = column sums of x
  EXPECT_DOUBLE_EQ(x.grad().item(0), 2.0);
  EXPECT_DOUBLE_EQ(x.grad().item(3), 3.0);
  EXPECT_DOUBLE_EQ(w.grad().item(0), 4.0);
}

// Freeing during backward: the arena's footprint shrinks, the leaf gradients are the same bit for bit,
// and a second backward on the same tape is refused (its inputs are gone).
TEST(Tape, FreeInBackwardKeepsLeafGradientsAndLowersTheFootprint) {
  auto run = [](bool free_in_backward, std::vector<float>& grads) {
    Tape tape;
    tape.set_free_in_backward(free_in_backward);
    tape.arena().set_fill_released(true);
    Tensor w_data = Tensor::zeros({64, 64}, DType::F32);
    for (int64_t i = 0; i < w_data.numel(); ++i) w_data.data<float>()[i] = static_cast<float>((i * 37 % 101) - 50) / 400;
    Var w = tape.leaf(w_data, true);
    Var h = tape.leaf(Tensor::zeros({32, 64}, DType::F32), false);
    h = add_scalar(h, 0.5);
    for (int layer = 0; layer < 6; ++layer) h = add_into(h, tanh(linear(h, w)));
    tape.backward(sum_all(h * h));
    grads.assign(w.grad().span<float>().begin(), w.grad().span<float>().end());
    if (free_in_backward) {
      EXPECT_THROW(tape.backward(sum_all(w)), Error);
    }
    return tape.arena().high_water();
  };
  std::vector<float> kept, freed;
  const size_t kept_bytes = run(false, kept), freed_bytes = run(true, freed);
  EXPECT_LT(freed_bytes, kept_bytes * 3 / 4);
  ASSERT_EQ(kept.size(), freed.size());
  for (size_t i = 0; i < kept.size(); ++i) ASSERT_EQ(kept[i], freed[i]) << i;
}

}  // namespace
}  // namespace mad
