// Selection ops: embedding lookup, where, top-k masking, dropout.
#include <algorithm>
#include <cmath>

#include "core/ops_common.h"
#include "core/rng.h"

namespace mad {

// ---- embedding: y[..., :] = weight[ids[...], :] ----------------------------------------------------
Var embedding(Var weight, const Tensor& ids) {
  Tape& tape = detail::tape_of(weight, "embedding");
  MAD_CHECK(weight.shape().rank() == 2, "embedding: weight must be [V, D], got {}", weight.shape().str());
  MAD_CHECK(ids.dtype() == DType::I32, "embedding: ids must be int32, got {}", dtype_name(ids.dtype()));
  const int64_t V = weight.dim(0), D = weight.dim(1);
  const int32_t* id = ids.data<int32_t>();
  for (int64_t i = 0; i < ids.numel(); ++i)
    MAD_CHECK(id[i] >= 0 && id[i] < V, "embedding: token {} at position {} is outside the vocabulary [0, {})", id[i],
              i, V);
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = tape.alloc(out_shape, weight.dtype());
  dispatch_float(weight.dtype(), "embedding", [&]<typename T>() {
    const T* w = weight.value().template data<T>();
    T* y = out.data<T>();
    parallel_for(ids.numel(), std::max<int64_t>(1, detail::kParallelGrain / std::max<int64_t>(1, D)),
                 [&](int64_t i0, int64_t i1) {
                   for (int64_t i = i0; i < i1; ++i) std::copy_n(w + id[i] * D, D, y + i * D);
                 });
  });
  return tape.record(OpId::embedding, {weight}, out, {}, ids);
}

// Scatter-add of rows, in position order (deterministic even when a token repeats). Threads split the
// columns, each adding every position in order, so the result is the same on any number of threads.
void backward_embedding(Tape& tape, const Node& n) {
  const int32_t iw = tape.input(n, 0);
  const Tensor& gw = tape.grad_acc(iw);
  const Tensor& ids = n.saved[0];
  const int64_t D = gw.dim(1);
  dispatch_float(gw.dtype(), "embedding", [&]<typename T>() {
    const T* gy = tape.grad(n.output).template data<T>();
    T* g = gw.data<T>();
    const int32_t* id = ids.data<int32_t>();
    parallel_for(D, std::max<int64_t>(8, detail::kParallelGrain / std::max<int64_t>(1, ids.numel())),
                 [&](int64_t j0, int64_t j1) {
                   for (int64_t i = 0; i < ids.numel(); ++i)
                     for (int64_t j = j0; j < j1; ++j) g[id[i] * D + j] += gy[i * D + j];
                 });
  });
}

// ---- where: y = cond ? a : b, with a and b broadcast to cond's shape ----------------------------------
Var where(const Tensor& cond, Var a, Var b) {
  Tape& tape = detail::tape_of(a, "where");
  detail::check_same_dtype(a, b, "where");
  MAD_CHECK(cond.dtype() == DType::I32, "where: the condition must be int32, got {}", dtype_name(cond.dtype()));
  const Shape shape = cond.shape();
  MAD_CHECK(broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), "where"), shape, "where") == shape,
            "where: operands {} and {} must broadcast to the condition's shape {}", a.shape().str(), b.shape().str(),
            shape.str());
  Tensor out = tape.alloc(shape, a.dtype());
  const int32_t* c = cond.data<int32_t>();
  dispatch_float(a.dtype(), "where", [&]<typename T>() {
    const T *pa = a.value().template data<T>(), *pb = b.value().template data<T>();
    T* y = out.data<T>();
    BroadcastLoop(shape, a.shape(), b.shape())
        .for_each_row([&](int64_t o, int64_t ia, int64_t ib, int64_t len, int64_t sa, int64_t sb) {
          for (int64_t j = 0; j < len; ++j) y[o + j] = c[o + j] ? pa[ia + j * sa] : pb[ib + j * sb];
        });
  });
  return tape.record(OpId::where, {a, b}, out, {}, cond);
}

void backward_where(Tape& tape, const Node& n) {
  const Tensor& g = tape.grad(n.output);
  const int32_t* c = n.saved[0].data<int32_t>();
  dispatch_float(g.dtype(), "where", [&]<typename T>() {
    const T* pg = g.data<T>();
    for (int which = 0; which < 2; ++which) {
      const int32_t id = tape.input(n, which);
      if (!tape.needs_grad(id)) continue;
      Tensor full = tape.alloc(g.shape(), g.dtype());
      T* pf = full.data<T>();
      for (int64_t i = 0; i < g.numel(); ++i) pf[i] = (c[i] != 0) == (which == 0) ? pg[i] : T(0);
      accumulate_unbroadcast(full, tape.grad_acc(id));
    }
  });
}

// ---- top-k mask over the last axis ----------------------------------------------------------------
Var topk_mask(Var x, int64_t k, double fill) {
  Tape& tape = detail::tape_of(x, "topk_mask");
  const int64_t V = x.dim(-1), rows = x.value().numel() / V;
  MAD_CHECK(k >= 1 && k <= V, "topk_mask: k = {} must be in [1, {}] for shape {}", k, V, x.shape().str());
  Tensor out = tape.alloc(x.shape(), x.dtype());
  Tensor keep = tape.alloc(x.shape(), DType::I32);
  dispatch_float(x.dtype(), "topk_mask", [&]<typename T>() {
    const T* px = x.value().template data<T>();
    T* py = out.data<T>();
    int32_t* pk = keep.data<int32_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = px + r * V;
      // Entry j is kept when fewer than k entries beat it (larger, or equal with a lower index).
      for (int64_t j = 0; j < V; ++j) {
        int64_t better = 0;
        for (int64_t i = 0; i < V && better < k; ++i) better += xr[i] > xr[j] || (xr[i] == xr[j] && i < j);
        pk[r * V + j] = better < k;
        py[r * V + j] = better < k ? xr[j] : static_cast<T>(fill);
      }
    }
  });
  return tape.record(OpId::topk_mask, {x}, out, {}, keep);
}

void backward_topk_mask(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const int32_t* keep = n.saved[0].data<int32_t>();
  const Tensor& gx = tape.grad_acc(ix);
  dispatch_float(gx.dtype(), "topk_mask", [&]<typename T>() {
    const T* g = tape.grad(n.output).template data<T>();
    T* p = gx.data<T>();
    for (int64_t i = 0; i < gx.numel(); ++i)
      if (keep[i]) p[i] += g[i];
  });
}

// ---- dropout ------------------------------------------------------------------------------------
Var dropout(Var x, double p, uint64_t seed) {
  Tape& tape = detail::tape_of(x, "dropout");
  MAD_CHECK(p >= 0 && p < 1, "dropout: probability must be in [0, 1), got {}", p);
  Tensor out = tape.alloc(x.shape(), x.dtype());
  Tensor scale = tape.alloc(x.shape(), x.dtype());  // 0 or 1/(1-p) per entry
  dispatch_float(x.dtype(), "dropout", [&]<typename T>() {
    Rng rng(seed);
    const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
    const T* px = x.value().template data<T>();
    T *py = out.data<T>(), *ps = scale.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      ps[i] = rng.uniform() < p ? T(0) : keep_scale;
      py[i] = px[i] * ps[i];
    }
  });
  return tape.record(OpId::dropout, {x}, out, {}, scale);
}

void backward_dropout(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  dispatch_float(gx.dtype(), "dropout", [&]<typename T>() {
    const T *g = tape.grad(n.output).template data<T>(), *s = n.saved[0].data<T>();
    T* p = gx.data<T>();
    for (int64_t i = 0; i < gx.numel(); ++i) p[i] += g[i] * s[i];
  });
}

}  // namespace mad
