// Benchmark: fused causal attention (the `attention` op, kernels/attention.h) against the composite built
// from primitive ops (permute, matmul, scale, causal_mask, softmax, matmul, permute), float32, one
// thread, at the MAD shapes: mh-attention (16 heads of 8) at T = 128, 512, 1024 and attention (1 head of
// 128) at T = 128, B = 16. Prints forward and forward+backward milliseconds (fastest call) and each
// form's arena high-water mark. It never asserts on timings.
//
// Usage: bench_attention [min_seconds_per_measurement=1]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include <string>

#include "kernels/isa.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "bench/op_timing.h"

namespace {

using namespace mad;

struct Shape4 {
  int64_t B, T, H, Dh;
};

Var composite_attention(Var q, Var k, Var v, double scale) {
  const std::initializer_list<int> heads_first = {0, 2, 1, 3};
  Var scores = matmul(permute(q, heads_first), permute(k, heads_first), false, true) * scale;
  Var p = softmax(causal_mask(scores, -std::numeric_limits<double>::infinity()));
  return permute(matmul(p, permute(v, heads_first)), heads_first);
}

// q, k, v and the output cotangent: standard normal [B, T, H, Dh] tensors.
std::vector<Tensor> random_inputs(const Shape4& s) {
  std::mt19937_64 rng(1);
  std::normal_distribution<float> normal;
  std::vector<Tensor> inputs;
  for (int i = 0; i < 4; ++i) {
    inputs.push_back(Tensor::zeros({s.B, s.T, s.H, s.Dh}, DType::F32));
    for (float& x : inputs.back().span<float>()) x = normal(rng);
  }
  return inputs;
}

bench::Timing measure(const Shape4& s, bool fused, double min_seconds) {
  std::vector<Tensor> inputs = random_inputs(s);
  const Tensor cot = inputs.back();
  inputs.pop_back();
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.Dh));
  return bench::measure(inputs, cot, [&](std::vector<Var>& v) {
    return fused ? attention(v[0], v[1], v[2], scale) : composite_attention(v[0], v[1], v[2], scale);
  }, min_seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  set_num_threads(1);
  std::printf("bench_attention: causal attention, float32, 1 thread, isa=%s (milliseconds, fastest call; "
              "fwd+bwd computes dq, dk, dv)\n",
              std::string(mad::kernels::isa_name(mad::kernels::active_isa())).c_str());
  std::printf("%4s %5s %3s %4s | %10s %10s %9s | %10s %10s %9s | %7s %7s\n", "B", "T", "H", "Dh", "fused fwd",
              "fwd+bwd", "MiB", "comp fwd", "fwd+bwd", "MiB", "x fwd", "x f+b");
  const Shape4 shapes[] = {{16, 128, 16, 8}, {16, 512, 16, 8}, {16, 1024, 16, 8}, {16, 128, 1, 128}};
  for (const Shape4& s : shapes) {
    const bench::Timing f = measure(s, true, min_seconds), c = measure(s, false, min_seconds);
    std::printf("%4lld %5lld %3lld %4lld | %10.2f %10.2f %9.1f | %10.2f %10.2f %9.1f | %7.2f %7.2f\n",
                static_cast<long long>(s.B), static_cast<long long>(s.T), static_cast<long long>(s.H),
                static_cast<long long>(s.Dh), f.forward_ms, f.forward_backward_ms, f.high_water / 1048576.0,
                c.forward_ms, c.forward_backward_ms, c.high_water / 1048576.0, c.forward_ms / f.forward_ms,
                c.forward_backward_ms / f.forward_backward_ms);
  }
  return 0;
}
