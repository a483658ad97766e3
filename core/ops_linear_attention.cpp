// Causal (gated) linear attention: the chunkwise kernel of kernels/linear_attention.h on [B, T, H, D]
// tensors, one (batch, head) slice per task.
#include <algorithm>

#include "core/ops_common.h"
#include "kernels/linear_attention.h"

namespace mad {
namespace {

struct LinearAttentionGeometry {
  int64_t B, T, H, Dk, Dv;
  kernels::LinearAttentionDims dims;
  int64_t slices() const { return B * H; }
  // Offsets of slice s = b*H + h in [B, T, H, Dk] and [B, T, H, Dv] tensors.
  int64_t offset_k(int64_t s) const { return (s / H) * T * H * Dk + (s % H) * Dk; }
  int64_t offset_v(int64_t s) const { return (s / H) * T * H * Dv + (s % H) * Dv; }
};

LinearAttentionGeometry geometry(const Shape& qs, const Shape& vs, int64_t chunk) {
  LinearAttentionGeometry g{qs[0], qs[1], qs[2], qs[3], vs[3], {}};
  g.dims = {g.T, g.Dk, g.Dv, g.H * g.Dk, g.H * g.Dv, chunk};
  return g;
}

// One contiguous range of slices per thread, each thread with its own scratch, so every slice is computed
// by one thread in one order: results depend on the thread count only.
template <typename Fn>
void for_each_slice(Tape& tape, const LinearAttentionGeometry& g, size_t scratch_per_chunk, DType dtype, Fn&& fn) {
  const int64_t chunks = std::min<int64_t>(num_threads(), g.slices());
  const auto per = static_cast<int64_t>(scratch_per_chunk);
  Tensor scratch = tape.alloc(Shape{chunks * per}, dtype);
  dispatch_float(dtype, "causal_linear_attention", [&]<typename T_>() {
    T_* base = scratch.data<T_>();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t s = g.slices() * c / chunks; s < g.slices() * (c + 1) / chunks; ++s) fn(s, base + c * per);
    });
  });
}

}  // namespace

Var causal_linear_attention(Var q, Var k, Var v, Var log_decay, int64_t chunk) {
  Tape& tape = detail::tape_of(q, "causal_linear_attention");
  detail::tape_of(k, "causal_linear_attention");
  detail::tape_of(v, "causal_linear_attention");
  detail::check_same_dtype(q, k, "causal_linear_attention");
  detail::check_same_dtype(q, v, "causal_linear_attention");
  const Shape& s = q.shape();
  MAD_CHECK(s.rank() == 4 && k.shape() == s && v.shape().rank() == 4 && v.dim(0) == s[0] && v.dim(1) == s[1] &&
                v.dim(2) == s[2],
            "causal_linear_attention: needs q, k [B, T, H, Dk] and v [B, T, H, Dv], got q {}, k {}, v {}; reshape "
            "[B, T, H*D] projections to [B, T, H, D]",
            s.str(), k.shape().str(), v.shape().str());
  MAD_CHECK(s[3] > 0 && v.dim(3) > 0, "causal_linear_attention: head widths must be positive, got q {}, v {}",
            s.str(), v.shape().str());
  if (log_decay.defined()) {
    detail::check_same_dtype(q, log_decay, "causal_linear_attention");
    MAD_CHECK(log_decay.shape() == s, "causal_linear_attention: log_decay must have q's shape {}, got {}", s.str(),
              log_decay.shape().str());
  }
  MAD_CHECK(chunk >= 1, "causal_linear_attention: chunk must be >= 1, got {}", chunk);
  const LinearAttentionGeometry g = geometry(s, v.shape(), chunk);
  Tensor out = tape.alloc(v.shape(), q.dtype());
  const size_t scratch = kernels::linear_attention_forward_scratch_size(g.dims);
  for_each_slice(tape, g, scratch, q.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const int64_t ok = g.offset_k(i), ov = g.offset_v(i);
    kernels::linear_attention_forward<T_>(
        g.dims, q.value().template data<T_>() + ok, k.value().template data<T_>() + ok,
        v.value().template data<T_>() + ov,
        log_decay.defined() ? log_decay.value().template data<T_>() + ok : nullptr, out.data<T_>() + ov,
        slice_scratch);
  });
  OpAttrs attrs;
  attrs.i[0] = chunk;
  return tape.record(OpId::causal_linear_attention, {q, k, v, log_decay}, out, attrs);
}

void backward_causal_linear_attention(Tape& tape, const Node& n) {
  const int32_t iq = tape.input(n, 0), ik = tape.input(n, 1), iv = tape.input(n, 2), ig = tape.input(n, 3);
  const LinearAttentionGeometry g = geometry(tape.value(iq).shape(), tape.value(iv).shape(), n.attrs.i[0]);
  // Gradients are created before the threads start (grad_acc allocates from the arena).
  const Tensor none;
  auto grad_of = [&](int32_t id) -> const Tensor& { return id >= 0 && tape.needs_grad(id) ? tape.grad_acc(id) : none; };
  const Tensor& dq = grad_of(iq);
  const Tensor& dk = grad_of(ik);
  const Tensor& dv = grad_of(iv);
  const Tensor& dg = grad_of(ig);
  const Tensor& gate = ig >= 0 ? tape.value(ig) : none;
  const Tensor& dout = tape.grad(n.output);
  const size_t scratch = kernels::linear_attention_backward_scratch_size(g.dims);
  for_each_slice(tape, g, scratch, dout.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const int64_t ok = g.offset_k(i), ov = g.offset_v(i);
    auto at = [](const Tensor& t, int64_t o) { return t.defined() ? t.data<T_>() + o : nullptr; };
    kernels::linear_attention_backward<T_>(g.dims, at(tape.value(iq), ok), at(tape.value(ik), ok),
                                           at(tape.value(iv), ov), at(gate, ok), at(dout, ov), at(dq, ok),
                                           at(dk, ok), at(dv, ov), at(dg, ok), slice_scratch);
  });
}

}  // namespace mad
