// Benchmark: our packed SGEMM (kernels/sgemm.h), float32 and bf16, one thread, against the FMA peak of the
// active instruction set (MAD_ISA picks it), on the products
// a training step of the MAD transformer makes at batch 128, L = 127 (16256 tokens), width 128: the Linear
// forwards (x W^T), the input gradients (dY W) and the weight gradients (dY^T x), and the issue's
// [16256 x 128] x [128 x 512]. Prints GFLOP/s (fastest of repeated calls; other processes only add time).
// It never asserts on timings.
//
// Usage: bench_gemm [min_seconds_per_measurement=0.5] [M N K tA tB]   (the last five: that product only)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kernels/isa.h"
#include "kernels/isa/kernel_table.h"
#include "kernels/sgemm.h"

namespace {

struct Product {
  const char* what;
  int64_t M, N, K;
  bool ta, tb;
};

template <typename Fn>
double best_gflops(const Product& p, double min_seconds, Fn&& fn) {
  using clock = std::chrono::steady_clock;
  double best = 1e300, total = 0;
  for (int round = 0; round < 3 || total < min_seconds; ++round) {
    const auto start = clock::now();
    fn();
    const double s = std::chrono::duration<double>(clock::now() - start).count();
    if (round > 0) best = std::min(best, s);  // round 0: first touch of the buffers
    total += s;
  }
  return 2.0 * static_cast<double>(p.M * p.N * p.K) / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  namespace k = mad::kernels;
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int64_t T = 16256, D = 128, F = 352;  // tokens, width, swiglu inner width
  const Product model_products[] = {
      {"x[T,D] * W[D,4D] (issue)", T, 4 * D, D, false, false},
      {"qkv: x W^T", T, 3 * D, D, false, true},
      {"w1: x W^T", T, F, D, false, true},
      {"w3: h W^T", T, D, F, false, true},
      {"w3 dX: dY W", T, F, D, false, false},
      {"w1 dX: dY W", T, D, F, false, false},
      {"w1 dW: dY^T x", F, D, T, true, false},
      {"w3 dW: dY^T h", D, F, T, true, false},
      {"attention tile: q k^T", 64, 64, 8, false, true},
  };
  std::vector<Product> products(std::begin(model_products), std::end(model_products));
  if (argc == 7) {
    products = {{"given", std::atol(argv[2]), std::atol(argv[3]), std::atol(argv[4]), std::atoi(argv[5]) != 0,
                 std::atoi(argv[6]) != 0}};
    const Product& g = products[0];
    const auto fits = [](int64_t a, int64_t b) { return a > 0 && b > 0 && a <= (int64_t{1} << 28) / b; };
    if (!fits(g.M, g.K) || !fits(g.K, g.N) || !fits(g.M, g.N)) {
      std::fprintf(stderr, "bench_gemm: M, N, K must be positive with each operand at most 2^28 floats\n");
      return 2;
    }
  } else if (argc > 2) {
    std::fprintf(stderr, "usage: bench_gemm [min_seconds=0.5] [M N K tA tB]\n");
    return 2;
  }
  const k::KernelTable& table = k::active_kernels();
  const double peak = table.fma_peak_gflops(2000000), bf16_peak = table.bf16_dot_peak_gflops(2000000);
  std::printf("bench_gemm: 1 thread, isa=%s, FMA peak %.1f GFLOP/s", std::string(k::isa_name(table.isa)).c_str(), peak);
  if (bf16_peak > 0) std::printf(", VDPBF16PS peak %.1f GFLOP/s", bf16_peak);
  std::printf(" (microbenchmarks, kernels/isa/peak.cpp); GFLOP/s of the fastest call\n");
  std::printf("%-28s %6s %6s %6s %3s %3s %9s %7s %9s %7s\n", "product", "M", "N", "K", "tA", "tB", "f32", "% peak",
              "bf16", "bf16/f32");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  for (const Product& p : products) {
    std::vector<float> A(static_cast<size_t>(p.M * p.K)), B(static_cast<size_t>(p.K * p.N)), C(static_cast<size_t>(p.M * p.N));
    for (float& x : A) x = dist(rng);
    for (float& x : B) x = dist(rng);
    const int64_t lda = p.ta ? p.M : p.K, ldb = p.tb ? p.K : p.N;
    const double f32 = best_gflops(p, min_seconds, [&] {
      k::sgemm(p.M, p.N, p.K, A.data(), lda, p.ta, B.data(), ldb, p.tb, C.data(), p.N, false);
    });
    const double bf16 = best_gflops(p, min_seconds, [&] {
      k::sgemm_bf16(p.M, p.N, p.K, A.data(), lda, p.ta, B.data(), ldb, p.tb, C.data(), p.N, false);
    });
    std::printf("%-28s %6lld %6lld %6lld %3d %3d %9.1f %6.1f%% %9.1f %7.2f\n", p.what, static_cast<long long>(p.M),
                static_cast<long long>(p.N), static_cast<long long>(p.K), p.ta, p.tb, f32, 100 * f32 / peak, bf16,
                bf16 / f32);
  }
  return 0;
}
