// Shapes: up to kMaxRank dimensions, stored inline (no heap), row-major.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

#include "core/error.h"

namespace mad {

inline constexpr int kMaxRank = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(std::span<const int64_t>(dims.begin(), dims.size())); }
  explicit Shape(std::span<const int64_t> dims) { assign(dims); }

  int rank() const { return rank_; }
  int64_t operator[](int axis) const { return dims_[static_cast<size_t>(norm_axis(axis))]; }
  int64_t& operator[](int axis) { return dims_[static_cast<size_t>(norm_axis(axis))]; }
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
  }
  // Product of dimensions [begin, end).
  int64_t prod(int begin, int end) const {
    int64_t n = 1;
    for (int i = begin; i < end; ++i) n *= dims_[static_cast<size_t>(i)];
    return n;
  }
  // Negative axes count from the end, as in numpy.
  int norm_axis(int axis) const {
    const int a = axis < 0 ? axis + rank_ : axis;
    MAD_CHECK(a >= 0 && a < rank_, "axis {} is out of range for a tensor of shape {}", axis, str());
    return a;
  }
  void push_back(int64_t d) {
    MAD_CHECK(rank_ < kMaxRank, "tensors have at most {} dimensions", kMaxRank);
    dims_[static_cast<size_t>(rank_++)] = d;
  }
  Shape with(int axis, int64_t d) const {
    Shape s = *this;
    s[axis] = d;
    return s;
  }

  bool operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if (dims_[static_cast<size_t>(i)] != o.dims_[static_cast<size_t>(i)]) return false;
    return true;
  }

  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) s += (i ? ", " : "") + std::to_string(dims_[static_cast<size_t>(i)]);
    return s + "]";
  }

 private:
  void assign(std::span<const int64_t> dims) {
    MAD_CHECK(dims.size() <= kMaxRank, "tensors have at most {} dimensions, got {}", kMaxRank, dims.size());
    rank_ = static_cast<int>(dims.size());
    int64_t n = 1;
    for (size_t i = 0; i < dims.size(); ++i) {
      MAD_CHECK(dims[i] >= 0, "negative dimension {} in a shape (a size that overflowed?); use smaller sizes", dims[i]);
      dims_[i] = dims[i];
      // numel() and prod() then never overflow.
      MAD_CHECK(!__builtin_mul_overflow(n, dims[i], &n), "a tensor of shape {} has more than 2^63 elements; use smaller sizes",
                str());
    }
  }

  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// numpy broadcasting of two shapes; `op` names the caller in the error.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace mad

template <>
struct fmt::formatter<mad::Shape> : fmt::formatter<std::string> {
  auto format(const mad::Shape& s, fmt::format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
