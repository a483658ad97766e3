// The LTC cell's test oracles (shared/docs/layers.md D.6): the kernel's sequence equals the solver written
// out from the formulas step by step, with the state carried across a split; the fixed point and its
// closed form; boundedness; first-order convergence of the fused solver in the number of sub-steps; thread-
// count independence of the op. The finite-difference check of the op is an op case
// (tests/gradcheck/op_cases.cpp); masks are tested on the layer (tests/models/test_liquid_layers.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops_liquid.h"
#include "core/parallel.h"
#include "kernels/ltc.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

constexpr int64_t kS = 3, kN = 5;

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Positive w, sensory w, cm and gleak (what the layer's softplus gives), one masked synapse of each kind.
struct Cell {
  std::vector<double> block;
  kernels::LtcDims dims(int64_t len, int64_t unfolds) const { return {len, kS, kN, unfolds}; }
  kernels::LtcParams<const double> params() const { return kernels::ltc_params_in<const double>(dims(1, 1), block.data()); }
};

Cell random_cell(uint64_t seed) {
  const kernels::LtcDims d{1, kS, kN, 1};
  Cell c;
  c.block.assign(static_cast<size_t>(kernels::ltc_param_count(d)), 0.0);
  kernels::LtcParams<double> p = kernels::ltc_params_in<double>(d, c.block.data());
  Rng rng(seed);
  auto fill = [&](double* x, int64_t n, double lo, double hi) {
    for (int64_t j = 0; j < n; ++j) x[j] = rng.uniform(lo, hi);
  };
  fill(p.gleak, kN, 0.1, 1.0);
  fill(p.vleak, kN, -0.2, 0.2);
  fill(p.cm, kN, 0.4, 0.6);
  fill(p.w, kN * kN, 0.001, 1.0);
  fill(p.sigma, kN * kN, 3.0, 8.0);
  fill(p.mu, kN * kN, 0.3, 0.8);
  fill(p.erev, kN * kN, -1.0, 1.0);
  fill(p.sw, kS * kN, 0.001, 1.0);
  fill(p.ssigma, kS * kN, 3.0, 8.0);
  fill(p.smu, kS * kN, 0.3, 0.8);
  fill(p.serev, kS * kN, -1.0, 1.0);
  p.w[7] = 0;
  p.sw[4] = 0;
  return c;
}

// One token of the fused solver, written out from layers.md D.3 with the activations formed explicitly.
std::vector<double> reference_token(const Cell& c, const double* input, std::vector<double> v, int64_t unfolds,
                                    double dt = 1.0, double eps = 1e-8) {
  const kernels::LtcParams<const double> p = c.params();
  const double delta = dt / static_cast<double>(unfolds);
  std::vector<double> as(kS * kN);
  for (int64_t k = 0; k < kS; ++k)
    for (int64_t j = 0; j < kN; ++j)
      as[k * kN + j] = p.sw[k * kN + j] * sigmoid(p.ssigma[k * kN + j] * (input[k] - p.smu[k * kN + j]));
  for (int64_t u = 0; u < unfolds; ++u) {
    std::vector<double> next(kN);
    for (int64_t j = 0; j < kN; ++j) {
      double num = p.cm[j] / delta * v[j] + p.gleak[j] * p.vleak[j], den = p.cm[j] / delta + p.gleak[j];
      for (int64_t i = 0; i < kN; ++i) {
        const double a = p.w[i * kN + j] * sigmoid(p.sigma[i * kN + j] * (v[i] - p.mu[i * kN + j]));
        num += a * p.erev[i * kN + j];
        den += a;
      }
      for (int64_t k = 0; k < kS; ++k) {
        num += as[k * kN + j] * p.serev[k * kN + j];
        den += as[k * kN + j];
      }
      next[j] = num / (den + eps);
    }
    v = next;
  }
  return v;
}

// Runs the kernel over `len` tokens from v0; returns the per-token outputs [len, N] (and the final state).
std::vector<double> run_kernel(const Cell& c, const std::vector<double>& input, int64_t len, int64_t unfolds,
                               const std::vector<double>& v0, std::vector<double>* last = nullptr, double dt = 1.0) {
  const kernels::LtcDims d = c.dims(len, unfolds);
  std::vector<double> states(static_cast<size_t>((len * unfolds + 1) * kN)), out(static_cast<size_t>(len * kN)),
      scratch(kernels::ltc_scratch_size(d));
  std::copy(v0.begin(), v0.end(), states.begin());
  kernels::ltc_forward<double>(d, c.params(), dt, 1e-8, input.data(), states.data(), out.data(), scratch.data());
  if (last) last->assign(out.end() - kN, out.end());
  return out;
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t j = 0; j < a.size(); ++j) d = std::max(d, std::abs(a[j] - b[j]));
  return d;
}

TEST(Ltc, SequenceEqualsStepsAndSplitsCarryTheState) {
  const Cell c = random_cell(1);
  constexpr int64_t T = 9, U = 6;
  const std::vector<double> input = randn({T, kS}, 2, 1.5).to_vector<double>();
  const std::vector<double> zero(kN, 0.0);
  const std::vector<double> seq = run_kernel(c, input, T, U, zero);
  std::vector<double> v = zero;
  for (int64_t t = 0; t < T; ++t) {
    v = reference_token(c, input.data() + t * kS, v, U);
    for (int64_t j = 0; j < kN; ++j) EXPECT_NEAR(seq[t * kN + j], v[j], 1e-14) << "t " << t;
  }
  // Split after 4 tokens: the second part starts from the first part's last state.
  std::vector<double> carried;
  std::vector<double> split = run_kernel(c, input, 4, U, zero, &carried);
  const std::vector<double> rest(input.begin() + 4 * kS, input.end());
  const std::vector<double> second = run_kernel(c, rest, T - 4, U, carried);
  split.insert(split.end(), second.begin(), second.end());
  EXPECT_EQ(split, seq);  // the same operations in the same order: bit-identical
}

// With a constant input the potentials converge to v*_j = (gleak vleak + Σ a E)/(gleak + Σ a + eps) (a from
// v*, sensory terms included), a fixed point of every sub-step whatever cm, the step size or the number of
// sub-steps.
TEST(Ltc, FixedPointIsIndependentOfTheStep) {
  const Cell c = random_cell(3);
  const std::vector<double> input = randn({1, kS}, 4).to_vector<double>();
  std::vector<double> v(kN, 0.0), next;
  for (int i = 0; i < 5000; ++i) {
    run_kernel(c, input, 1, 6, v, &next);
    const double change = max_diff(next, v);
    v = next;
    if (change == 0) break;
  }
  for (const auto& [unfolds, dt] : std::vector<std::pair<int64_t, double>>{{1, 0.3}, {6, 1.0}, {10, 5.0}}) {
    run_kernel(c, input, 1, unfolds, v, &next, dt);
    EXPECT_LE(max_diff(next, v), 1e-14) << unfolds << " sub-steps, dt " << dt;
  }
  const kernels::LtcParams<const double> p = c.params();
  for (int64_t j = 0; j < kN; ++j) {
    double num = p.gleak[j] * p.vleak[j], den = p.gleak[j];
    for (int64_t i = 0; i < kN; ++i) {
      const double a = p.w[i * kN + j] * sigmoid(p.sigma[i * kN + j] * (v[i] - p.mu[i * kN + j]));
      num += a * p.erev[i * kN + j];
      den += a;
    }
    for (int64_t k = 0; k < kS; ++k) {
      const double a = p.sw[k * kN + j] * sigmoid(p.ssigma[k * kN + j] * (input[k] - p.smu[k * kN + j]));
      num += a * p.serev[k * kN + j];
      den += a;
    }
    EXPECT_NEAR(v[j], num / (den + 1e-8), 1e-14);
  }
}

// Each sub-step is a convex combination of v_j, vleak_j and the reversal potentials (w, cm, gleak >= 0), so
// |v| never exceeds max(|v0|, |vleak|, |erev|, |sensory erev|), whatever the input.
TEST(Ltc, PotentialsStayBounded) {
  const Cell c = random_cell(5);
  const kernels::LtcParams<const double> p = c.params();
  constexpr int64_t T = 200, U = 6;
  const std::vector<double> input = randn({T, kS}, 6, 20.0).to_vector<double>();
  const std::vector<double> v0 = {3.0, -2.0, 0.5, 0.0, -0.7};
  double bound = 3.0;
  for (int64_t j = 0; j < kN; ++j) bound = std::max(bound, std::abs(p.vleak[j]));
  for (int64_t x = 0; x < kN * kN; ++x) bound = std::max(bound, std::abs(p.erev[x]));
  for (int64_t x = 0; x < kS * kN; ++x) bound = std::max(bound, std::abs(p.serev[x]));
  const kernels::LtcDims d = c.dims(T, U);
  std::vector<double> states(static_cast<size_t>((T * U + 1) * kN)), out(static_cast<size_t>(T * kN)),
      scratch(kernels::ltc_scratch_size(d));
  std::copy(v0.begin(), v0.end(), states.begin());
  kernels::ltc_forward<double>(d, p, 1.0, 1e-8, input.data(), states.data(), out.data(), scratch.data());
  double worst = 0;
  for (double s : states) worst = std::max(worst, std::abs(s));
  EXPECT_LE(worst, bound + 1e-12);
  EXPECT_GT(worst, 0.1);  // the dynamics did something
}

// The fused solver is first order in the sub-step: against a fine solution (4096 sub-steps), 4x more
// sub-steps cut the error by about 4 (layers.md D.6.3 measured 0.28, 0.089, 0.024, 0.0062 for 1, 6, 24, 96).
TEST(Ltc, FusedSolverConvergesAtFirstOrder) {
  const Cell c = random_cell(7);
  const std::vector<double> input = randn({1, kS}, 8).to_vector<double>();
  const std::vector<double> v0 = {0.4, -0.3, 0.2, 0.1, -0.5};
  const std::vector<double> fine = reference_token(c, input.data(), v0, 4096);
  double previous = 0;
  for (int64_t unfolds : {6, 24, 96}) {
    const double error = max_diff(reference_token(c, input.data(), v0, unfolds), fine);
    if (previous > 0) {
      EXPECT_LT(error, previous / 2.5) << unfolds;
      EXPECT_GT(error, previous / 6.0) << unfolds;  // first order, not better
    }
    previous = error;
  }
}

// The op's values and gradients are bit-identical for one and two threads.
TEST(Ltc, OpIsThreadCountIndependent) {
  constexpr int64_t B = 5, T = 4;
  const Cell c = random_cell(9);
  const kernels::LtcDims d = c.dims(1, 1);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tape tape;
    std::vector<Var> p;
    const Shape shapes[] = {{kN}, {kN}, {kN}, {kN, kN}, {kN, kN}, {kN, kN}, {kN, kN}, {kS, kN}, {kS, kN}, {kS, kN}, {kS, kN}};
    int64_t offset = 0;
    for (const Shape& s : shapes) {
      Tensor t = Tensor::zeros(s, DType::F32);
      for (int64_t j = 0; j < s.numel(); ++j) t.data<float>()[j] = static_cast<float>(c.block[static_cast<size_t>(offset + j)]);
      offset += s.numel();
      p.push_back(tape.leaf(t, true));
    }
    EXPECT_EQ(offset, kernels::ltc_param_count(d));
    Var x = tape.leaf(randn({B, T, kS}, 10).to(DType::F32), true);
    Var y = ltc(x, {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]}, 6);
    tape.backward(sum_all(y * tape.constant(randn({B, T, kN}, 11).to(DType::F32))));
    std::vector<float> all = y.value().to_vector<float>();
    for (Var v : p) {
      const std::vector<float> g = v.grad().to_vector<float>();
      all.insert(all.end(), g.begin(), g.end());
    }
    const std::vector<float> gx = x.grad().to_vector<float>();
    all.insert(all.end(), gx.begin(), gx.end());
    return all;
  };
  const std::vector<float> one = run(1), two = run(2);
  set_num_threads(1);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace mad::testing
