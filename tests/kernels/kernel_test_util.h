// Helpers shared by the kernel tests: seeded random buffers, error measures, finite differences and an
// allocation counter (alloc_counter.cpp replaces global operator new in the test executable).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace mad::kernels::testing {

// Uniform values in [-1, 1) from a fixed seed, converted to T.
template <typename T>
std::vector<T> random_vector(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(dist(rng));
  return v;
}

template <typename To, typename From>
std::vector<To> cast_vector(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

// max_i |a_i - b_i| / max(max_i |b_i|, 1e-300): the error relative to the scale of the reference b.
template <typename A, typename B>
double relative_max_error(const std::vector<A>& a, const std::vector<B>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return diff / std::max(scale, 1e-300);
}

// sum_i g_i * y_i: the scalar loss whose gradient with respect to y is g (the cotangent).
inline double dot(const std::vector<double>& g, const std::vector<double>& y) {
  double s = 0;
  for (std::size_t i = 0; i < g.size(); ++i) s += g[i] * y[i];
  return s;
}

// Central differences of loss() with respect to every entry of param (perturbed in place, restored).
inline std::vector<double> finite_difference_gradient(std::vector<double>& param,
                                                      const std::function<double()>& loss,
                                                      double eps = 1e-6) {
  std::vector<double> grad(param.size());
  for (std::size_t i = 0; i < param.size(); ++i) {
    const double saved = param[i];
    param[i] = saved + eps;
    const double up = loss();
    param[i] = saved - eps;
    const double down = loss();
    param[i] = saved;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

// Number of calls to global operator new so far in this process (see alloc_counter.cpp).
std::size_t allocation_count();

}  // namespace mad::kernels::testing
