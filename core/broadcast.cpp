#include "core/broadcast.h"

#include <algorithm>

#include "core/parallel.h"

namespace mad {

namespace {
// Strides of `in` aligned to an output of rank `rank`; 0 where `in` is broadcast.
void aligned_strides(const Shape& in, int rank, const int64_t* out_dims, int64_t* strides) {
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int din = in.rank() - rank + d;
    const int64_t size = din >= 0 ? in[din] : 1;
    strides[d] = (size == 1 && out_dims[d] != 1) ? 0 : stride;
    stride *= size;
  }
}
// n > 0 when `in`, without leading 1s, is the last dimensions of `out` and has n elements: `in` then
// repeats unchanged along every row of n elements of `out`. 0 otherwise.
int64_t trailing_block(const Shape& out, const Shape& in) {
  int lead = 0;
  while (lead < in.rank() && in[lead] == 1) ++lead;
  const int rank = in.rank() - lead;
  if (rank == 0 || rank > out.rank()) return 0;
  for (int d = 0; d < rank; ++d)
    if (in[lead + d] != out[out.rank() - rank + d]) return 0;
  return in.numel();
}
}  // namespace

BroadcastLoop::BroadcastLoop(const Shape& out, const Shape& a, const Shape& b) {
  rank_ = out.rank();
  total_ = out.numel();
  for (int d = 0; d < rank_; ++d) dims_[d] = out[d];
  aligned_strides(a, rank_, dims_, sa_);
  aligned_strides(b, rank_, dims_, sb_);
}

void accumulate_unbroadcast(const Tensor& g_out, const Tensor& g_in) {
  MAD_CHECK(broadcast_shapes(g_in.shape(), g_out.shape(), "accumulate_unbroadcast") == g_out.shape(),
            "accumulate_unbroadcast: a gradient of shape {} cannot be reduced to shape {}", g_out.shape().str(),
            g_in.shape().str());
  dispatch_float(g_out.dtype(), "accumulate_unbroadcast", [&]<typename T>() {
    const T* go = g_out.data<T>();
    T* gi = g_in.data<T>();
    if (g_in.shape() == g_out.shape()) {
      parallel_for(g_out.numel(), 1 << 15, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) gi[i] += go[i];
      });
      return;
    }
    if (const int64_t n = trailing_block(g_out.shape(), g_in.shape()); n > 0) {
      // g_in repeats along g_out's rows of n (a bias [n] of [..., n]): column sums. Threads split the
      // columns and each sums its columns over every row in row order, so the result is the serial loop's,
      // bit for bit, on any number of threads.
      const int64_t rows = g_out.numel() / n;
      parallel_for(n, std::max<int64_t>(8, (1 << 15) / std::max<int64_t>(1, rows)), [&](int64_t j0, int64_t j1) {
        for (int64_t r = 0; r < rows; ++r) {
          const T* row = go + r * n;
          for (int64_t j = j0; j < j1; ++j) gi[j] += row[j];
        }
      });
      return;
    }
    BroadcastLoop loop(g_out.shape(), g_in.shape(), g_in.shape());
    loop.for_each_row([&](int64_t o, int64_t a, int64_t, int64_t n, int64_t sa, int64_t) {
      if (sa == 0) {
        T s = 0;
        for (int64_t j = 0; j < n; ++j) s += go[o + j];
        gi[a] += s;
      } else {
        for (int64_t j = 0; j < n; ++j) gi[a + j] += go[o + j];
      }
    });
  });
}

}  // namespace mad
