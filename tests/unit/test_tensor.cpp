// Tensors, shapes, broadcasting, the arena and the random generator.
#include <gtest/gtest.h>

#include "core/arena.h"
#include "core/broadcast.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace mad {
namespace {

TEST(Shape, NumelAxesAndErrors) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s[-1], 4);
  EXPECT_EQ(s.norm_axis(-3), 0);
  EXPECT_THROW(s.norm_axis(3), Error);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6, 7}), Error);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
}

TEST(Shape, BroadcastingFollowsNumpy) {
  EXPECT_EQ(broadcast_shapes({2, 3, 4}, {4}, "t"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({3, 1}, {2, 1, 4}, "t"), (Shape{2, 3, 4}));
  try {
    broadcast_shapes({2, 3}, {4}, "add");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
}

TEST(Tensor, ViewsShareMemory) {
  Tensor t = Tensor::from<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor r = t.reshape({3, 2});
  EXPECT_EQ(r.raw(), t.raw());
  Tensor row = t.rows(1, 2);
  EXPECT_EQ(row.shape(), (Shape{1, 3}));
  EXPECT_EQ(row.item(0), 4);
  row.data<float>()[0] = 40;
  EXPECT_EQ(t.item(3), 40);
  EXPECT_THROW(t.reshape({4, 2}), Error);
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
}

TEST(Tensor, DtypeConversion) {
  Tensor t = Tensor::from<double>({3}, {1.5, -2.25, 3});
  Tensor f = t.to(DType::F32);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_FLOAT_EQ(f.data<float>()[1], -2.25f);
}

TEST(Arena, ConsolidatesAfterGrowth) {
  Arena arena(256);
  for (int i = 0; i < 10; ++i) arena.allocate(200);
  EXPECT_GT(arena.capacity(), 256u);
  arena.reset();
  const size_t capacity = arena.capacity();
  void* first = arena.allocate(1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % Arena::kAlign, 0u);
  for (int i = 1; i < 10; ++i) arena.allocate(200);
  EXPECT_EQ(arena.capacity(), capacity) << "a step of the same size must fit in the consolidated block";
}

TEST(Rng, DeterministicAndWellSpread) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    (void)c;
  }
  EXPECT_NE(Rng(42).next_u64(), Rng(43).next_u64());
  // below(n) covers [0, n) uniformly enough for 6 buckets.
  Rng r(7);
  int counts[6] = {};
  for (int i = 0; i < 60000; ++i) ++counts[r.below(6)];
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(counts[k], 10000, 400);
  // normal() has mean 0 and variance 1.
  double s = 0, s2 = 0;
  for (int i = 0; i < 100000; ++i) {
    const double z = r.normal();
    s += z;
    s2 += z * z;
  }
  EXPECT_NEAR(s / 1e5, 0.0, 0.02);
  EXPECT_NEAR(s2 / 1e5, 1.0, 0.02);
}

}  // namespace
}  // namespace mad
