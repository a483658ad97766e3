// Shape ops: reshape (a view), permute, slice (a view when it is a contiguous block), concat, split.
#include <algorithm>
#include <cstring>

#include "core/ops_common.h"

namespace mad {

// ---- reshape: y has x's elements in the same order ----------------------------------------------------
Var reshape(Var x, std::span<const int64_t> dims_in) {
  Tape& tape = detail::tape_of(x, "reshape");
  MAD_CHECK(dims_in.size() <= kMaxRank, "reshape: at most {} dimensions", kMaxRank);
  int64_t dims[kMaxRank];
  int infer = -1;
  int64_t known = 1;
  for (size_t d = 0; d < dims_in.size(); ++d) {
    dims[d] = dims_in[d];
    if (dims[d] == -1) {
      MAD_CHECK(infer < 0, "reshape: at most one dimension may be -1 (reshaping {})", x.shape().str());
      infer = static_cast<int>(d);
    } else {
      MAD_CHECK(dims[d] >= 0, "reshape: negative dimension {} (reshaping {})", dims[d], x.shape().str());
      known *= dims[d];
    }
  }
  const int64_t n = x.value().numel();
  if (infer >= 0) {
    MAD_CHECK(known > 0 && n % known == 0, "reshape: cannot infer the -1 dimension for {} elements of {}", n,
              x.shape().str());
    dims[infer] = n / known;
  }
  return tape.record(OpId::reshape, {x}, x.value().reshape(Shape(std::span<const int64_t>(dims, dims_in.size()))));
}

void backward_reshape(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  tape.add_grad(ix, tape.grad(n.output).reshape(tape.value(ix).shape()), true);
}

// ---- permute: y[i_dims[0], ..., i_dims[r-1]] = x[i_0, ..., i_{r-1}] ----------------------------------
namespace {

// Copies src into dst where dst = permute(src, dims); with `add`, dst-shaped data is added back into
// src-shaped memory instead (the backward direction).
template <typename T>
void permute_copy(const T* src, const Shape& src_shape, std::span<const int> dims, T* dst, bool inverse_add,
                  T* src_acc, const T* dst_grad) {
  const int r = src_shape.rank();
  int64_t src_strides[kMaxRank];
  int64_t s = 1;
  for (int d = r - 1; d >= 0; --d) src_strides[d] = s, s *= src_shape[d];
  int64_t out_dims[kMaxRank], strides[kMaxRank];  // for each output axis: its size and source stride
  for (int d = 0; d < r; ++d) out_dims[d] = src_shape[dims[static_cast<size_t>(d)]], strides[d] = src_strides[dims[static_cast<size_t>(d)]];
  const int64_t total = src_shape.numel();
  int64_t idx[kMaxRank] = {};
  int64_t off = 0;
  for (int64_t o = 0; o < total; ++o) {
    if (inverse_add) src_acc[off] += dst_grad[o];
    else dst[o] = src[off];
    for (int d = r - 1; d >= 0; --d) {
      off += strides[d];
      if (++idx[d] < out_dims[d]) break;
      off -= strides[d] * out_dims[d];
      idx[d] = 0;
    }
  }
}

}  // namespace

Var permute(Var x, std::span<const int> dims) {
  Tape& tape = detail::tape_of(x, "permute");
  const Shape& s = x.shape();
  MAD_CHECK(static_cast<int>(dims.size()) == s.rank(), "permute: {} axes given for a tensor of shape {}", dims.size(),
            s.str());
  Shape out_shape;
  bool seen[kMaxRank] = {};
  OpAttrs attrs;
  for (size_t d = 0; d < dims.size(); ++d) {
    const int a = s.norm_axis(dims[d]);
    MAD_CHECK(!seen[a], "permute: axis {} appears twice; give each axis of {} once", a, s.str());
    seen[a] = true;
    out_shape.push_back(s[a]);
    attrs.i[d] = a;
  }
  Tensor out = tape.alloc(out_shape, x.dtype());
  dispatch_float(x.dtype(), "permute", [&]<typename T>() {
    const int normalized[kMaxRank] = {int(attrs.i[0]), int(attrs.i[1]), int(attrs.i[2]), int(attrs.i[3]), int(attrs.i[4]), int(attrs.i[5])};
    permute_copy<T>(x.value().template data<T>(), s, std::span<const int>(normalized, dims.size()), out.data<T>(),
                    false, nullptr, nullptr);
  });
  return tape.record(OpId::permute, {x}, out, attrs);
}

void backward_permute(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& x = tape.value(ix);
  const int dims[kMaxRank] = {int(n.attrs.i[0]), int(n.attrs.i[1]), int(n.attrs.i[2]), int(n.attrs.i[3]), int(n.attrs.i[4]), int(n.attrs.i[5])};
  dispatch_float(x.dtype(), "permute", [&]<typename T>() {
    permute_copy<T>(nullptr, x.shape(), std::span<const int>(dims, static_cast<size_t>(x.rank())), nullptr, true,
                    tape.grad_acc(ix).template data<T>(), tape.grad(n.output).template data<T>());
  });
}

Var transpose(Var x, int axis0, int axis1) {
  const int r = x.shape().rank();
  int dims[kMaxRank];
  for (int d = 0; d < r; ++d) dims[d] = d;
  std::swap(dims[x.shape().norm_axis(axis0)], dims[x.shape().norm_axis(axis1)]);
  return permute(x, std::span<const int>(dims, static_cast<size_t>(r)));
}

// ---- slice along one axis; x viewed as [outer, n, inner] --------------------------------------------
namespace {
struct AxisGeometry {
  int64_t outer, n, inner;
};
AxisGeometry axis_geometry(const Shape& s, int axis) { return {s.prod(0, axis), s[axis], s.prod(axis + 1, s.rank())}; }

// Copies (or adds) a [outer, len, inner] block between a tensor with `n` entries along the axis (at
// offset `begin`) and a tensor with `len` entries.
// The outer blocks are split across threads (the q/k/v split of a fused projection copies B*T rows).
template <typename T>
void block_copy(const AxisGeometry& g, int64_t begin, int64_t len, const T* from, bool from_is_big, T* to, bool add) {
  const int64_t block = len * g.inner;
  parallel_for(g.outer, std::max<int64_t>(1, detail::kParallelGrain / std::max<int64_t>(1, block)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      const int64_t big = (o * g.n + begin) * g.inner, small = o * block;
      const T* src = from + (from_is_big ? big : small);
      T* dst = to + (from_is_big ? small : big);
      if (add) {
        for (int64_t j = 0; j < block; ++j) dst[j] += src[j];
      } else {
        std::memcpy(dst, src, static_cast<size_t>(block) * sizeof(T));
      }
    }
  });
}
}  // namespace

Var slice(Var x, int axis_in, int64_t begin, int64_t end) {
  Tape& tape = detail::tape_of(x, "slice");
  const Shape& s = x.shape();
  const int axis = s.norm_axis(axis_in);
  MAD_CHECK(0 <= begin && begin <= end && end <= s[axis], "slice: range [{}, {}) is outside axis {} of shape {}",
            begin, end, axis_in, s.str());
  const AxisGeometry g = axis_geometry(s, axis);
  const Shape out_shape = s.with(axis, end - begin);
  Tensor out;
  if (g.outer == 1) {
    // A contiguous block: a view, no copy.
    out = Tensor::borrow(static_cast<std::byte*>(x.value().raw()) + static_cast<size_t>(begin * g.inner) * dtype_size(x.dtype()),
                         out_shape, x.dtype());
  } else {
    out = tape.alloc(out_shape, x.dtype());
    dispatch_float(x.dtype(), "slice", [&]<typename T>() {
      block_copy<T>(g, begin, end - begin, x.value().template data<T>(), true, out.data<T>(), false);
    });
  }
  OpAttrs attrs;
  attrs.i[0] = axis;
  attrs.i[1] = begin;
  attrs.i[2] = end;
  return tape.record(OpId::slice, {x}, out, attrs);
}

void backward_slice(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  const AxisGeometry g = axis_geometry(gx.shape(), static_cast<int>(n.attrs.i[0]));
  dispatch_float(gx.dtype(), "slice", [&]<typename T>() {
    block_copy<T>(g, n.attrs.i[1], n.attrs.i[2] - n.attrs.i[1], tape.grad(n.output).template data<T>(), false,
                  gx.data<T>(), true);
  });
}

// ---- concat along one axis -------------------------------------------------------------------------
Var concat(std::span<const Var> xs, int axis_in) {
  MAD_CHECK(!xs.empty(), "concat: needs at least one input");
  Tape& tape = detail::tape_of(xs[0], "concat");
  const Shape& s0 = xs[0].shape();
  const int axis = s0.norm_axis(axis_in);
  int64_t total = 0;
  for (const Var& v : xs) {
    detail::check_same_dtype(xs[0], v, "concat");
    bool ok = v.shape().rank() == s0.rank();
    for (int d = 0; ok && d < s0.rank(); ++d) ok = d == axis || v.shape()[d] == s0[d];
    MAD_CHECK(ok, "concat: shapes {} and {} differ outside axis {}", s0.str(), v.shape().str(), axis_in);
    total += v.shape()[axis];
  }
  const Shape out_shape = s0.with(axis, total);
  Tensor out = tape.alloc(out_shape, xs[0].dtype());
  const AxisGeometry g = axis_geometry(out_shape, axis);
  dispatch_float(out.dtype(), "concat", [&]<typename T>() {
    int64_t at = 0;
    for (const Var& v : xs) {
      const int64_t len = v.shape()[axis];
      block_copy<T>(g, at, len, v.value().template data<T>(), false, out.data<T>(), false);
      at += len;
    }
  });
  OpAttrs attrs;
  attrs.i[0] = axis;
  return tape.record(OpId::concat, xs, out, attrs);
}

void backward_concat(Tape& tape, const Node& n) {
  const Tensor& gy = tape.grad(n.output);
  const AxisGeometry g = axis_geometry(gy.shape(), static_cast<int>(n.attrs.i[0]));
  dispatch_float(gy.dtype(), "concat", [&]<typename T>() {
    int64_t at = 0;
    for (int k = 0; k < n.num_inputs; ++k) {
      const int32_t id = tape.input(n, k);
      const int64_t len = tape.value(id).dim(static_cast<int>(n.attrs.i[0]));
      if (tape.needs_grad(id)) block_copy<T>(g, at, len, gy.data<T>(), true, tape.grad_acc(id).template data<T>(), true);
      at += len;
    }
  });
}

void split(Var x, int axis, std::span<const int64_t> sizes, std::span<Var> out) {
  MAD_CHECK(sizes.size() == out.size(), "split: {} sizes but room for {} outputs", sizes.size(), out.size());
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  MAD_CHECK(total == x.dim(axis), "split: sizes add up to {} but axis {} of shape {} has {}", total, axis,
            x.shape().str(), x.dim(axis));
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    out[i] = slice(x, axis, at, at + sizes[i]);
    at += sizes[i];
  }
}

}  // namespace mad
