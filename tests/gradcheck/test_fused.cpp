// The fused elementwise ops (core/ops_fused.cpp) equal their composites of primitive ops, forward and
// every gradient, in float32 and float64, on one and two threads. (Their float64 finite-difference checks
// are cases of tests/gradcheck/op_cases.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

struct Evaluation {
  Tensor out;
  std::vector<Tensor> grads;
};

// y = fn(a, b) and the gradients of sum(y * cot), with the gradients pre-filled with 0.5 so that a rule
// that overwrites instead of adding differs.
template <typename Fn>
Evaluation evaluate(Fn fn, const Tensor& a, const Tensor& b, const Tensor& cot, DType dtype) {
  Tape tape;
  Evaluation e;
  std::vector<Var> vars;
  for (const Tensor& x : {a, b}) {
    e.grads.push_back(Tensor::zeros(x.shape(), dtype));
    if (dtype == DType::F32) e.grads.back().fill(0.5f);
    else e.grads.back().fill(0.5);
    vars.push_back(tape.leaf(x.to(dtype), true, e.grads.back()));
  }
  Var y = fn(vars[0], vars[1]);
  e.out = y.value().clone();
  tape.backward(y, cot.to(dtype));
  return e;
}

// max_i |x_i - y_i| / max(1, |y_i|): in units of the value's own size, so large entries are judged by
// relative and small ones by absolute error.
double max_error(const Tensor& x, const Tensor& y) {
  double d = 0;
  for (int64_t i = 0; i < x.numel(); ++i) d = std::max(d, std::abs(x.item(i) - y.item(i)) / std::max(1.0, std::abs(y.item(i))));
  return d;
}

TEST(Fused, SwigluGateEqualsSiluTimesB) {
  // Wide inputs (|a| up to ~12) reach both tails of the sigmoid; 70000 elements span several thread chunks.
  const Shape shape{7, 100, 100};
  const Tensor a = randn(shape, 1, 4.0), b = randn(shape, 2), cot = randn(shape, 3);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (DType dtype : {DType::F32, DType::F64}) {
      const Evaluation fused = evaluate([](Var x, Var y) { return swiglu_gate(x, y); }, a, b, cot, dtype);
      const Evaluation composite = evaluate([](Var x, Var y) { return silu(x) * y; }, a, b, cot, dtype);
      // The fused op evaluates the composite's formulas in the same order; only the rounding of a product
      // the composite stores (and the compiler may contract into an FMA) can differ: a few units of the
      // last place.
      const double tol = dtype == DType::F32 ? 4 * 0x1p-24 : 4 * 0x1p-53;
      EXPECT_LE(max_error(fused.out, composite.out), tol) << dtype_name(dtype) << ", " << threads << " thread(s)";
      for (size_t k = 0; k < 2; ++k)
        EXPECT_LE(max_error(fused.grads[k], composite.grads[k]), tol)
            << "gradient of input " << k << ", " << dtype_name(dtype) << ", " << threads << " thread(s)";
    }
  }
  set_num_threads(1);
}

TEST(Fused, SwigluGateRejectsDifferentShapes) {
  Tape tape;
  Var a = tape.leaf(randn({2, 3}, 1), true), b = tape.leaf(randn({3}, 2), true);
  EXPECT_THROW(swiglu_gate(a, b), Error);
}

// linear(x, W, b) against matmul(x, W^T) + b. x is tanh of a leaf so that its gradient is first created by
// linear's backward (the path that writes instead of adding). Sizes split across threads and, with
// in = 300, into two depth blocks of the GEMM.
TEST(Fused, LinearEqualsMatmulPlusBias) {
  const Tensor x0 = randn({3, 70, 300}, 11), w = randn({40, 300}, 12, 0.1), b = randn({40}, 13), cot = randn({3, 70, 40}, 14);
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (DType dtype : {DType::F32, DType::F64}) {
      for (bool with_bias : {true, false}) {
        auto run = [&](bool fused) {
          Tape tape;
          Evaluation e;
          std::vector<Var> vars;
          for (const Tensor& t : {x0, w, b}) {
            e.grads.push_back(Tensor::zeros(t.shape(), dtype));
            vars.push_back(tape.leaf(t.to(dtype), true, e.grads.back()));
          }
          Var x = tanh(vars[0]);
          Var bias = with_bias ? vars[2] : Var();
          Var y = fused ? linear(x, vars[1], bias) : (with_bias ? matmul(x, vars[1], false, true) + bias
                                                                : matmul(x, vars[1], false, true));
          e.out = y.value().clone();
          tape.backward(y, cot.to(dtype));
          return e;
        };
        const Evaluation fused = run(true), composite = run(false);
        // Only where the bias is added differs (before the product's second depth block instead of after
        // the whole product): a few units of the last place of |b| + sum |x w| (about 5 here).
        const double tol = dtype == DType::F32 ? 1e-5 : 1e-14;
        const std::string where = std::string(dtype_name(dtype)) + ", " + std::to_string(threads) + " thread(s)" +
                                  (with_bias ? "" : ", no bias");
        EXPECT_LE(max_error(fused.out, composite.out), tol) << where;
        // The gradients run the same products and column sums as the composite: the same bits.
        for (size_t k = 0; k < 3; ++k)
          EXPECT_EQ(max_error(fused.grads[k], composite.grads[k]), 0.0) << "gradient of input " << k << ", " << where;
      }
    }
  }
  set_num_threads(1);
}

TEST(Fused, LinearRejectsMismatchedShapes) {
  Tape tape;
  Var x = tape.leaf(randn({2, 3}, 1), true), w = tape.leaf(randn({4, 5}, 2), true), b = tape.leaf(randn({3}, 3), true);
  EXPECT_THROW(linear(x, w), Error);
  Var w2 = tape.leaf(randn({4, 3}, 4), true);
  EXPECT_THROW(linear(x, w2, b), Error);
}

}  // namespace
}  // namespace mad::testing
