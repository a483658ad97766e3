#include "results/seed_stats.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"

namespace mad::results {
namespace {

double mean_of(std::span<const double> values) {
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The q-quantile of sorted values, interpolating linearly between order statistics.
double quantile(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const auto i = static_cast<size_t>(std::floor(h));
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (h - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

}  // namespace

SeedStats seed_stats(std::span<const double> values) {
  SeedStats s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  const double mean = mean_of(values);
  s.mean = mean;
  if (values.size() < 2) return s;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  s.std = std::sqrt(squares / static_cast<double>(values.size() - 1));

  std::mt19937_64 rng(kBootstrapSeed);
  const uint64_t n = values.size();
  std::vector<double> means(kBootstrapResamples);
  for (double& m : means) {
    double sum = 0;
    for (uint64_t k = 0; k < n; ++k) {
      const auto index = static_cast<size_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
      sum += values[index];
    }
    m = sum / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  s.ci_low = quantile(means, 0.025);
  s.ci_high = quantile(means, 0.975);
  return s;
}

PairedDifference paired_difference(std::span<const double> a, std::span<const double> b) {
  MAD_CHECK(a.size() == b.size(), "paired_difference: {} values of A but {} of B; pair them by seed first", a.size(),
            b.size());
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = b[i] - a[i];
  PairedDifference p;
  p.stats = seed_stats(d);
  p.excludes_zero = p.stats.ci_low && (*p.stats.ci_low > 0 || *p.stats.ci_high < 0);
  return p;
}

}  // namespace mad::results
