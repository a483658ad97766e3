// Forward values and input gradients of a function on the tape, for tests that compare two
// implementations of one computation (a fused kernel and its composite, two forms of a layer).
// Header-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>
#include <vector>

#include "core/tape.h"

namespace mad::testing {

using Fn = std::function<Var(std::span<const Var>)>;

// Forward value and input gradients of fn at `inputs` for the cotangent `cot`, in `dtype`.
struct Evaluation {
  Tensor out;
  std::vector<Tensor> grads;
};

inline Evaluation evaluate(const Fn& fn, const std::vector<Tensor>& inputs, const Tensor& cot, DType dtype) {
  Tape tape;
  Evaluation e;
  std::vector<Var> vars;
  for (const Tensor& x : inputs) {
    e.grads.push_back(Tensor::zeros(x.shape(), dtype));
    vars.push_back(tape.leaf(x.to(dtype), true, e.grads.back()));
  }
  Var y = fn(vars);
  e.out = y.value().clone();
  tape.backward(y, cot.to(dtype));
  return e;
}

// max |a - b| / max(1, max |b|): relative to the tensor's scale, so near-zero entries do not dominate.
inline double relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double diff = 0, norm = 1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, std::abs(a.item(i) - b.item(i)));
    norm = std::max(norm, std::abs(b.item(i)));
  }
  return diff / norm;
}

}  // namespace mad::testing
