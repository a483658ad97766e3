// Sizes computed before anything large is allocated: checked (overflow-detecting) int64 arithmetic and
// the process's memory budget.
//
// Every size that comes from user input (a spec's dim, d_state, a task's vocab_size, ...) is multiplied
// with checked_mul, so an overflow is a one-line error naming the quantity, never a wrapped negative
// dimension, a parameter count printed wrong, or std::bad_alloc. The budget (default: 80% of the
// machine's physical memory; `mad --max-memory SIZE`, a global option of every command) is checked by
// check_memory before the parameter block, a dataset or any tensor is allocated, so an oversized setting
// stops the command in one line that names the size, what needs it and the knob to turn.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace mad {

// a * b, a + b for sizes (a, b >= 0); throws mad::Error "<what> overflows 64-bit integers ..." on overflow.
inline int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  MAD_CHECK(!__builtin_mul_overflow(a, b, &r), "{} = {} x {} overflows 64-bit integers; use smaller sizes", what, a, b);
  return r;
}
inline int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t r = 0;
  MAD_CHECK(!__builtin_add_overflow(a, b, &r), "{} = {} + {} overflows 64-bit integers; use smaller sizes", what, a, b);
  return r;
}

// The memory budget in bytes: set_memory_budget's value, else 80% of physical memory.
int64_t memory_budget();
// 0 restores the default.
void set_memory_budget(int64_t bytes);
// "--max-memory 4G" style text: a number with an optional K, M, G or T suffix (powers of 1024), or a
// percentage of physical memory ("50%"). Throws mad::Error naming the bad text.
int64_t parse_memory_size(const std::string& text);
// "12.3 GiB"
std::string format_bytes(int64_t bytes);

// Throws mad::Error when `bytes` exceed the budget:
//   "<what> needs 74.5 GiB, more than the memory budget of 19.2 GiB (--max-memory); <fix>"
void check_memory(int64_t bytes, std::string_view what, std::string_view fix);

}  // namespace mad
