// Precondition checks for kernels/ (which depends on nothing else of ours, so it cannot use core/error.h).
//
// A failed check throws std::invalid_argument whose message names the kernel, the sizes involved and the
// likely cause. Checks run once per call on sizes only, never inside loops, so they cost nothing.
#pragma once

#include <stdexcept>
#include <string>

namespace mad::kernels::detail {

[[noreturn]] inline void fail(const std::string& message) { throw std::invalid_argument(message); }

}  // namespace mad::kernels::detail

// MAD_KERNEL_CHECK(cond, message): throws std::invalid_argument(message) when cond is false. The message
// expression is evaluated only on failure.
#define MAD_KERNEL_CHECK(cond, message)      \
  do {                                       \
    if (!(cond)) [[unlikely]]                \
      ::mad::kernels::detail::fail(message); \
  } while (0)
