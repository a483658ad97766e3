// Helpers for LayerEntry::size_options (models/registry.h): the candidate values of a layer's size knobs.
// Layers list generously; models/normalize.cpp drops options that fail to build or duplicate another's
// (state, parameters), so a list need not be pre-filtered beyond what is cheap to check.
#pragma once

#include <cstdint>
#include <vector>

#include "config/value.h"

namespace mad::models {

// The divisors of n that are at most `at_most`, ascending.
inline std::vector<int64_t> divisors(int64_t n, int64_t at_most) {
  std::vector<int64_t> out;
  for (int64_t d = 1; d <= n && d <= at_most; ++d)
    if (n % d == 0) out.push_back(d);
  return out;
}

// `width / dim` as a width factor, when int(dim * factor) gives back exactly `width` (the layers compute
// their widths that way); 0 otherwise.
inline double exact_factor(int64_t width, int64_t dim) {
  const double f = static_cast<double>(width) / static_cast<double>(dim);
  return static_cast<int64_t>(static_cast<double>(dim) * f) == width ? f : 0.0;
}

// A width factor as a config value: an integer when it is one (1, not 1.0, as the default files write it).
inline config::Value factor_value(double f) {
  return f == static_cast<double>(static_cast<int64_t>(f)) ? config::Value(static_cast<int64_t>(f)) : config::Value(f);
}

// The linear-attention family's knobs (linear and gated linear attention): `num_heads` among the divisors of
// `dim`, and the key and value width factors `expand_k`, `expand_v` from 1/4 to 4.
inline std::vector<config::Value> heads_and_key_value_widths(const config::Value& config, int64_t dim) {
  std::vector<config::Value> out;
  for (double ek : {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0})
    for (double ev : {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0})
      for (int64_t h : divisors(dim, dim)) {
        out.push_back(config);
        out.back().set("expand_k", factor_value(ek));
        out.back().set("expand_v", factor_value(ev));
        out.back().set("num_heads", config::Value(h));
      }
  return out;
}

}  // namespace mad::models
