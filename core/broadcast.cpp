#include "core/broadcast.h"

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
      for (int64_t i = 0; i < g_out.numel(); ++i) gi[i] += go[i];
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
