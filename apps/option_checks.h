// Range checks for numeric command-line options. CLI11 runs them on the text the user gave (defaults are
// not checked), before converting it, so `--jobs 0` ends the command with one line:
//   mad: error: --jobs: must be an integer in [1, 1024], got '0' (see 'mad --help')
// and exit code 2, instead of being read as "automatic" or clamped silently. Include only from the
// cmd_*.cpp files, which include CLI11 anyway.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace mad::cli {

// An integer in [min, max]; out-of-range text (also beyond int64) is refused, not wrapped.
inline CLI::Validator int_in(int64_t min, int64_t max = INT64_MAX) {
  const std::string range = max == INT64_MAX ? fmt::format(">= {}", min) : fmt::format("in [{}, {}]", min, max);
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
          return fmt::format("must be an integer {}, got '{}'", range, text);
        return "";
      },
      "INT " + range);
}

// A finite real number > 0 (learning rates, seconds, GFLOP/s), or >= 0 with `allow_zero`.
inline CLI::Validator real_positive(bool allow_zero = false) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
          return fmt::format("must be a finite number {} 0, got '{}'", allow_zero ? ">=" : ">", text);
        return "";
      },
      allow_zero ? "REAL >= 0" : "REAL > 0");
}

// Threads and worker processes: beyond this a typo (--jobs 10000) would fork a process storm.
inline constexpr int64_t kMaxWorkers = 1024;

}  // namespace mad::cli
