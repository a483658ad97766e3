// Broadcasting, handled once: a strided loop over an output shape with the matching offsets of up to two
// broadcast inputs, and the one function that reduces a gradient back to a broadcast input's shape.
#pragma once

#include "core/shape.h"
#include "core/tensor.h"

namespace mad {

// Walks `out` row by row (rows of the last dimension) and reports, for each row, the element offsets in
// two inputs whose shapes broadcast to `out` (stride 0 along broadcast dimensions).
class BroadcastLoop {
 public:
  BroadcastLoop(const Shape& out, const Shape& a, const Shape& b);

  // fn(out_offset, a_offset, b_offset, n, a_stride, b_stride) for each row of n elements.
  template <typename Fn>
  void for_each_row(Fn&& fn) const {
    const int64_t inner = rank_ ? dims_[rank_ - 1] : 1;
    const int64_t sa = rank_ ? sa_[rank_ - 1] : 0, sb = rank_ ? sb_[rank_ - 1] : 0;
    const int64_t rows = inner ? total_ / inner : 0;
    int64_t idx[kMaxRank] = {};
    int64_t oa = 0, ob = 0;
    for (int64_t r = 0; r < rows; ++r) {
      fn(r * inner, oa, ob, inner, sa, sb);
      // Increment the multi-index over the outer dimensions (odometer), updating offsets incrementally.
      for (int d = rank_ - 2; d >= 0; --d) {
        oa += sa_[d];
        ob += sb_[d];
        if (++idx[d] < dims_[d]) break;
        oa -= sa_[d] * dims_[d];
        ob -= sb_[d] * dims_[d];
        idx[d] = 0;
      }
    }
  }

 private:
  int rank_ = 0;
  int64_t total_ = 0;
  int64_t dims_[kMaxRank] = {};
  int64_t sa_[kMaxRank] = {}, sb_[kMaxRank] = {};
};

// g_in += g_out summed over the dimensions along which g_in's shape was broadcast to g_out's shape.
// g_in's shape must broadcast to g_out's. Sums run in a fixed order (deterministic).
void accumulate_unbroadcast(const Tensor& g_out, const Tensor& g_in);

}  // namespace mad
