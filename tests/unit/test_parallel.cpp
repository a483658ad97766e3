// Threads: every index runs exactly once, exceptions propagate, results do not depend on timing.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/ops.h"
#include "core/parallel.h"
#include "tests/support/gradcheck.h"

namespace mad {
namespace {

TEST(Parallel, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(1000, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
  set_num_threads(1);
}

TEST(Parallel, ExceptionsReachTheCaller) {
  set_num_threads(2);
  EXPECT_THROW(parallel_for(100, 1, [](int64_t b, int64_t) { if (b > 0) fail("boom"); }), Error);
  set_num_threads(1);
  EXPECT_THROW(set_num_threads(0), Error);
}

// The same computation with the same thread count gives bit-identical results, and 1 vs 2 threads
// agree to rounding.
TEST(Parallel, MatmulDeterministic) {
  auto run = [](int threads) {
    set_num_threads(threads);
    Tape tape;
    Tensor a = testing::randn({300, 64}, 1).to(DType::F32), b = testing::randn({64, 96}, 2).to(DType::F32);
    Tensor ga = Tensor::zeros(a.shape()), gb = Tensor::zeros(b.shape());
    Var y = matmul(tape.leaf(a, true, ga), tape.leaf(b, true, gb));
    tape.backward(sum_all(tanh(y)));
    std::vector<float> out = y.value().to_vector<float>();
    for (float g : gb.span<float>()) out.push_back(g);
    set_num_threads(1);
    return out;
  };
  EXPECT_EQ(run(2), run(2));
  const auto one = run(1), two = run(2);
  for (size_t i = 0; i < one.size(); ++i) ASSERT_NEAR(one[i], two[i], 1e-3 * (1 + std::abs(one[i])));
}

// Reductions over rows into parameter gradients (a bias broadcast along rows, norm weights and biases, the
// embedding's scatter-add) split the columns across threads, each column summed in row order: the same
// bits on any number of threads. Sizes are large enough to be split into several chunks.
TEST(Parallel, ParameterGradientReductionsIndependentOfThreadCount) {
  auto run = [](int threads) {
    set_num_threads(threads);
    Tape tape;
    const int64_t rows = 4096, D = 64, V = 5;
    Tensor x = testing::randn({rows, D}, 3).to(DType::F32), u = testing::randn({rows, D}, 4).to(DType::F32);
    Tensor bias = testing::randn({D}, 5).to(DType::F32), w = testing::randn({D}, 6).to(DType::F32);
    Tensor table = testing::randn({V, D}, 7).to(DType::F32), ids = Tensor::zeros({rows}, DType::I32);
    for (int64_t i = 0; i < rows; ++i) ids.data<int32_t>()[i] = static_cast<int32_t>((i * 7) % V);
    std::vector<Tensor> grads;
    for (const Tensor& t : {bias, w, bias, table}) grads.push_back(Tensor::zeros(t.shape()));
    Var h = tape.leaf(x) + tape.leaf(bias, true, grads[0]);
    h = layer_norm(h, tape.leaf(w, true, grads[1]), tape.leaf(bias, true, grads[2]), 1e-5, 4);
    h = h + embedding(tape.leaf(table, true, grads[3]), ids);
    tape.backward(sum_all(h * tape.leaf(u)));
    std::vector<float> out;
    for (const Tensor& g : grads)
      for (float v : g.span<float>()) out.push_back(v);
    set_num_threads(1);
    return out;
  };
  const auto one = run(1);
  EXPECT_EQ(one, run(2));
  EXPECT_EQ(one, run(3));
}

}  // namespace
}  // namespace mad
