// Elementwise binary ops with numpy broadcasting, and scalar ops. Gradients are reduced back to each
// input's shape by accumulate_unbroadcast.
#include <algorithm>
#include <cmath>

#include "core/ops_common.h"

namespace mad {
namespace {

enum class Binary { add, sub, mul, div };

// n > 0 when b's shape, without leading 1s, is the last dimensions of a's shape and b has n elements:
// b then repeats unchanged along every row of n elements of a. 0 otherwise.
int64_t row_broadcast_width(const Shape& a, const Shape& b) {
  int lead = 0;
  while (lead < b.rank() && b[lead] == 1) ++lead;
  const int rank = b.rank() - lead;
  if (rank == 0 || rank > a.rank()) return 0;
  for (int d = 0; d < rank; ++d)
    if (b[lead + d] != a[a.rank() - rank + d]) return 0;
  return b.numel();
}

template <Binary K, typename T>
inline T apply(T a, T b) {
  if constexpr (K == Binary::add) return a + b;
  if constexpr (K == Binary::sub) return a - b;
  if constexpr (K == Binary::mul) return a * b;
  if constexpr (K == Binary::div) return a / b;
}

// With into_b, the result goes into b's memory when that is allowed (see add_into).
template <Binary K>
Var binary(OpId op, Var a, Var b, bool into_b = false) {
  const char* name = op_name(op);
  Tape& tape = detail::tape_of(a, name);
  detail::tape_of(b, name);
  detail::check_same_dtype(a, b, name);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  // Elementwise, each result element is written after its inputs are read: b's memory can take it.
  const bool reuse_b = into_b && a.shape() == b.shape() && tape.can_overwrite(b);
  Tensor out = reuse_b ? b.value() : tape.alloc(shape, a.dtype());
  dispatch_float(a.dtype(), name, [&]<typename T>() {
    const T* pa = a.value().template data<T>();
    const T* pb = b.value().template data<T>();
    T* po = out.data<T>();
    if (a.shape() == b.shape()) {
      parallel_for(shape.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) po[i] = apply<K>(pa[i], pb[i]);
      });
      return;
    }
    if (const int64_t n = row_broadcast_width(a.shape(), b.shape()); n > 0) {
      // b repeats along a's rows (a bias [n] added to [..., n]): contiguous rows, split across threads.
      parallel_for(shape.numel() / n, std::max<int64_t>(1, detail::kParallelGrain / n), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t j = 0; j < n; ++j) po[r * n + j] = apply<K>(pa[r * n + j], pb[j]);
      });
      return;
    }
    BroadcastLoop(shape, a.shape(), b.shape())
        .for_each_row([&](int64_t o, int64_t ia, int64_t ib, int64_t n, int64_t sa, int64_t sb) {
          for (int64_t j = 0; j < n; ++j) po[o + j] = apply<K>(pa[ia + j * sa], pb[ib + j * sb]);
        });
  });
  return tape.record(op, {a, b}, out);
}

// Gradient of a binary op with respect to one operand, at full (broadcast) shape, then unbroadcast.
// which = 0 for a, 1 for b.
template <Binary K>
void binary_backward(Tape& tape, const Node& n) {
  const int32_t ia = tape.input(n, 0), ib = tape.input(n, 1);
  const Tensor& a = tape.value(ia);
  const Tensor& b = tape.value(ib);
  const Tensor& g = tape.grad(n.output);
  const Shape& shape = g.shape();
  dispatch_float(g.dtype(), op_name(n.op), [&]<typename T>() {
    const T* pg = g.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    for (int which = 0; which < 2; ++which) {
      const int32_t id = which == 0 ? ia : ib;
      if (!tape.needs_grad(id)) continue;
      if constexpr (K == Binary::add || K == Binary::sub) {
        if (which == 0 || K == Binary::add) {
          // Not broadcast: the output gradient itself, adopted by the first input (Tape::add_grad).
          if (tape.value(id).shape() == shape) tape.add_grad(id, g, which == 0);
          else accumulate_unbroadcast(g, tape.grad_acc(id));
          continue;
        }
      }
      if (a.shape() == shape && b.shape() == shape) {
        // No broadcasting: one parallel pass straight into the gradient, no scratch and no reduction.
        T* pd = tape.grad_acc(id).template data<T>();
        parallel_for(shape.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            if constexpr (K == Binary::sub) pd[i] += -pg[i];
            if constexpr (K == Binary::mul) pd[i] += which == 0 ? pg[i] * pb[i] : pg[i] * pa[i];
            if constexpr (K == Binary::div) pd[i] += which == 0 ? pg[i] / pb[i] : -pg[i] * pa[i] / (pb[i] * pb[i]);
          }
        });
        continue;
      }
      // d/da and d/db at full shape, written to a scratch tensor, then reduced.
      Tensor full = tape.alloc(shape, g.dtype());
      T* pf = full.data<T>();
      BroadcastLoop(shape, a.shape(), b.shape())
          .for_each_row([&](int64_t o, int64_t oa, int64_t ob, int64_t len, int64_t sa, int64_t sb) {
            for (int64_t j = 0; j < len; ++j) {
              const T x = pa[oa + j * sa], y = pb[ob + j * sb], go = pg[o + j];
              if constexpr (K == Binary::sub) pf[o + j] = -go;
              if constexpr (K == Binary::mul) pf[o + j] = which == 0 ? go * y : go * x;
              if constexpr (K == Binary::div) pf[o + j] = which == 0 ? go / y : -go * x / (y * y);
              (void)x;
            }
          });
      accumulate_unbroadcast(full, tape.grad_acc(id));
    }
  });
}

}  // namespace

Var add(Var a, Var b) { return binary<Binary::add>(OpId::add, a, b); }
Var add_into(Var a, Var b) { return binary<Binary::add>(OpId::add, a, b, true); }
Var sub(Var a, Var b) { return binary<Binary::sub>(OpId::sub, a, b); }
Var mul(Var a, Var b) { return binary<Binary::mul>(OpId::mul, a, b); }
Var div(Var a, Var b) { return binary<Binary::div>(OpId::div, a, b); }
void backward_add(Tape& t, const Node& n) { binary_backward<Binary::add>(t, n); }
void backward_sub(Tape& t, const Node& n) { binary_backward<Binary::sub>(t, n); }
void backward_mul(Tape& t, const Node& n) { binary_backward<Binary::mul>(t, n); }
void backward_div(Tape& t, const Node& n) { binary_backward<Binary::div>(t, n); }

// ---- scalar ops: y = a + s, y = a * s ------------------------------------------------------------------

namespace {
template <bool kMul>
Var scalar_op(Var a, double s) {
  const OpId op = kMul ? OpId::mul_scalar : OpId::add_scalar;
  Tape& tape = detail::tape_of(a, op_name(op));
  Tensor out = tape.alloc(a.shape(), a.dtype());
  dispatch_float(a.dtype(), op_name(op), [&]<typename T>() {
    const T* x = a.value().template data<T>();
    T* y = out.data<T>();
    const T c = static_cast<T>(s);
    parallel_for(out.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) y[i] = kMul ? x[i] * c : x[i] + c;
    });
  });
  OpAttrs attrs;
  attrs.f[0] = s;
  return tape.record(op, {a}, out, attrs);
}

template <bool kMul>
void scalar_backward(Tape& tape, const Node& n) {
  const int32_t ia = tape.input(n, 0);
  const Tensor& g = tape.grad(n.output);
  if (!kMul) {
    tape.add_grad(ia, g, true);
    return;
  }
  const Tensor& ga = tape.grad_acc(ia);
  dispatch_float(g.dtype(), op_name(n.op), [&]<typename T>() {
    const T* pg = g.data<T>();
    T* pa = ga.data<T>();
    const T c = kMul ? static_cast<T>(n.attrs.f[0]) : T(1);
    parallel_for(g.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pa[i] += c * pg[i];
    });
  });
}
}  // namespace

Var add_scalar(Var a, double s) { return scalar_op<false>(a, s); }
Var mul_scalar(Var a, double s) { return scalar_op<true>(a, s); }
void backward_add_scalar(Tape& t, const Node& n) { scalar_backward<false>(t, n); }
void backward_mul_scalar(Tape& t, const Node& n) { scalar_backward<true>(t, n); }

}  // namespace mad
