// Mamba's selective scan on [B, T, C] tensors: the kernel of kernels/selective_scan.h, one (sequence,
// block of kScanBlock channels) per task.
#include <algorithm>

#include "core/ops_common.h"
#include "kernels/selective_scan.h"

namespace mad {
namespace {

// Channels per task. Fixed (not derived from the thread count), so the per-block partial sums of dB and dC
// are the same for any number of threads and the results are bit-identical.
constexpr int64_t kScanBlock = 64;

struct ScanGeometry {
  int64_t B, T, C, N, blocks;
  kernels::SelectiveScanDims dims;
  int64_t tasks() const { return B * blocks; }
  int64_t c0(int64_t task) const { return (task % blocks) * kScanBlock; }
  int64_t c1(int64_t task) const { return std::min(C, c0(task) + kScanBlock); }
  int64_t width() const { return std::min(C, kScanBlock); }
};

ScanGeometry geometry(const Shape& xs, const Shape& As) {
  ScanGeometry g{xs[0], xs[1], xs[2], As[1], (xs[2] + kScanBlock - 1) / kScanBlock, {}};
  g.dims = {g.T, g.C, g.N};
  return g;
}

// One contiguous range of tasks per thread, each thread with its own scratch; every task is computed by one
// thread in one order.
template <typename Fn>
void for_each_task(Tape& tape, const ScanGeometry& g, size_t scratch_per_thread, DType dtype, Fn&& fn) {
  const int64_t chunks = std::min<int64_t>(num_threads(), g.tasks());
  const auto per = static_cast<int64_t>(scratch_per_thread);
  Tensor scratch = tape.alloc(Shape{chunks * per}, dtype);
  dispatch_float(dtype, "selective_scan", [&]<typename T_>() {
    T_* base = scratch.data<T_>();
    parallel_for(chunks, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k)
        for (int64_t i = g.tasks() * k / chunks; i < g.tasks() * (k + 1) / chunks; ++i) fn(i, base + k * per);
    });
  });
}

}  // namespace

Var selective_scan(Var x, Var dt, Var A, Var Bm, Var Cm) {
  Tape& tape = detail::tape_of(x, "selective_scan");
  for (Var v : {dt, A, Bm, Cm}) {
    detail::tape_of(v, "selective_scan");
    detail::check_same_dtype(x, v, "selective_scan");
  }
  const Shape& s = x.shape();
  MAD_CHECK(s.rank() == 3 && dt.shape() == s && A.shape().rank() == 2 && A.dim(0) == s[2] &&
                Bm.shape() == Shape({s[0], s[1], A.dim(1)}) && Cm.shape() == Bm.shape(),
            "selective_scan: needs x, dt [B, T, C], A [C, N], B, C [B, T, N], got x {}, dt {}, A {}, B {}, C {}",
            s.str(), dt.shape().str(), A.shape().str(), Bm.shape().str(), Cm.shape().str());
  const ScanGeometry g = geometry(s, A.shape());
  Tensor out = tape.alloc(s, x.dtype());
  const size_t scratch = kernels::selective_scan_forward_scratch_size(g.dims, g.width());
  for_each_task(tape, g, scratch, x.dtype(), [&]<typename T_>(int64_t i, T_* task_scratch) {
    const int64_t b = i / g.blocks, ox = b * g.T * g.C, on = b * g.T * g.N;
    kernels::selective_scan_forward<T_>(g.dims, g.c0(i), g.c1(i), x.value().template data<T_>() + ox,
                                        dt.value().template data<T_>() + ox, A.value().template data<T_>(),
                                        Bm.value().template data<T_>() + on, Cm.value().template data<T_>() + on,
                                        out.data<T_>() + ox, task_scratch);
  });
  return tape.record(OpId::selective_scan, {x, dt, A, Bm, Cm}, out);
}

void backward_selective_scan(Tape& tape, const Node& n) {
  int32_t id[5];
  for (int k = 0; k < 5; ++k) id[k] = tape.input(n, k);
  const ScanGeometry g = geometry(tape.value(id[0]).shape(), tape.value(id[2]).shape());
  const DType dtype = tape.value(id[0]).dtype();
  // dx and ddt go straight into the gradients (each task owns its channels); dA, dB and dC are summed over
  // channels or sequences, so each task writes its own partial sum: dA per sequence [B, C, N], dB and dC per
  // channel block [blocks, B, T, N]. They are added up below in a fixed order. Gradients of inputs that need
  // none are computed into zeroed arena buffers and dropped. All buffers exist before the threads start.
  auto grad_or_scratch = [&](int32_t i) {
    if (tape.needs_grad(i)) return tape.grad_acc(i);
    Tensor t = tape.alloc(tape.value(i).shape(), dtype);
    t.fill_zero();
    return t;
  };
  const Tensor dx = grad_or_scratch(id[0]), ddt = grad_or_scratch(id[1]);
  Tensor dA_part = tape.alloc(Shape{g.B, g.C, g.N}, dtype), dB_part = tape.alloc(Shape{g.blocks, g.B, g.T, g.N}, dtype),
         dC_part = tape.alloc(Shape{g.blocks, g.B, g.T, g.N}, dtype);
  for (const Tensor* t : {&dA_part, &dB_part, &dC_part}) t->fill_zero();
  const Tensor& dout = tape.grad(n.output);
  const size_t scratch = kernels::selective_scan_backward_scratch_size(g.dims, g.width());
  for_each_task(tape, g, scratch, dtype, [&]<typename T_>(int64_t i, T_* task_scratch) {
    const int64_t b = i / g.blocks, blk = i % g.blocks, ox = b * g.T * g.C, on = b * g.T * g.N;
    const int64_t op = (blk * g.B + b) * g.T * g.N;
    auto in = [&](int k) { return tape.value(id[k]).template data<T_>(); };
    kernels::selective_scan_backward<T_>(g.dims, g.c0(i), g.c1(i), in(0) + ox, in(1) + ox, in(2), in(3) + on,
                                         in(4) + on, dout.data<T_>() + ox, dx.data<T_>() + ox, ddt.data<T_>() + ox,
                                         dA_part.data<T_>() + b * g.C * g.N, dB_part.data<T_>() + op,
                                         dC_part.data<T_>() + op, task_scratch);
  });
  dispatch_float(dtype, "selective_scan", [&]<typename T_>() {
    if (tape.needs_grad(id[2])) {
      T_* dA = tape.grad_acc(id[2]).template data<T_>();
      const T_* part = dA_part.data<T_>();
      for (int64_t b = 0; b < g.B; ++b)
        for (int64_t j = 0; j < g.C * g.N; ++j) dA[j] += part[b * g.C * g.N + j];
    }
    const int64_t per_block = g.B * g.T * g.N;
    for (int k : {3, 4}) {
      if (!tape.needs_grad(id[k])) continue;
      T_* d = tape.grad_acc(id[k]).template data<T_>();
      const T_* part = (k == 3 ? dB_part : dC_part).template data<T_>();
      for (int64_t blk = 0; blk < g.blocks; ++blk)
        for (int64_t j = 0; j < per_block; ++j) d[j] += part[blk * per_block + j];
    }
  });
}

}  // namespace mad
