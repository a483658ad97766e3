// Reductions over one axis: sum, mean, max. The input is viewed as [outer, n, inner] with n the reduced
// axis; sums run in index order (deterministic).
#include <limits>

#include "core/ops_common.h"

namespace mad {
namespace {

enum class Reduce { sum, mean, max };

struct Geometry {
  int64_t outer, n, inner;
};

Geometry geometry(const Shape& s, int axis) {
  return {s.prod(0, axis), s[axis], s.prod(axis + 1, s.rank())};
}

Shape reduced_shape(const Shape& s, int axis, bool keepdim) {
  Shape out;
  for (int d = 0; d < s.rank(); ++d) {
    if (d != axis) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

template <Reduce K>
Var reduce(OpId op, Var x, int axis_in, bool keepdim) {
  Tape& tape = detail::tape_of(x, op_name(op));
  const int axis = x.shape().norm_axis(axis_in);
  const Geometry g = geometry(x.shape(), axis);
  MAD_CHECK(K != Reduce::max || g.n > 0, "max: cannot reduce an empty axis {} of shape {}", axis_in, x.shape().str());
  Tensor out = tape.alloc(reduced_shape(x.shape(), axis, keepdim), x.dtype());
  // For max, the index of the first maximum is saved for backward.
  Tensor argmax;
  if constexpr (K == Reduce::max) argmax = tape.alloc(out.shape(), DType::I32);
  dispatch_float(x.dtype(), op_name(op), [&]<typename T>() {
    const T* px = x.value().template data<T>();
    T* py = out.data<T>();
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t i = 0; i < g.inner; ++i) {
        const T* row = px + o * g.n * g.inner + i;
        if constexpr (K == Reduce::max) {
          T best = row[0];
          int32_t at = 0;
          for (int64_t j = 1; j < g.n; ++j)
            if (row[j * g.inner] > best) best = row[j * g.inner], at = static_cast<int32_t>(j);
          py[o * g.inner + i] = best;
          argmax.data<int32_t>()[o * g.inner + i] = at;
        } else {
          T s = 0;
          for (int64_t j = 0; j < g.n; ++j) s += row[j * g.inner];
          py[o * g.inner + i] = K == Reduce::mean ? s / static_cast<T>(g.n) : s;
        }
      }
  });
  OpAttrs attrs;
  attrs.i[0] = axis;
  return tape.record(op, {x}, out, attrs, argmax);
}

template <Reduce K>
void reduce_backward(Tape& tape, const Node& node) {
  const int32_t ix = tape.input(node, 0);
  const Tensor& x = tape.value(ix);
  const Geometry g = geometry(x.shape(), static_cast<int>(node.attrs.i[0]));
  const Tensor& gy = tape.grad(node.output);
  const Tensor& gx = tape.grad_acc(ix);
  dispatch_float(x.dtype(), op_name(node.op), [&]<typename T>() {
    const T* pg = gy.data<T>();
    T* px = gx.data<T>();
    for (int64_t o = 0; o < g.outer; ++o)
      for (int64_t i = 0; i < g.inner; ++i) {
        const T go = pg[o * g.inner + i];
        T* row = px + o * g.n * g.inner + i;
        if constexpr (K == Reduce::max) {
          row[node.saved[0].data<int32_t>()[o * g.inner + i] * g.inner] += go;
        } else {
          const T v = K == Reduce::mean ? go / static_cast<T>(g.n) : go;
          for (int64_t j = 0; j < g.n; ++j) row[j * g.inner] += v;
        }
      }
  });
}

}  // namespace

Var sum(Var x, int axis, bool keepdim) { return reduce<Reduce::sum>(OpId::sum, x, axis, keepdim); }
Var mean(Var x, int axis, bool keepdim) { return reduce<Reduce::mean>(OpId::mean, x, axis, keepdim); }
Var max(Var x, int axis, bool keepdim) { return reduce<Reduce::max>(OpId::max, x, axis, keepdim); }
void backward_sum(Tape& t, const Node& n) { reduce_backward<Reduce::sum>(t, n); }
void backward_mean(Tape& t, const Node& n) { reduce_backward<Reduce::mean>(t, n); }
void backward_max(Tape& t, const Node& n) { reduce_backward<Reduce::max>(t, n); }

Var sum_all(Var x) { return sum(reshape(x, Shape{x.value().numel()}), 0, true); }
Var mean_all(Var x) { return mean(reshape(x, Shape{x.value().numel()}), 0, true); }

}  // namespace mad
