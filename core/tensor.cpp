#include "core/tensor.h"

#include "core/budget.h"

namespace mad {

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  const auto bytes = static_cast<size_t>(checked_mul(shape.numel(), static_cast<int64_t>(dtype_size(dtype)), "tensor bytes"));
  AlignedPtr memory = aligned_alloc_bytes(bytes);
  std::memset(memory.get(), 0, bytes);
  std::byte* p = memory.get();
  return Tensor(p, shape, dtype, std::shared_ptr<std::byte>(memory.release(), AlignedFree{}));
}

Tensor Tensor::in_arena(Arena& arena, const Shape& shape, DType dtype) {
  const auto bytes = static_cast<size_t>(checked_mul(shape.numel(), static_cast<int64_t>(dtype_size(dtype)), "tensor bytes"));
  return Tensor(arena.allocate(bytes), shape, dtype, nullptr);
}

Tensor Tensor::reshape(const Shape& shape) const {
  MAD_CHECK(shape.numel() == numel(), "reshape: cannot view a tensor of shape {} ({} elements) as {} ({} elements)",
            shape_.str(), numel(), shape.str(), shape.numel());
  return Tensor(data_, shape, dtype_, owner_);
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  MAD_CHECK(rank() >= 1 && 0 <= begin && begin <= end && end <= dim(0),
            "rows: range [{}, {}) is outside the first axis of shape {}", begin, end, shape_.str());
  const int64_t row = shape_.prod(1, rank());
  return Tensor(static_cast<std::byte*>(data_) + static_cast<size_t>(begin * row) * dtype_size(dtype_),
                shape_.with(0, end - begin), dtype_, owner_);
}

void Tensor::copy_from(const Tensor& src) const {
  MAD_CHECK(src.dtype_ == dtype_ && src.numel() == numel(), "copy_from: cannot copy {} {} into {} {}",
            dtype_name(src.dtype_), src.shape_.str(), dtype_name(dtype_), shape_.str());
  if (nbytes()) std::memmove(data_, src.data_, nbytes());
}

Tensor Tensor::to(DType dtype) const {
  Tensor out = zeros(shape_, dtype);
  if (dtype == dtype_) {
    out.copy_from(*this);
    return out;
  }
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) {
    const double v = item(i);
    switch (dtype) {
      case DType::F32: out.data<float>()[i] = static_cast<float>(v); break;
      case DType::F64: out.data<double>()[i] = v; break;
      case DType::I32: out.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    }
  }
  return out;
}

double Tensor::item(int64_t i) const {
  MAD_CHECK(i >= 0 && i < numel(), "item: index {} outside a tensor of {} elements", i, numel());
  switch (dtype_) {
    case DType::F32: return static_cast<float*>(data_)[i];
    case DType::F64: return static_cast<double*>(data_)[i];
    case DType::I32: return static_cast<int32_t*>(data_)[i];
  }
  return 0;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  int64_t dims[kMaxRank];
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i, ib = b.rank() - rank + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    MAD_CHECK(da == db || da == 1 || db == 1,
              "{}: shapes {} and {} do not broadcast (axis {} has sizes {} and {}); "
              "reshape one operand so that its sizes equal the other's or are 1",
              op, a.str(), b.str(), i - rank, da, db);
    dims[i] = da == 1 ? db : da;
  }
  return Shape(std::span<const int64_t>(dims, static_cast<size_t>(rank)));
}

}  // namespace mad
