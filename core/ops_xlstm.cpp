// xLSTM ops: the fused mLSTM cell (kernels/mlstm.h) with its three kernels, and the fused sLSTM cell
// (kernels/slstm.h).
#include "core/ops_xlstm.h"

#include <algorithm>
#include <cmath>

#include "core/ops_common.h"
#include "kernels/mlstm.h"
#include "kernels/slstm.h"

namespace mad {

// ---- mlstm: q, k [B, T, H, Dk], v [B, T, H, Dv], igate, fgate [B, T, H] -> h [B, T, H, Dv] ---------------
namespace {

struct MlstmGeometry {
  int64_t B, T, H, Dk, Dv;
  kernels::MlstmDims dims;  // one (batch, head) slice, read in place
  int64_t slices() const { return B * H; }
  // Offsets of slice s = b*H + h in the q/k, v/h and gate tensors.
  int64_t qk_offset(int64_t s) const { return ((s / H) * T * H + s % H) * Dk; }
  int64_t v_offset(int64_t s) const { return ((s / H) * T * H + s % H) * Dv; }
  int64_t g_offset(int64_t s) const { return (s / H) * T * H + s % H; }
};

MlstmGeometry mlstm_geometry(const Shape& qs, const Shape& vs) {
  MlstmGeometry g{qs[0], qs[1], qs[2], qs[3], vs[3], {}};
  g.dims = {g.T, g.Dk, g.Dv, g.H * g.Dk, g.H * g.Dv, g.H};
  return g;
}

size_t forward_scratch(const MlstmGeometry& g, MlstmKernel kernel, int64_t chunk) {
  switch (kernel) {
    case MlstmKernel::parallel: return kernels::mlstm_parallel_scratch_size(g.dims);
    case MlstmKernel::chunkwise:
      return kernels::mlstm_chunkwise_forward_scratch_size(g.dims, chunk) +
             static_cast<size_t>(kernels::mlstm_state_size(g.Dk, g.Dv));
    case MlstmKernel::recurrent: return static_cast<size_t>(kernels::mlstm_state_size(g.Dk, g.Dv));
  }
  return 0;
}

size_t backward_scratch(const MlstmGeometry& g, MlstmKernel kernel, int64_t chunk) {
  switch (kernel) {
    case MlstmKernel::parallel: return kernels::mlstm_parallel_scratch_size(g.dims);
    case MlstmKernel::chunkwise: return kernels::mlstm_chunkwise_backward_scratch_size(g.dims, chunk);
    case MlstmKernel::recurrent: return kernels::mlstm_recurrent_backward_scratch_size(g.dims);
  }
  return 0;
}

// Splits the B*H slices into one contiguous chunk per thread, each with its own scratch, so a slice is
// always computed by one thread in one order: results do not depend on timing.
template <typename Fn>
void for_each_slice(Tape& tape, const MlstmGeometry& g, size_t scratch_per_chunk, DType dtype, Fn&& fn) {
  const int64_t chunks = std::min<int64_t>(num_threads(), g.slices());
  const auto per = static_cast<int64_t>(scratch_per_chunk);
  Tensor scratch = tape.alloc(Shape{chunks * per}, dtype);
  dispatch_float(dtype, "mlstm", [&]<typename T_>() {
    T_* base = scratch.data<T_>();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t s = g.slices() * c / chunks; s < g.slices() * (c + 1) / chunks; ++s) fn(s, base + c * per);
    });
  });
}

}  // namespace

Var mlstm(Var q, Var k, Var v, Var igate, Var fgate, MlstmKernel kernel, int64_t chunk_size, double eps) {
  Tape& tape = detail::tape_of(q, "mlstm");
  for (Var x : {k, v, igate, fgate}) {
    detail::tape_of(x, "mlstm");
    detail::check_same_dtype(q, x, "mlstm");
  }
  const Shape& qs = q.shape();
  const Shape& vs = v.shape();
  MAD_CHECK(qs.rank() == 4 && vs.rank() == 4,
            "mlstm: needs q, k [B, T, H, Dk] and v [B, T, H, Dv], got q {}, v {}; reshape the projections", qs.str(),
            vs.str());
  MAD_CHECK(k.shape() == qs && vs[0] == qs[0] && vs[1] == qs[1] && vs[2] == qs[2] && qs[3] > 0 && vs[3] > 0,
            "mlstm: q and k must have the same shape [B, T, H, Dk] and v [B, T, H, Dv], got q {}, k {}, v {}",
            qs.str(), k.shape().str(), vs.str());
  const Shape gs{qs[0], qs[1], qs[2]};
  MAD_CHECK(igate.shape() == gs && fgate.shape() == gs,
            "mlstm: gates must be [B, T, H] = {} (one scalar per head and step), got igate {}, fgate {}", gs.str(),
            igate.shape().str(), fgate.shape().str());
  MAD_CHECK(kernel != MlstmKernel::chunkwise || chunk_size >= 1, "mlstm: chunk_size must be >= 1, got {}",
            chunk_size);
  MAD_CHECK(eps >= 0 && std::isfinite(eps), "mlstm: eps must be finite and >= 0, got {}", eps);
  const MlstmGeometry g = mlstm_geometry(qs, vs);
  const int64_t chunk = std::min(std::max<int64_t>(chunk_size, 1), std::max<int64_t>(g.T, 1));
  Tensor out = tape.alloc(vs, q.dtype());
  const int64_t S = kernels::mlstm_state_size(g.Dk, g.Dv);
  for_each_slice(tape, g, forward_scratch(g, kernel, chunk), q.dtype(), [&]<typename T_>(int64_t s, T_* scratch) {
    const T_* qp = q.value().template data<T_>() + g.qk_offset(s);
    const T_* kp = k.value().template data<T_>() + g.qk_offset(s);
    const T_* vp = v.value().template data<T_>() + g.v_offset(s);
    const T_* ip = igate.value().template data<T_>() + g.g_offset(s);
    const T_* fp = fgate.value().template data<T_>() + g.g_offset(s);
    T_* hp = out.data<T_>() + g.v_offset(s);
    switch (kernel) {
      case MlstmKernel::parallel:
        kernels::mlstm_parallel_forward<T_>(g.dims, eps, qp, kp, vp, ip, fp, hp, scratch);
        break;
      case MlstmKernel::chunkwise:
        std::fill(scratch, scratch + S, T_(0));  // zero initial state
        kernels::mlstm_chunkwise_forward<T_>(g.dims, chunk, eps, qp, kp, vp, ip, fp, hp, scratch, scratch + S);
        break;
      case MlstmKernel::recurrent:
        std::fill(scratch, scratch + S, T_(0));
        kernels::mlstm_recurrent_forward<T_>(g.dims, eps, qp, kp, vp, ip, fp, hp, scratch);
        break;
    }
  });
  OpAttrs attrs;
  attrs.i[0] = static_cast<int64_t>(kernel);
  attrs.i[1] = chunk;
  attrs.f[0] = eps;
  return tape.record(OpId::mlstm, {q, k, v, igate, fgate}, out, attrs);
}

// The kernels write every input's gradient at once: where an input needs none, they write into a spare
// zeroed arena tensor instead. Fills the input ids, and grad[x] with the gradient to accumulate into.
template <size_t N>
void gradient_destinations(Tape& tape, const Node& n, int32_t (&id)[N], const Tensor* (&grad)[N], Tensor (&spare)[N]) {
  for (size_t x = 0; x < N; ++x) {
    id[x] = tape.input(n, static_cast<int>(x));
    if (tape.needs_grad(id[x])) {
      grad[x] = &tape.grad_acc(id[x]);
    } else {
      spare[x] = tape.zeros(tape.value(id[x]).shape(), tape.value(id[x]).dtype());
      grad[x] = &spare[x];
    }
  }
}

// Each kernel's own exact backward (m held constant); inputs that need no gradient get a throwaway buffer
// because the kernels produce all five gradients together.
void backward_mlstm(Tape& tape, const Node& n) {
  const auto kernel = static_cast<MlstmKernel>(n.attrs.i[0]);
  const int64_t chunk = n.attrs.i[1];
  const double eps = n.attrs.f[0];
  int32_t id[5];
  const Tensor* grad[5];
  Tensor spare[5];
  gradient_destinations(tape, n, id, grad, spare);
  const Tensor& q = tape.value(id[0]);
  const MlstmGeometry g = mlstm_geometry(q.shape(), tape.value(id[2]).shape());
  const Tensor& dout = tape.grad(n.output);
  for_each_slice(tape, g, backward_scratch(g, kernel, chunk), q.dtype(), [&]<typename T_>(int64_t s, T_* scratch) {
    const int64_t oq = g.qk_offset(s), ov = g.v_offset(s), og = g.g_offset(s);
    const T_* qp = tape.value(id[0]).template data<T_>() + oq;
    const T_* kp = tape.value(id[1]).template data<T_>() + oq;
    const T_* vp = tape.value(id[2]).template data<T_>() + ov;
    const T_* ip = tape.value(id[3]).template data<T_>() + og;
    const T_* fp = tape.value(id[4]).template data<T_>() + og;
    const T_* dh = dout.template data<T_>() + ov;
    T_* dq = grad[0]->template data<T_>() + oq;
    T_* dk = grad[1]->template data<T_>() + oq;
    T_* dv = grad[2]->template data<T_>() + ov;
    T_* di = grad[3]->template data<T_>() + og;
    T_* df = grad[4]->template data<T_>() + og;
    switch (kernel) {
      case MlstmKernel::parallel:
        kernels::mlstm_parallel_backward<T_>(g.dims, eps, qp, kp, vp, ip, fp, dh, dq, dk, dv, di, df, scratch);
        break;
      case MlstmKernel::chunkwise:
        kernels::mlstm_chunkwise_backward<T_>(g.dims, chunk, eps, qp, kp, vp, ip, fp, dh, dq, dk, dv, di, df,
                                              scratch);
        break;
      case MlstmKernel::recurrent:
        kernels::mlstm_recurrent_backward<T_>(g.dims, eps, qp, kp, vp, ip, fp, dh, dq, dk, dv, di, df, scratch);
        break;
    }
  });
}

// ---- slstm: pre [B, T, 4*Hd], R [NH, DH, 4*DH], bias [4*Hd] -> h [B, T, Hd]; saves states ---------------

Var slstm(Var pre, Var R, Var bias) {
  Tape& tape = detail::tape_of(pre, "slstm");
  detail::tape_of(R, "slstm");
  detail::tape_of(bias, "slstm");
  detail::check_same_dtype(pre, R, "slstm");
  detail::check_same_dtype(pre, bias, "slstm");
  const Shape& ps = pre.shape();
  const Shape& rs = R.shape();
  MAD_CHECK(rs.rank() == 3 && rs[2] == 4 * rs[1] && rs[1] > 0,
            "slstm: R must be [heads, DH, 4*DH] (block-diagonal recurrence), got {}", rs.str());
  const kernels::SlstmDims d{ps.rank() == 3 ? ps[1] : 0, rs[0], rs[1]};
  const int64_t Hd = d.width();
  MAD_CHECK(ps.rank() == 3 && ps[2] == 4 * Hd,
            "slstm: pre must be [B, T, 4*Hd] = [B, T, {}] for R {}, got {}", 4 * Hd, rs.str(), ps.str());
  MAD_CHECK(bias.shape() == Shape{4 * Hd}, "slstm: bias must be [4*Hd] = [{}], got {}", 4 * Hd, bias.shape().str());
  const int64_t B = ps[0], T = ps[1];
  Tensor out = tape.alloc(Shape{B, T, Hd}, pre.dtype());
  Tensor states = tape.zeros(Shape{B, T + 1, 4, Hd}, pre.dtype());  // a zero initial state
  const int64_t slices = B * d.heads;
  const int64_t chunks = std::min<int64_t>(num_threads(), std::max<int64_t>(slices, 1));
  const auto per = static_cast<int64_t>(kernels::slstm_scratch_size(d));
  Tensor scratch = tape.alloc(Shape{chunks * per}, pre.dtype());
  dispatch_float(pre.dtype(), "slstm", [&]<typename T_>() {
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t s = slices * c / chunks; s < slices * (c + 1) / chunks; ++s) {
          const int64_t b = s / d.heads, hd = s % d.heads;
          kernels::slstm_forward<T_>(d, hd, pre.value().template data<T_>() + b * T * 4 * Hd,
                                     R.value().template data<T_>(), bias.value().template data<T_>(),
                                     out.data<T_>() + b * T * Hd, states.data<T_>() + b * (T + 1) * 4 * Hd,
                                     scratch.data<T_>() + c * per);
        }
    });
  });
  return tape.record(OpId::slstm, {pre, R, bias}, out, {}, states);
}

// Heads are spread over threads, each head's batch elements run in order, so dR and db (shared by the batch)
// are written by one thread in one order: deterministic for any thread count.
void backward_slstm(Tape& tape, const Node& n) {
  int32_t id[3];
  const Tensor* grad[3];
  Tensor spare[3];
  gradient_destinations(tape, n, id, grad, spare);
  const Tensor& pre = tape.value(id[0]);
  const Shape& rs = tape.value(id[1]).shape();
  const kernels::SlstmDims d{pre.shape()[1], rs[0], rs[1]};
  const int64_t B = pre.shape()[0], T = d.len, Hd = d.width();
  const int64_t chunks = std::min<int64_t>(num_threads(), d.heads);
  const auto per = static_cast<int64_t>(kernels::slstm_scratch_size(d));
  Tensor scratch = tape.alloc(Shape{chunks * per}, pre.dtype());
  const Tensor& dout = tape.grad(n.output);
  dispatch_float(pre.dtype(), "slstm", [&]<typename T_>() {
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t hd = d.heads * c / chunks; hd < d.heads * (c + 1) / chunks; ++hd)
          for (int64_t b = 0; b < B; ++b)
            kernels::slstm_backward<T_>(d, hd, pre.template data<T_>() + b * T * 4 * Hd,
                                        tape.value(id[1]).template data<T_>(), tape.value(id[2]).template data<T_>(),
                                        n.saved[0].template data<T_>() + b * (T + 1) * 4 * Hd,
                                        dout.template data<T_>() + b * T * Hd,
                                        grad[0]->template data<T_>() + b * T * 4 * Hd, grad[1]->template data<T_>(),
                                        grad[2]->template data<T_>(), scratch.data<T_>() + c * per);
    });
  });
}

}  // namespace mad
