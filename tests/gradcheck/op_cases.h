// The gradient-check cases of the op table: each case is a small function of float64 inputs that
// exercises one op (or a composite), checked by tests/support/gradcheck.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tests/support/gradcheck.h"

namespace mad::testing {

struct GradCase {
  std::string name;
  GradFn fn;
  std::vector<Tensor> inputs;
  GradCheckOptions options{};
};

std::vector<GradCase> op_cases();

// gtest prints a case by its name (not its bytes) in failure messages.
inline void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

}  // namespace mad::testing
