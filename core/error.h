// Errors: one exception type and a check macro whose message names the function and the cause.
//
// Every precondition in madcpp is a MAD_CHECK with a message that a researcher can act on: which op or
// setting, the shapes or values involved, and the likely fix. The CLI prints `what()` as one line.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace mad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& message) { throw Error(message); }

}  // namespace mad

// MAD_CHECK(cond, "fmt", args...): throws mad::Error with the formatted message when cond is false.
#define MAD_CHECK(cond, ...)                                  \
  do {                                                        \
    if (!(cond)) [[unlikely]] ::mad::fail(fmt::format(__VA_ARGS__)); \
  } while (0)
