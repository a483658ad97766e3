// The canonical text of a configuration, and its hash: the identity of a resolved configuration.
//
// The canonical form is JSON with keys sorted and Python's default separators, byte for byte what
// Python's `json.dumps(value, sort_keys=True)` prints for the same data: doubles in their shortest
// round-trip form as Python's repr writes them (0.1, 1.0, 1e-05, 1e+16; NaN, Infinity), non-ASCII
// characters as \uXXXX escapes. So two configurations that mean the same thing hash the same, whatever
// order or spacing their files used, and the hash can be recomputed outside madcpp.
#pragma once

#include <string>

#include "config/value.h"

namespace mad::config {

std::string canonical(const Value& value);

// SHA-256 of canonical(value), as 64 lowercase hex digits.
std::string canonical_hash(const Value& value);

// A double as Python's repr() writes it: shortest text that reads back to the same double, always with a
// '.' or an exponent (1.0, not 1).
std::string format_double(double value);

}  // namespace mad::config
