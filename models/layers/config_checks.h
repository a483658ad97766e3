// Reading a layer's settings with the one-line error every layer gives for an impossible value.
#pragma once

#include <cstdint>

#include "config/value.h"
#include "core/error.h"

namespace mad::models {

// The integer setting c[key], which must be >= min; otherwise "file:line: key: must be >= min, got v".
inline int64_t int_at_least(const config::Value& c, const char* key, int64_t min) {
  const int64_t v = c.get<int64_t>(key);
  MAD_CHECK(v >= min, "{}: must be >= {}, got {}", c.at(key).where(), min, v);
  return v;
}

}  // namespace mad::models
