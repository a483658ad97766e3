// Benchmark: the selective_scan op (Mamba's S6) at the MAD training shape of a default mamba layer (batch
// 128, T = 127, E = 256 channels, d_state 4), float32, one and two threads, against the step-by-step
// recurrence built from primitive ops (the test oracle) at one thread. Prints forward and forward+backward
// milliseconds (fastest call) and the arena high-water mark. It never asserts on timings.
//
// Usage: bench_selective_scan [min_seconds_per_measurement=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include <string>

#include "kernels/isa.h"
#include "bench/op_timing.h"
#include "core/ops.h"
#include "core/parallel.h"

namespace {

using namespace mad;
using bench::measure;
using bench::print;

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::zeros(shape, DType::F32);
  for (float& x : t.span<float>()) x = dist(rng);
  return t;
}

// The oracle: h = exp(dt A) h + dt x B, y = sum_n C h, one time step per group of ops.
Var recurrent(std::vector<Var>& v) {
  Var x = v[0], dt = v[1], A = v[2], Bm = v[3], Cm = v[4];
  const int64_t B = x.dim(0), T = x.dim(1), C = x.dim(2), N = A.dim(1);
  Var h;
  std::vector<Var> ys;
  for (int64_t t = 0; t < T; ++t) {
    Var dtt = reshape(slice(dt, 1, t, t + 1), {B, C, 1});
    Var input = dtt * reshape(slice(x, 1, t, t + 1), {B, C, 1}) * reshape(slice(Bm, 1, t, t + 1), {B, 1, N});
    h = h.defined() ? exp(dtt * A) * h + input : input;
    ys.push_back(reshape(sum(h * reshape(slice(Cm, 1, t, t + 1), {B, 1, N}), 2), {B, 1, C}));
  }
  return concat(ys, 1);
}

}  // namespace

int main(int argc, char** argv) {
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  const int64_t B = 128, T = 127, C = 256, N = 4;
  std::printf("bench_selective_scan: float32, isa=%s, B=%lld T=%lld C=%lld N=%lld (milliseconds, fastest call)\n",
              std::string(mad::kernels::isa_name(mad::kernels::active_isa())).c_str(), static_cast<long long>(B), static_cast<long long>(T), static_cast<long long>(C),
              static_cast<long long>(N));
  std::printf("%-28s | %10s %10s %9s\n", "form", "fwd", "fwd+bwd", "MiB");
  const std::vector<Tensor> in = {random_tensor({B, T, C}, 1, -1, 1), random_tensor({B, T, C}, 2, 0.001f, 0.1f),
                                  random_tensor({C, N}, 3, -4, -1), random_tensor({B, T, N}, 4, -1, 1),
                                  random_tensor({B, T, N}, 5, -1, 1)};
  const Tensor cot = random_tensor({B, T, C}, 6, -1, 1);
  auto op = [](std::vector<Var>& v) { return selective_scan(v[0], v[1], v[2], v[3], v[4]); };
  set_num_threads(1);
  print("selective_scan, 1 thread", measure(in, cot, op, min_seconds));
  set_num_threads(2);
  print("selective_scan, 2 threads", measure(in, cot, op, min_seconds));
  set_num_threads(1);
  print("recurrent oracle, 1 thread", measure(in, cot, recurrent, 0.0));
  return 0;
}
