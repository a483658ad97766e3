// The sLSTM cell's test oracles (shared/docs/layers.md B.6): stabilised == unstabilised, n >= 1, the
// stabiliser shift invariance, head isolation, a sequence == its steps with carried state, thread-count
// independence. The finite-difference check of the op is an op case (tests/gradcheck/op_cases.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops_xlstm.h"
#include "core/parallel.h"
#include "kernels/slstm.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

constexpr int64_t kT = 9, kHeads = 2, kDH = 3, kHd = kHeads * kDH;
const kernels::SlstmDims kDims{kT, kHeads, kDH};

struct Cell {
  std::vector<double> pre, R, bias;
};

Cell random_cell(uint64_t seed, double r_scale) {
  Cell c{randn({kT, 4 * kHd}, seed, 2.0).to_vector<double>(), randn({kHeads, kDH, 4 * kDH}, seed + 1, r_scale).to_vector<double>(),
         randn({4 * kHd}, seed + 2, 0.5).to_vector<double>()};
  return c;
}

// Runs every head over `len` steps from states row 0 (which the caller sets); returns h [len, Hd].
std::vector<double> run(const Cell& c, std::vector<double>& states, int64_t begin = 0, int64_t len = kT) {
  kernels::SlstmDims d = kDims;
  d.len = len;
  std::vector<double> h(static_cast<size_t>(len * kHd)), scratch(kernels::slstm_scratch_size(d));
  for (int64_t hd = 0; hd < kHeads; ++hd)
    kernels::slstm_forward<double>(d, hd, c.pre.data() + begin * 4 * kHd, c.R.data(), c.bias.data(), h.data(),
                                   states.data(), scratch.data());
  return h;
}

std::vector<double> fresh_states(int64_t len = kT) { return std::vector<double>(static_cast<size_t>((len + 1) * 4 * kHd), 0.0); }

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t j = 0; j < a.size(); ++j) d = std::max(d, std::abs(a[j] - b[j]));
  return d;
}

double log_sigmoid(double x) { return std::min(x, 0.0) - std::log1p(std::exp(-std::abs(x))); }

// With R = 0: h_t = o_t * sum_j w_j z_j / sum_j w_j, w_j = exp(i_j + sum_{s=j+1..t} log sigmoid(f_s)).
TEST(Slstm, StabilisedEqualsUnstabilised) {
  Cell c = random_cell(1, 0.0);
  std::fill(c.R.begin(), c.R.end(), 0.0);
  std::vector<double> states = fresh_states();
  const std::vector<double> h = run(c, states);
  for (int64_t x = 0; x < kHd; ++x)
    for (int64_t t = 0; t < kT; ++t) {
      auto gate = [&](int64_t g, int64_t s) { return c.pre[s * 4 * kHd + g * kHd + x] + c.bias[g * kHd + x]; };
      double num = 0, den = 0;
      for (int64_t j = 0; j <= t; ++j) {
        double logw = gate(0, j);
        for (int64_t s = j + 1; s <= t; ++s) logw += log_sigmoid(gate(1, s));
        num += std::exp(logw) * std::tanh(gate(2, j));
        den += std::exp(logw);
      }
      const double o = 1.0 / (1.0 + std::exp(-gate(3, t)));
      EXPECT_NEAR(h[t * kHd + x], o * num / den, 1e-13);
    }
}

TEST(Slstm, NormaliserAtLeastOneFromAZeroState) {
  const Cell c = random_cell(2, 0.5);
  std::vector<double> states = fresh_states();
  run(c, states);
  for (int64_t t = 1; t <= kT; ++t)
    for (int64_t x = 0; x < kHd; ++x) EXPECT_GE(states[(t * 4 + 2) * kHd + x], 1.0 - 1e-12);
}

TEST(Slstm, StabiliserShiftOfTheInitialStateChangesNothing) {
  const Cell c = random_cell(3, 0.5);
  std::vector<double> init = randn({4, kHd}, 30).to_vector<double>();
  for (int64_t x = 0; x < kHd; ++x) init[2 * kHd + x] = 1.0 + std::abs(init[2 * kHd + x]);  // n > 0
  auto with_init = [&](double delta) {
    std::vector<double> states = fresh_states();
    std::copy(init.begin(), init.end(), states.begin());
    for (int64_t x = 0; x < kHd; ++x) {
      states[kHd + x] *= std::exp(-delta);
      states[2 * kHd + x] *= std::exp(-delta);
      states[3 * kHd + x] += delta;
    }
    return run(c, states);
  };
  const std::vector<double> ref = with_init(0.0);
  for (double delta : {-2.0, 1.5, 8.0}) EXPECT_LE(max_diff(with_init(delta), ref), 1e-13) << delta;
}

TEST(Slstm, SequenceEqualsStepsWithCarriedState) {
  const Cell c = random_cell(4, 0.5);
  std::vector<double> states = fresh_states();
  const std::vector<double> whole = run(c, states);
  std::vector<double> step_states = fresh_states(1), stepped;
  for (int64_t t = 0; t < kT; ++t) {
    const std::vector<double> h = run(c, step_states, t, 1);
    stepped.insert(stepped.end(), h.begin(), h.end());
    std::copy(step_states.begin() + 4 * kHd, step_states.end(), step_states.begin());  // carry (h, c, n, m)
  }
  EXPECT_LE(max_diff(stepped, whole), 1e-14);
  EXPECT_LE(max_diff(std::vector<double>(step_states.begin(), step_states.begin() + 4 * kHd),
                     std::vector<double>(states.end() - 4 * kHd, states.end())),
            1e-14);
}

// Perturbing head 0's pre-activations leaves head 1's outputs untouched (block-diagonal R).
TEST(Slstm, HeadsAreIsolated) {
  const Cell c = random_cell(5, 0.8);
  std::vector<double> s1 = fresh_states(), s2 = fresh_states();
  const std::vector<double> a = run(c, s1);
  Cell d = c;
  for (int64_t t = 0; t < kT; ++t)
    for (int64_t g = 0; g < 4; ++g)
      for (int64_t u = 0; u < kDH; ++u) d.pre[t * 4 * kHd + g * kHd + u] += 0.3;  // head 0
  const std::vector<double> b = run(d, s2);
  bool head0_changed = false;
  for (int64_t t = 0; t < kT; ++t)
    for (int64_t u = 0; u < kDH; ++u) {
      head0_changed |= a[t * kHd + u] != b[t * kHd + u];
      EXPECT_EQ(a[t * kHd + kDH + u], b[t * kHd + kDH + u]);
    }
  EXPECT_TRUE(head0_changed);
}

TEST(Slstm, ResultsDoNotDependOnTheThreadCount) {
  const Tensor pre = randn({3, 8, 4 * 8}, 50), R = randn({4, 2, 8}, 51, 0.5), bias = randn({4 * 8}, 52);
  const Tensor cot = randn({3, 8, 8}, 53);
  auto eval = [&](int threads) {
    set_num_threads(threads);
    Tape tape;
    std::vector<Tensor> grads{Tensor::zeros(pre.shape(), DType::F64), Tensor::zeros(R.shape(), DType::F64),
                              Tensor::zeros(bias.shape(), DType::F64)};
    Var h = slstm(tape.leaf(pre, true, grads[0]), tape.leaf(R, true, grads[1]), tape.leaf(bias, true, grads[2]));
    std::vector<double> out = h.value().to_vector<double>();
    tape.backward(h, cot);
    for (const Tensor& g : grads) {
      const std::vector<double> v = g.to_vector<double>();
      out.insert(out.end(), v.begin(), v.end());
    }
    set_num_threads(1);
    return out;
  };
  EXPECT_EQ(eval(1), eval(2));
}

TEST(Slstm, BadShapesAreReported) {
  Tape tape;
  Var pre = tape.constant(randn({1, 4, 16}, 1)), R = tape.constant(randn({2, 2, 8}, 2));
  EXPECT_THROW(slstm(pre, tape.constant(randn({2, 2, 6}, 3)), tape.constant(randn({16}, 4))), Error);
  EXPECT_THROW(slstm(pre, R, tape.constant(randn({8}, 5))), Error);
  EXPECT_THROW(slstm(tape.constant(randn({1, 4, 12}, 6)), R, tape.constant(randn({16}, 7))), Error);
}

}  // namespace
}  // namespace mad::testing
