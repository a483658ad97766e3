// Microbenchmarks of this instruction set's arithmetic peak, compiled once per set: the rate of
// independent multiply-adds in the widest vectors, which no matrix product can beat (mad bench and
// bench/bench_gemm.cpp report SGEMM as a fraction of it), and on avx512bf16 the rate of VDPBF16PS, which
// decides whether the bf16 products use it (kernels/isa.cpp).
//
// Twelve independent accumulators cover the latency of every FMA unit we know of (4-5 cycles, 2 units);
// an empty asm statement keeps the compiler from folding the loop.
#include <chrono>
#include <cstdint>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/isa/isa_exports.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

constexpr int kChains = 12;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// flops / seconds of `body` run `iterations` times, best of three (a shared machine's noise only slows).
template <class Body>
double best_rate(int64_t iterations, double flops_per_iteration, Body body) {
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto start = std::chrono::steady_clock::now();
    body(iterations);
    const double s = seconds_since(start);
    if (s > 0 && flops_per_iteration * double(iterations) / s > best) best = flops_per_iteration * double(iterations) / s;
  }
  return best / 1e9;
}

}  // namespace

double fma_peak_gflops(int64_t iterations) {
#if defined(__AVX512F__)
  using Vec = __m512;
  constexpr int kLanes = 16;
#elif defined(__AVX2__)
  using Vec = __m256;
  constexpr int kLanes = 8;
#else
  typedef float Vec __attribute__((vector_size(16)));  // SSE2 or NEON
  constexpr int kLanes = 4;
#endif
  volatile float sink = 0;
  const double rate = best_rate(iterations, 2.0 * kLanes * kChains, [&](int64_t n) {
    Vec acc[kChains];
    Vec a = {}, b = {};
    for (int l = 0; l < kLanes; ++l) a[l] = 1.0001f, b[l] = 0.9999f;
    for (int c = 0; c < kChains; ++c) acc[c] = a * float(c);
    for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12
      for (int c = 0; c < kChains; ++c) acc[c] = acc[c] + a * b;  // contracted to an FMA where there is one
      __asm__ volatile("" : "+x"(a));
    }
    float s = 0;
    for (int c = 0; c < kChains; ++c) s += acc[c][0];
    sink = s;
  });
  (void)sink;
  return rate;
}

double bf16_dot_peak_gflops(int64_t iterations) {
#if defined(__AVX512BF16__)
  volatile float sink = 0;
  // Each VDPBF16PS does 16 lanes x 2 products x (multiply + add).
  const double rate = best_rate(iterations, 64.0 * kChains, [&](int64_t n) {
    __m512 acc[kChains];
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = a;  // pairs of 1.0
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
    for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 12
      for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
      __asm__ volatile("" : "+v"(a));
    }
    float s = 0;
    for (int c = 0; c < kChains; ++c) s += acc[c][0];
    sink = s;
  });
  (void)sink;
  return rate;
#else
  (void)iterations;
  return 0;  // no bf16 dot-product instruction in this set
#endif
}

}  // namespace mad::kernels::MAD_ISA_NS
