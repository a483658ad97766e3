// Token datasets as plain int32 matrices, independent of any tensor type (the trainer converts).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mad::tasks {

// Target value of positions that carry no loss (PyTorch's ignore_index, as in the reference).
inline constexpr int32_t kIgnoreIndex = -100;

// A row-major [rows, cols] matrix of token ids: one sequence per row.
struct TokenMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int32_t> data;

  TokenMatrix() = default;
  TokenMatrix(int64_t rows_, int64_t cols_)
      : rows(rows_), cols(cols_), data(static_cast<size_t>(rows_ * cols_)) {}

  std::span<int32_t> row(int64_t r) { return {data.data() + r * cols, static_cast<size_t>(cols)}; }
  std::span<const int32_t> row(int64_t r) const {
    return {data.data() + r * cols, static_cast<size_t>(cols)};
  }
  friend bool operator==(const TokenMatrix&, const TokenMatrix&) = default;
};

}  // namespace mad::tasks
