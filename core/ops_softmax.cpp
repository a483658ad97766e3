// Softmax, log-softmax and cross-entropy over the last axis, computed with the max subtracted.
#include <cmath>

#include "core/ops_common.h"
#include "kernels/vecmath.h"

namespace mad {
namespace {

// Rows of the last axis: x viewed as [rows, V].
struct Rows {
  int64_t rows, V;
};
Rows rows_of(const Shape& s, const char* op) {
  MAD_CHECK(s.rank() >= 1 && s[-1] > 0, "{}: needs a non-empty last axis, got shape {}", op, s.str());
  return {s.numel() / s[-1], s[-1]};
}

template <typename T>
T row_logsumexp(const T* x, int64_t V) {
  T m = x[0];
  for (int64_t j = 1; j < V; ++j) m = std::max(m, x[j]);
  T s = 0;
  for (int64_t j = 0; j < V; ++j) s += kernels::vexp(x[j] - m);
  return m + std::log(s);
}

template <bool kLog>
Var softmax_like(OpId op, Var x) {
  Tape& tape = detail::tape_of(x, op_name(op));
  const Rows r = rows_of(x.shape(), op_name(op));
  Tensor out = tape.alloc(x.shape(), x.dtype());
  dispatch_float(x.dtype(), op_name(op), [&]<typename T>() {
    const T* px = x.value().template data<T>();
    T* py = out.data<T>();
    parallel_for(r.rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        const T* xi = px + i * r.V;
        T* yi = py + i * r.V;
        const T lse = row_logsumexp(xi, r.V);
        for (int64_t j = 0; j < r.V; ++j) yi[j] = kLog ? xi[j] - lse : kernels::vexp(xi[j] - lse);
      }
    });
  });
  return tape.record(op, {x}, out);
}

// softmax:      dx = y * (g - sum(g * y))
// log_softmax:  dx = g - exp(y) * sum(g)
template <bool kLog>
void softmax_like_backward(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& y = tape.value(n.output);
  const Tensor& g = tape.grad(n.output);
  const Tensor& gx = tape.grad_acc(ix);
  const Rows r = rows_of(y.shape(), op_name(n.op));
  dispatch_float(y.dtype(), op_name(n.op), [&]<typename T>() {
    const T *py = y.data<T>(), *pg = g.data<T>();
    T* px = gx.data<T>();
    parallel_for(r.rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        const T *yi = py + i * r.V, *gi = pg + i * r.V;
        T* xi = px + i * r.V;
        T s = 0;
        for (int64_t j = 0; j < r.V; ++j) s += kLog ? gi[j] : gi[j] * yi[j];
        for (int64_t j = 0; j < r.V; ++j) xi[j] += kLog ? gi[j] - kernels::vexp(yi[j]) * s : yi[j] * (gi[j] - s);
      }
    });
  });
}

}  // namespace

Var softmax(Var x) { return softmax_like<false>(OpId::softmax, x); }
Var log_softmax(Var x) { return softmax_like<true>(OpId::log_softmax, x); }
void backward_softmax(Tape& t, const Node& n) { softmax_like_backward<false>(t, n); }
void backward_log_softmax(Tape& t, const Node& n) { softmax_like_backward<true>(t, n); }

// loss = mean over rows with target != ignore of (logsumexp(x_row) - x_row[target]).
// Saves the targets and each row's logsumexp; backward: dx_row = g / count * (softmax(x_row) - onehot).
Var cross_entropy(Var logits, const Tensor& targets, int32_t ignore_index) {
  Tape& tape = detail::tape_of(logits, "cross_entropy");
  const Rows r = rows_of(logits.shape(), "cross_entropy");
  MAD_CHECK(targets.dtype() == DType::I32 && targets.numel() == r.rows,
            "cross_entropy: logits {} need int32 targets with {} elements (one per row), got {} {}",
            logits.shape().str(), r.rows, dtype_name(targets.dtype()), targets.shape().str());
  const int32_t* t = targets.data<int32_t>();
  int64_t count = 0;
  for (int64_t i = 0; i < r.rows; ++i) {
    if (t[i] == ignore_index) continue;
    MAD_CHECK(t[i] >= 0 && t[i] < r.V,
              "cross_entropy: target {} at row {} is outside the vocabulary [0, {}); use {} to ignore a position",
              t[i], i, r.V, ignore_index);
    ++count;
  }
  Tensor out = tape.alloc(Shape{1}, logits.dtype());
  Tensor lse = tape.alloc(Shape{r.rows}, logits.dtype());
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    const T* px = logits.value().template data<T>();
    T* pl = lse.data<T>();
    parallel_for(r.rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) pl[i] = t[i] == ignore_index ? T(0) : row_logsumexp(px + i * r.V, r.V);
    });
    T total = 0;
    for (int64_t i = 0; i < r.rows; ++i)
      if (t[i] != ignore_index) total += pl[i] - px[i * r.V + t[i]];
    // No labelled position: the loss is 0 with zero gradient (PyTorch returns NaN; a batch without labels
    // must not poison training).
    out.data<T>()[0] = count ? total / static_cast<T>(count) : T(0);
  });
  OpAttrs attrs;
  attrs.i[0] = ignore_index;
  attrs.i[1] = count;
  return tape.record(OpId::cross_entropy, {logits}, out, attrs, targets, lse);
}

void backward_cross_entropy(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& x = tape.value(ix);
  const Rows r = rows_of(x.shape(), "cross_entropy");
  const int32_t* t = n.saved[0].data<int32_t>();
  const auto ignore = static_cast<int32_t>(n.attrs.i[0]);
  const int64_t count = n.attrs.i[1];
  if (count == 0) return;
  const Tensor& gx = tape.grad_acc(ix);
  dispatch_float(x.dtype(), "cross_entropy", [&]<typename T>() {
    const T* px = x.data<T>();
    const T* pl = n.saved[1].data<T>();
    T* pg = gx.data<T>();
    const T scale = tape.grad(n.output).template data<T>()[0] / static_cast<T>(count);
    parallel_for(r.rows, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        if (t[i] == ignore) continue;
        const T* xi = px + i * r.V;
        T* gi = pg + i * r.V;
        for (int64_t j = 0; j < r.V; ++j) gi[j] += scale * kernels::vexp(xi[j] - pl[i]);
        gi[t[i]] -= scale;
      }
    });
  });
}

}  // namespace mad
