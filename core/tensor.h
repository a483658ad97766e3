// Tensor: a dtype, a shape and a pointer to contiguous row-major elements.
//
// A tensor either owns heap storage (shared among its views, freed with the last one) or borrows memory
// it does not own: the step arena, the parameter block, a caller's buffer. Copying a Tensor copies the
// handle, never the elements; reshape() and rows() return views of the same memory.
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/shape.h"

namespace mad {

class Tensor {
 public:
  Tensor() = default;

  // Heap-owned, zero-filled.
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  // Heap-owned copy of `values` with the given shape (numel must match).
  template <typename T>
  static Tensor from(const Shape& shape, std::span<const T> values);
  template <typename T>
  static Tensor from(const Shape& shape, std::initializer_list<T> values) {
    return from<T>(shape, std::span<const T>(values.begin(), values.size()));
  }
  // Uninitialised memory from an arena, valid until the arena's reset().
  static Tensor in_arena(Arena& arena, const Shape& shape, DType dtype);
  // A view of memory owned elsewhere.
  static Tensor borrow(void* data, const Shape& shape, DType dtype) { return Tensor(data, shape, dtype, nullptr); }

  bool defined() const { return data_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int axis) const { return shape_[axis]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  template <typename T>
  T* data() const {
    MAD_CHECK(dtype_of<T>() == dtype_, "tensor of dtype {} accessed as {}", dtype_name(dtype_),
              dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }
  void* raw() const { return data_; }
  template <typename T>
  std::span<T> span() const { return {data<T>(), static_cast<size_t>(numel())}; }

  // A view with another shape of the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // A view of rows [begin, end) of the first axis.
  Tensor rows(int64_t begin, int64_t end) const;

  void fill_zero() const { if (data_) std::memset(data_, 0, nbytes()); }
  template <typename T>
  void fill(T value) const { for (T& x : span<T>()) x = value; }
  // Copies elements from a tensor of the same dtype and element count.
  void copy_from(const Tensor& src) const;
  // A heap-owned deep copy, optionally converted to another float dtype.
  Tensor clone() const { return to(dtype_); }
  Tensor to(DType dtype) const;

  template <typename T>
  std::vector<T> to_vector() const { auto s = span<T>(); return {s.begin(), s.end()}; }
  // Element `i` of a float tensor as double (for tests and printing).
  double item(int64_t i = 0) const;

 private:
  Tensor(void* data, const Shape& shape, DType dtype, std::shared_ptr<std::byte> owner)
      : data_(data), shape_(shape), dtype_(dtype), owner_(std::move(owner)) {}

  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  std::shared_ptr<std::byte> owner_;
};

template <typename T>
Tensor Tensor::from(const Shape& shape, std::span<const T> values) {
  MAD_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
            "Tensor::from: {} values do not fill shape {}", values.size(), shape.str());
  Tensor t = zeros(shape, dtype_of<T>());
  std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
  return t;
}

}  // namespace mad
