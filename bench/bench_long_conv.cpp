// Benchmark: direct vs FFT causal long convolution, forward and backward (dx and dh), B=4, C=64,
// L = 16..1024, float and double, single thread. Prints a table with the faster form and the form the
// dispatcher picks (kernels::long_conv_default_method, a cost model fitted to this table). It never
// asserts on timings.
//
// Usage: bench_long_conv [min_seconds_per_length=0.5]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/long_conv.h"

namespace {

using namespace mad::kernels;

// Fastest single call of each function in microseconds. The calls are interleaved (one call of each
// per round, rounds repeated for at least 5 rounds and min_seconds) so that all candidates see the same
// machine, and the minimum is kept, not the mean: on a shared machine other processes only ever add
// time, so the fastest call is the best estimate of a kernel's own cost.
template <std::size_t K>
std::array<double, K> fastest_calls_us(const std::array<std::function<void()>, K>& fns, double min_seconds) {
  using clock = std::chrono::steady_clock;
  for (const auto& fn : fns) fn();  // warm up caches and page in buffers
  std::array<double, K> best;
  best.fill(1e300);
  double total = 0;
  for (int round = 0; round < 5 || total < min_seconds; ++round) {
    for (std::size_t i = 0; i < K; ++i) {
      const auto start = clock::now();
      fns[i]();
      const double seconds = std::chrono::duration<double>(clock::now() - start).count();
      best[i] = std::min(best[i], 1e6 * seconds);
      total += seconds;
    }
  }
  return best;
}

template <typename T>
void bench(const char* type_name, double min_seconds) {
  const std::size_t B = 4, C = 64;
  std::printf("\n%s, B=%zu, C=%zu (microseconds, fastest call; bwd computes dx and dh)\n", type_name, B, C);
  std::printf("%6s %6s | %10s %10s %10s | %10s %10s %10s | %7s %7s %s\n", "L", "N", "direct fwd", "bwd",
              "fwd+bwd", "fft fwd", "bwd", "fwd+bwd", "ratio", "faster", "dispatcher");
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> dist(-1, 1);
  const std::size_t lengths[] = {16,  24,  32,  48,  64,  96,  112, 120, 128,
                                 160, 176, 192, 224, 256, 384, 512, 768, 1024};
  for (const std::size_t L : lengths) {
    std::vector<T> x(B * L * C), h(L * C), dy(B * L * C), y(B * L * C), dx(B * L * C), dh(L * C);
    for (auto* v : {&x, &h, &dy})
      for (T& e : *v) e = static_cast<T>(dist(rng));
    const RealFftPlan<T> plan(long_conv_fft_size(L));
    std::vector<T> scratch(long_conv_fft_backward_scratch_size<T>(L, C));

    const std::array<std::function<void()>, 4> calls = {
        [&] { long_conv_direct_forward(x.data(), h.data(), y.data(), B, L, C); },
        [&] { long_conv_direct_backward(x.data(), h.data(), dy.data(), dx.data(), dh.data(), B, L, C); },
        [&] { long_conv_fft_forward(plan, x.data(), h.data(), y.data(), B, L, C, scratch.data()); },
        [&] {
          long_conv_fft_backward(plan, x.data(), h.data(), dy.data(), dx.data(), dh.data(), B, L, C,
                                 scratch.data());
        }};
    const auto [dfwd, dbwd, ffwd, fbwd] = fastest_calls_us(calls, min_seconds);
    const double direct = dfwd + dbwd, fft = ffwd + fbwd;
    const bool dispatcher_fft = long_conv_default_method<T>(L) == LongConvMethod::fft;
    std::printf("%6zu %6zu | %10.1f %10.1f %10.1f | %10.1f %10.1f %10.1f | %7.2f %7s %s\n", L, plan.size(),
                dfwd, dbwd, direct, ffwd, fbwd, fft, direct / fft, direct <= fft ? "direct" : "fft",
                dispatcher_fft ? "fft" : "direct");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  std::printf("bench_long_conv: single thread, isa=%s\n", std::string(mad::kernels::isa_name(mad::kernels::active_isa())).c_str());
  bench<float>("float32", min_seconds);
  bench<double>("float64", min_seconds);
  return 0;
}
