// The mLSTM cell's test oracles (shared/docs/layers.md A.9): the recurrent, parallel and chunkwise kernels
// agree for every chunk size dividing T (including 1 and T), forward and backward; state passing; the
// stabiliser invariances; agreement with the unstabilised definition; overflow robustness in float32;
// the exact gate-gradient identities; thread-count independence. Finite-difference checks of each kernel
// are op cases (tests/gradcheck/op_cases.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops_xlstm.h"
#include "core/parallel.h"
#include "kernels/mlstm.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {
namespace {

// One (batch, head) slice with contiguous rows, as in the layers.md A.9 check: T = 12, dk = 3, dv = 2.
struct Slice {
  int64_t T = 12, dk = 3, dv = 2;
  std::vector<double> q, k, v, i, f;
  kernels::MlstmDims dims() const { return {T, dk, dv, dk, dv, 1}; }
  int64_t state_size() const { return kernels::mlstm_state_size(dk, dv); }
};

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

Slice random_slice(uint64_t seed, double i_scale = 3.0, double i_offset = 0.0) {
  Slice s;
  s.q = values(randn({s.T, s.dk}, seed));
  s.k = values(randn({s.T, s.dk}, seed + 1));
  s.v = values(randn({s.T, s.dv}, seed + 2));
  s.i = values(randn({s.T}, seed + 3, i_scale));
  for (double& x : s.i) x += i_offset;
  s.f = values(randn({s.T}, seed + 4, 2.0));
  for (double& x : s.f) x += 1.0;
  return s;
}

// Outputs h [T, dv] of one kernel from `state` (updated to the final state for recurrent and chunkwise).
std::vector<double> run(const Slice& s, MlstmKernel kernel, int64_t chunk, double eps, std::vector<double>& state,
                        int64_t begin = 0, int64_t end = -1) {
  if (end < 0) end = s.T;
  kernels::MlstmDims d = s.dims();
  d.len = end - begin;
  std::vector<double> h(static_cast<size_t>(d.len * s.dv));
  std::vector<double> scratch(std::max(kernels::mlstm_parallel_scratch_size(d),
                                       kernels::mlstm_chunkwise_forward_scratch_size(d, std::max<int64_t>(chunk, 1))));
  const double* q = s.q.data() + begin * s.dk;
  const double* k = s.k.data() + begin * s.dk;
  const double* v = s.v.data() + begin * s.dv;
  const double* i = s.i.data() + begin;
  const double* f = s.f.data() + begin;
  switch (kernel) {
    case MlstmKernel::parallel: kernels::mlstm_parallel_forward<double>(d, eps, q, k, v, i, f, h.data(), scratch.data()); break;
    case MlstmKernel::recurrent: kernels::mlstm_recurrent_forward<double>(d, eps, q, k, v, i, f, h.data(), state.data()); break;
    case MlstmKernel::chunkwise:
      kernels::mlstm_chunkwise_forward<double>(d, chunk, eps, q, k, v, i, f, h.data(), state.data(), scratch.data());
      break;
  }
  return h;
}

std::vector<double> run_fresh(const Slice& s, MlstmKernel kernel, int64_t chunk, double eps) {
  std::vector<double> state(static_cast<size_t>(s.state_size()), 0.0);
  return run(s, kernel, chunk, eps, state);
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t j = 0; j < a.size(); ++j) d = std::max(d, std::abs(a[j] - b[j]));
  return d;
}

// The definition without a stabiliser (A.1): C^u_t = sum_{j<=t} exp(F_t - F_j + i_j) k_j v_j^T from a zero
// state, h_t = C^u_t^T q^_t / (max(|n^u_t . q^_t|, 1) + eps e^{m_t}); with eps = 0 the last term vanishes.
std::vector<double> unstabilised(const Slice& s) {
  std::vector<double> h(static_cast<size_t>(s.T * s.dv)), F(static_cast<size_t>(s.T + 1), 0.0);
  for (int64_t t = 0; t < s.T; ++t) {
    const double x = s.f[t];
    F[t + 1] = F[t] + std::min(x, 0.0) - std::log1p(std::exp(-std::abs(x)));
  }
  for (int64_t t = 0; t < s.T; ++t) {
    std::vector<double> num(static_cast<size_t>(s.dv), 0.0);
    double b = 0;
    for (int64_t j = 0; j <= t; ++j) {
      double qk = 0;
      for (int64_t a = 0; a < s.dk; ++a) qk += s.q[t * s.dk + a] * s.k[j * s.dk + a];
      const double w = std::exp(F[t + 1] - F[j + 1] + s.i[j]) * qk / std::sqrt(double(s.dk));
      b += w;
      for (int64_t c = 0; c < s.dv; ++c) num[c] += w * s.v[j * s.dv + c];
    }
    for (int64_t c = 0; c < s.dv; ++c) h[t * s.dv + c] = num[c] / std::max(std::abs(b), 1.0);
  }
  return h;
}

const MlstmKernel kKernels[] = {MlstmKernel::parallel, MlstmKernel::chunkwise, MlstmKernel::recurrent};

TEST(Mlstm, StepEqualsParallelEqualsChunkwiseForEveryChunkSize) {
  for (uint64_t seed : {1u, 20u, 300u}) {
    const Slice s = random_slice(seed);
    // eps = 0: the parallel form's different m convention then changes nothing.
    const std::vector<double> step = run_fresh(s, MlstmKernel::recurrent, 0, 0.0);
    EXPECT_LE(max_diff(run_fresh(s, MlstmKernel::parallel, 0, 0.0), step), 1e-12);
    for (double eps : {0.0, 1e-6}) {
      std::vector<double> step_state(static_cast<size_t>(s.state_size()), 0.0);
      const std::vector<double> step_h = run(s, MlstmKernel::recurrent, 0, eps, step_state);
      for (int64_t L : {1, 2, 3, 4, 6, 12}) {
        std::vector<double> state(static_cast<size_t>(s.state_size()), 0.0);
        EXPECT_LE(max_diff(run(s, MlstmKernel::chunkwise, L, eps, state), step_h), 1e-12) << "chunk " << L;
        EXPECT_LE(max_diff(state, step_state), 1e-12) << "final (C, n, m), chunk " << L;
      }
    }
    // With the default eps and moderate gates (|i| <~ 5) the parallel form differs by eps * e^m-sized terms.
    const Slice moderate = random_slice(seed + 1, 1.5);
    EXPECT_LE(max_diff(run_fresh(moderate, MlstmKernel::parallel, 0, 1e-6),
                       run_fresh(moderate, MlstmKernel::recurrent, 0, 1e-6)),
              1e-5);
  }
}

TEST(Mlstm, StatePassingEqualsOneRun) {
  const Slice s = random_slice(7);
  for (MlstmKernel kernel : {MlstmKernel::recurrent, MlstmKernel::chunkwise}) {
    std::vector<double> whole_state(static_cast<size_t>(s.state_size()), 0.0);
    const std::vector<double> whole = run(s, kernel, 4, 1e-6, whole_state);
    for (int64_t split = 1; split < s.T; ++split) {
      std::vector<double> state(static_cast<size_t>(s.state_size()), 0.0);
      std::vector<double> h = run(s, kernel, 4, 1e-6, state, 0, split);
      const std::vector<double> rest = run(s, kernel, 3, 1e-6, state, split, s.T);
      h.insert(h.end(), rest.begin(), rest.end());
      EXPECT_LE(max_diff(h, whole), 1e-12) << "split at " << split;
      EXPECT_LE(max_diff(state, whole_state), 1e-12) << "split at " << split;
    }
  }
}

TEST(Mlstm, InitialStateStabiliserShiftChangesNothing) {
  const Slice s = random_slice(11);
  std::vector<double> init = values(randn({s.state_size()}, 12));
  init.back() = 0.5;  // m_0
  for (MlstmKernel kernel : {MlstmKernel::recurrent, MlstmKernel::chunkwise}) {
    std::vector<double> a = init;
    const std::vector<double> ha = run(s, kernel, 5, 0.0, a);
    for (double delta : {-3.0, 2.0, 10.0}) {
      std::vector<double> b = init;
      for (size_t j = 0; j + 1 < b.size(); ++j) b[j] *= std::exp(-delta);
      b.back() += delta;
      EXPECT_LE(max_diff(run(s, kernel, 5, 0.0, b), ha), 1e-12) << "shift " << delta;
    }
  }
}

TEST(Mlstm, EqualsTheUnstabilisedDefinition) {
  const Slice s = random_slice(13, 2.0);
  const std::vector<double> ref = unstabilised(s);
  for (MlstmKernel kernel : kKernels) EXPECT_LE(max_diff(run_fresh(s, kernel, 4, 0.0), ref), 1e-12);
}

// i = +100 everywhere: exp(i) overflows float32 (e^88.7 is its limit), the stabilised forms do not.
TEST(Mlstm, LargeInputGatesStayFiniteInFloat32) {
  Slice s = random_slice(17, 0.0, 100.0);
  const std::vector<double> ref = unstabilised(s);
  const int64_t B = 1, H = 1;
  auto tensor = [](const std::vector<double>& x, Shape shape) { return Tensor::from<double>(shape, x).to(DType::F32); };
  for (MlstmKernel kernel : kKernels) {
    Tape tape;
    Var q = tape.constant(tensor(s.q, {B, s.T, H, s.dk})), k = tape.constant(tensor(s.k, {B, s.T, H, s.dk}));
    Var v = tape.constant(tensor(s.v, {B, s.T, H, s.dv}));
    Var ig = tape.constant(tensor(s.i, {B, s.T, H})), fg = tape.constant(tensor(s.f, {B, s.T, H}));
    const Tensor& h = mlstm(q, k, v, ig, fg, kernel, 5, 1e-6).value();
    for (int64_t j = 0; j < h.numel(); ++j) {
      ASSERT_TRUE(std::isfinite(h.item(j)));
      EXPECT_NEAR(h.item(j), ref[static_cast<size_t>(j)], 1e-4 * std::max(1.0, std::abs(ref[j])));
    }
  }
}

TEST(Mlstm, StabiliserInvariants) {
  const Slice s = random_slice(19, 5.0);
  std::vector<double> state(static_cast<size_t>(s.state_size()), 0.0);
  kernels::MlstmDims one = s.dims();
  one.len = 1;
  double m_prev = 0;
  std::vector<double> h(static_cast<size_t>(s.dv));
  for (int64_t t = 0; t < s.T; ++t) {
    kernels::mlstm_recurrent_forward<double>(one, 1e-6, &s.q[t * s.dk], &s.k[t * s.dk], &s.v[t * s.dv], &s.i[t],
                                             &s.f[t], h.data(), state.data());
    const double m = state.back();
    const double lam = std::min(s.f[t], 0.0) - std::log1p(std::exp(-std::abs(s.f[t])));
    EXPECT_GE(m, s.i[t]);
    EXPECT_GE(m, lam + m_prev);
    EXPECT_DOUBLE_EQ(std::max(std::exp(lam + m_prev - m), std::exp(s.i[t] - m)), 1.0);  // max(f', i') = 1
    m_prev = m;
  }
}

// Forward and all five gradients of the op through each kernel, for a cotangent `cot`.
struct OpResult {
  Tensor h;
  std::vector<Tensor> grads;
};

OpResult run_op(const std::vector<Tensor>& in, MlstmKernel kernel, int64_t chunk, double eps, const Tensor& cot) {
  Tape tape;
  OpResult r;
  std::vector<Var> v;
  for (const Tensor& x : in) {
    r.grads.push_back(Tensor::zeros(x.shape(), x.dtype()));
    v.push_back(tape.leaf(x, true, r.grads.back()));
  }
  Var h = mlstm(v[0], v[1], v[2], v[3], v[4], kernel, chunk, eps);
  r.h = h.value().clone();
  tape.backward(h, cot);
  return r;
}

double max_diff(const Tensor& a, const Tensor& b) { return max_diff(a.to_vector<double>(), b.to_vector<double>()); }

std::vector<Tensor> op_inputs(int64_t B, int64_t T, int64_t H, int64_t dk, int64_t dv, uint64_t seed) {
  Tensor f = randn({B, T, H}, seed + 4, 2.0);
  for (int64_t j = 0; j < f.numel(); ++j) f.data<double>()[j] += 1.0;
  return {randn({B, T, H, dk}, seed), randn({B, T, H, dk}, seed + 1), randn({B, T, H, dv}, seed + 2),
          randn({B, T, H}, seed + 3, 3.0), f};
}

TEST(Mlstm, KernelGradientsAgree) {
  const std::vector<Tensor> in = op_inputs(2, 12, 3, 4, 5, 40);
  const Tensor cot = randn({2, 12, 3, 5}, 45);
  const OpResult ref = run_op(in, MlstmKernel::recurrent, 0, 0.0, cot);
  std::vector<std::pair<MlstmKernel, int64_t>> variants = {{MlstmKernel::parallel, 0}};
  for (int64_t L : {1, 2, 3, 4, 5, 6, 12}) variants.push_back({MlstmKernel::chunkwise, L});
  for (const auto& [kernel, L] : variants) {
    const OpResult r = run_op(in, kernel, L, 0.0, cot);
    EXPECT_LE(max_diff(r.h, ref.h), 1e-12) << "chunk " << L;
    for (int x = 0; x < 5; ++x) EXPECT_LE(max_diff(r.grads[x], ref.grads[x]), 1e-10) << "input " << x << " chunk " << L;
  }
}

// Exact gradient (eps = 0): di_j = k_j . dk_j and dF_s = q_s . dq_s - k_s . dk_s, where F is the prefix sum of
// log sigmoid(f), so d lambda_s = df_s / sigmoid(-f_s) and dF_s = d lambda_s - d lambda_{s+1}.
TEST(Mlstm, GateGradientIdentities) {
  const int64_t T = 9, dk = 3, dv = 2;
  const std::vector<Tensor> in = op_inputs(1, T, 1, dk, dv, 60);
  const OpResult r = run_op(in, MlstmKernel::parallel, 0, 0.0, randn({1, T, 1, dv}, 66));
  auto at = [](const Tensor& t, int64_t j) { return t.data<double>()[j]; };
  std::vector<double> dlam(T + 1, 0.0);
  for (int64_t s = 0; s < T; ++s) dlam[s] = at(r.grads[4], s) * (1.0 + std::exp(at(in[4], s)));
  for (int64_t s = 0; s < T; ++s) {
    double kdk = 0, qdq = 0;
    for (int64_t a = 0; a < dk; ++a) {
      kdk += at(in[1], s * dk + a) * at(r.grads[1], s * dk + a);
      qdq += at(in[0], s * dk + a) * at(r.grads[0], s * dk + a);
    }
    EXPECT_NEAR(at(r.grads[3], s), kdk, 1e-12);
    EXPECT_NEAR(dlam[s] - dlam[s + 1], qdq - kdk, 1e-10);
  }
}

TEST(Mlstm, ResultsDoNotDependOnTheThreadCount) {
  const std::vector<Tensor> in = op_inputs(2, 10, 3, 4, 4, 80);
  const Tensor cot = randn({2, 10, 3, 4}, 85);
  for (MlstmKernel kernel : kKernels) {
    set_num_threads(1);
    const OpResult one = run_op(in, kernel, 4, 1e-6, cot);
    set_num_threads(2);
    const OpResult two = run_op(in, kernel, 4, 1e-6, cot);
    set_num_threads(1);
    EXPECT_EQ(max_diff(one.h, two.h), 0.0);
    for (int x = 0; x < 5; ++x) EXPECT_EQ(max_diff(one.grads[x], two.grads[x]), 0.0);
  }
}

TEST(Mlstm, BadShapesAreReported) {
  Tape tape;
  Var q = tape.constant(randn({1, 4, 2, 3}, 1)), v = tape.constant(randn({1, 4, 2, 5}, 2));
  Var g = tape.constant(randn({1, 4, 2}, 3)), bad = tape.constant(randn({1, 4, 3}, 4));
  EXPECT_THROW(mlstm(q, q, v, g, bad, MlstmKernel::parallel), Error);
  EXPECT_THROW(mlstm(q, v, v, g, g, MlstmKernel::parallel), Error);
  EXPECT_THROW(mlstm(q, q, v, g, g, MlstmKernel::chunkwise, 0), Error);
}

}  // namespace
}  // namespace mad::testing
