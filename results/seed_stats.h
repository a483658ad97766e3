// Statistics over seeds, for scores that come with error bars: the mean, the sample standard deviation
// and a 95% percentile-bootstrap confidence interval of the mean, and for two architectures trained on
// the same seeds the mean difference with a paired bootstrap interval.
//
// The bootstrap draws kBootstrapResamples resamples (seeds drawn with replacement) from a std::mt19937_64
// seeded with kBootstrapSeed, whose output the C++ standard fixes, and maps each draw to an index with a
// multiply-shift (not std::uniform_int_distribution, whose algorithm is the library's choice): the same
// values give the same interval on every machine and every run. The interval's ends are the 2.5% and
// 97.5% quantiles of the resampled means (linear interpolation between order statistics).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace mad::results {

inline constexpr uint64_t kBootstrapSeed = 12345;
inline constexpr int kBootstrapResamples = 10000;

struct SeedStats {
  int64_t n = 0;                           // values (seeds)
  std::optional<double> mean;              // nullopt for no value
  std::optional<double> std;               // sample standard deviation (n - 1); nullopt below 2 values
  std::optional<double> ci_low, ci_high;   // 95% bootstrap interval of the mean; nullopt below 2 values
};

SeedStats seed_stats(std::span<const double> values);

// The differences b[i] - a[i] (one pair per seed both have): their statistics, and whether the interval
// excludes 0 (B and A differ beyond the seed-to-seed spread).
struct PairedDifference {
  SeedStats stats;
  bool excludes_zero = false;
};

PairedDifference paired_difference(std::span<const double> a, std::span<const double> b);

}  // namespace mad::results
