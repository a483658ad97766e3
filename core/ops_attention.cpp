// Attention ops: fused causal/sliding-window attention (kernels/attention.h) and rotary position
// embeddings.
#include <algorithm>
#include <cmath>

#include "core/ops_common.h"
#include "kernels/attention.h"

namespace mad {

// ---- attention: q, k, v [B, T, H, Dh] -> out [B, T, H, Dh]; saves lse [B, H, T] ------------------------
namespace {

struct AttentionGeometry {
  int64_t B, T, H, Dh;
  // One (batch, head) slice, read in place: q, k, v (and dq, dk, dv) with row stride dims.ld (H*Dh, or
  // 3*H*Dh in a packed projection), out and dout with row stride dims.ld_out = H*Dh.
  kernels::AttentionDims dims;
  int64_t slices() const { return B * H; }
  // Offset of slice s = b*H + h in the [B, T, H, Dh] result.
  int64_t offset(int64_t s) const { return (s / H) * T * H * Dh + (s % H) * Dh; }
  // Offset of slice s's q in the inputs (k, v of a packed projection follow at H*Dh, 2*H*Dh).
  int64_t input_offset(int64_t s) const { return (s / H) * T * dims.ld + (s % H) * Dh; }
};

AttentionGeometry attention_geometry(int64_t B, int64_t T, int64_t H, int64_t Dh, int64_t ld, bool causal,
                                     int64_t window) {
  AttentionGeometry g{B, T, H, Dh, {}};
  g.dims = {T, Dh, ld, H * Dh, causal, window};
  return g;
}

// The checks attention and attention_packed share (shape is the op's input, for the messages).
void check_attention_settings(const char* op, const Shape& shape, double scale, bool causal, int64_t window) {
  MAD_CHECK(window >= -1, "{}: window must be -1 (none) or >= 0 previous tokens, got {}", op, window);
  MAD_CHECK(causal || window == -1,
            "{}: a sliding window ({}) needs causal = true; pass window = -1 for non-causal attention", op, window);
  MAD_CHECK(std::isfinite(scale), "{}: scale must be finite, got {} (usually 1/sqrt(Dh)) for input {}", op, scale,
            shape.str());
}

// The packed ops' input: a projection qkv [B, T, 3*D] laid out (q | k | v), D = heads * Dh.
void check_packed_projection(const char* op, const Shape& s, int64_t heads) {
  MAD_CHECK(s.rank() == 3 && heads >= 1 && s[2] > 0 && s[2] % (3 * heads) == 0,
            "{}: needs a packed projection qkv [B, T, 3*D] (q | k | v) with D divisible by the {} heads, got {}", op,
            heads, s.str());
}

// Splits the B*H slices into one contiguous chunk per thread, each with its own scratch, so a slice (and
// its rows of dk, dv) is always computed by one thread in one order: results do not depend on timing.
template <typename Fn>
void for_each_slice(Tape& tape, const AttentionGeometry& g, size_t scratch_per_chunk, DType dtype, Fn&& fn) {
  const int64_t chunks = std::min<int64_t>(num_threads(), g.slices());
  const auto per = static_cast<int64_t>(scratch_per_chunk);
  Tensor scratch = tape.alloc(Shape{chunks * per}, dtype);
  dispatch_float(dtype, "attention", [&]<typename T_>() {
    T_* base = scratch.data<T_>();
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t s = g.slices() * c / chunks; s < g.slices() * (c + 1) / chunks; ++s) fn(s, base + c * per);
    });
  });
}

}  // namespace

Var attention(Var q, Var k, Var v, double scale, bool causal, int64_t window) {
  Tape& tape = detail::tape_of(q, "attention");
  detail::tape_of(k, "attention");
  detail::tape_of(v, "attention");
  detail::check_same_dtype(q, k, "attention");
  detail::check_same_dtype(q, v, "attention");
  const Shape& s = q.shape();
  MAD_CHECK(s.rank() == 4, "attention: needs q, k, v [B, T, H, Dh], got q {}; reshape a [B, T, H*Dh] projection "
            "to [B, T, H, Dh]", s.str());
  MAD_CHECK(k.shape() == s && v.shape() == s,
            "attention: q, k, v must have the same shape [B, T, H, Dh], got q {}, k {}, v {}", s.str(),
            k.shape().str(), v.shape().str());
  MAD_CHECK(s[3] > 0, "attention: head width Dh must be positive, got q {}", s.str());
  check_attention_settings("attention", s, scale, causal, window);
  const AttentionGeometry g = attention_geometry(s[0], s[1], s[2], s[3], s[2] * s[3], causal, window);
  Tensor out = tape.alloc(s, q.dtype());
  Tensor lse = tape.alloc(Shape{g.B, g.H, g.T}, q.dtype());
  const size_t scratch = kernels::attention_forward_scratch_size(g.T, g.Dh);
  for_each_slice(tape, g, scratch, q.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const int64_t o = g.offset(i);
    kernels::attention_forward<T_>(g.dims, static_cast<T_>(scale), q.value().template data<T_>() + o,
                                   k.value().template data<T_>() + o, v.value().template data<T_>() + o,
                                   out.data<T_>() + o, lse.data<T_>() + i * g.T, slice_scratch);
  });
  OpAttrs attrs;
  attrs.i[0] = causal;
  attrs.i[1] = window;
  attrs.f[0] = scale;
  return tape.record(OpId::attention, {q, k, v}, out, attrs, lse);
}

void backward_attention(Tape& tape, const Node& n) {
  const int32_t iq = tape.input(n, 0), ik = tape.input(n, 1), iv = tape.input(n, 2);
  const Tensor& out = tape.value(n.output);
  const Shape& s = out.shape();
  const AttentionGeometry g =
      attention_geometry(s[0], s[1], s[2], s[3], s[2] * s[3], n.attrs.i[0] != 0, n.attrs.i[1]);
  // Gradients are created before the threads start (grad_acc allocates from the arena).
  const Tensor no_grad;
  const Tensor& dq = tape.needs_grad(iq) ? tape.grad_acc(iq) : no_grad;
  const Tensor& dk = tape.needs_grad(ik) ? tape.grad_acc(ik) : no_grad;
  const Tensor& dv = tape.needs_grad(iv) ? tape.grad_acc(iv) : no_grad;
  const Tensor& dout = tape.grad(n.output);
  const size_t scratch = kernels::attention_backward_scratch_size(g.T, g.Dh);
  for_each_slice(tape, g, scratch, out.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const int64_t o = g.offset(i);
    auto at = [o](const Tensor& t) { return t.defined() ? t.data<T_>() + o : nullptr; };
    kernels::attention_backward<T_>(g.dims, static_cast<T_>(n.attrs.f[0]), at(tape.value(iq)), at(tape.value(ik)),
                                    at(tape.value(iv)), at(out), n.saved[0].data<T_>() + i * g.T, at(dout), at(dq),
                                    at(dk), at(dv), slice_scratch);
  });
}

// ---- attention_packed: qkv [B, T, 3*H*Dh] (q | k | v) -> out [B, T, H, Dh]; saves lse [B, H, T] --------
// The same kernel calls as attention on the three thirds, read in place with row stride 3*H*Dh: the
// result and every gradient are bit-identical to attention(q, k, v) on slices of qkv, without the slices.
namespace {

AttentionGeometry packed_geometry(const Shape& s, int64_t heads, bool causal, int64_t window) {
  const int64_t D = s[2] / 3;
  return attention_geometry(s[0], s[1], heads, D / heads, s[2], causal, window);
}

}  // namespace

Var attention_packed(Var qkv, int64_t heads, double scale, bool causal, int64_t window) {
  Tape& tape = detail::tape_of(qkv, "attention_packed");
  const Shape& s = qkv.shape();
  check_packed_projection("attention_packed", s, heads);
  check_attention_settings("attention_packed", s, scale, causal, window);
  const AttentionGeometry g = packed_geometry(s, heads, causal, window);
  const int64_t D = g.H * g.Dh;
  Tensor out = tape.alloc(Shape{g.B, g.T, g.H, g.Dh}, qkv.dtype());
  Tensor lse = tape.alloc(Shape{g.B, g.H, g.T}, qkv.dtype());
  const size_t scratch = kernels::attention_forward_scratch_size(g.T, g.Dh);
  for_each_slice(tape, g, scratch, qkv.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const T_* q = qkv.value().template data<T_>() + g.input_offset(i);
    kernels::attention_forward<T_>(g.dims, static_cast<T_>(scale), q, q + D, q + 2 * D, out.data<T_>() + g.offset(i),
                                   lse.data<T_>() + i * g.T, slice_scratch);
  });
  OpAttrs attrs;
  attrs.i[0] = causal;
  attrs.i[1] = window;
  attrs.i[2] = heads;
  attrs.f[0] = scale;
  return tape.record(OpId::attention_packed, {qkv}, out, attrs, lse);
}

// dq, dk, dv accumulate straight into the three thirds of qkv's one gradient.
void backward_attention_packed(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& qkv = tape.value(ix);
  const AttentionGeometry g = packed_geometry(qkv.shape(), n.attrs.i[2], n.attrs.i[0] != 0, n.attrs.i[1]);
  const int64_t D = g.H * g.Dh;
  const Tensor& dqkv = tape.grad_acc(ix);  // created before the threads start
  const Tensor& out = tape.value(n.output);
  const Tensor& dout = tape.grad(n.output);
  const size_t scratch = kernels::attention_backward_scratch_size(g.T, g.Dh);
  for_each_slice(tape, g, scratch, qkv.dtype(), [&]<typename T_>(int64_t i, T_* slice_scratch) {
    const int64_t o = g.input_offset(i), oo = g.offset(i);
    const T_* q = qkv.data<T_>() + o;
    T_* dq = dqkv.data<T_>() + o;
    kernels::attention_backward<T_>(g.dims, static_cast<T_>(n.attrs.f[0]), q, q + D, q + 2 * D, out.data<T_>() + oo,
                                    n.saved[0].data<T_>() + i * g.T, dout.data<T_>() + oo, dq, dq + D, dq + 2 * D,
                                    slice_scratch);
  });
}

// ---- rotary: x [B, T, H, Dh] -> same; saves the cos and sin tables [T, rotary_dim/2] -----------------
namespace {

// cos/sin [T, half] of angle(t, i) = t * inv_freq_i, inv_freq_i = 1 / base^(2i / rotary_dim), computed in
// T_'s precision step by step as PyTorch does for that dtype (for float32: the exponent, the power, the
// reciprocal and the product each rounded to float32), so a PyTorch model matches to float32 rounding.
// The cosine and sine are evaluated in double from the rounded angle and rounded once.
template <typename T_>
void rotary_tables(int64_t T, int64_t rotary_dim, double base, T_* cos_t, T_* sin_t) {
  const int64_t half = rotary_dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const T_ exponent = static_cast<T_>(2 * i) / static_cast<T_>(rotary_dim);
    const T_ inv_freq = T_(1) / std::pow(static_cast<T_>(base), exponent);
    for (int64_t t = 0; t < T; ++t) {
      const double angle = static_cast<T_>(t) * inv_freq;
      cos_t[t * half + i] = static_cast<T_>(std::cos(angle));
      sin_t[t * half + i] = static_cast<T_>(std::sin(angle));
    }
  }
}

// How rotary_apply writes dst.
enum class Rotation {
  forward,            // dst = R x
  transpose_add,      // dst += R^T x
  transpose_in_place  // dst = R^T dst (src == dst)
};

// rows of ld elements, position t = row % T, each holding `heads` heads of Dh channels at h*Dh (a
// [B, T, H, Dh] tensor: rows = B*T, ld = H*Dh; the q | k part of a packed projection: heads = 2H,
// ld = 3*H*Dh). For each head, with c = cos, s = sin of the pair (i, i+half):
//   forward   y_i = x_i c - x_{i+half} s,    y_{i+half} = x_{i+half} c + x_i s
//   transpose y_i (+)= x_i c + x_{i+half} s,  y_{i+half} (+)= x_{i+half} c - x_i s
// and channels from rotary_dim on are copied (forward), added (transpose_add) or kept (in place). The
// transpose's two products are one expression in both forms, so they round the same way: in place on a
// gradient equals adding into a zero-filled one bit for bit.
template <typename T_, Rotation kMode>
void rotary_apply(const T_* src, T_* dst, const T_* cos_t, const T_* sin_t, int64_t rows, int64_t T, int64_t heads,
                  int64_t Dh, int64_t rotary_dim, int64_t ld) {
  const int64_t half = rotary_dim / 2;
  parallel_for(rows, std::max<int64_t>(1, detail::kParallelGrain / (heads * Dh)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T_* c = cos_t + (r % T) * half;
      const T_* s = sin_t + (r % T) * half;
      for (int64_t h = 0; h < heads; ++h) {
        const T_* x = src + r * ld + h * Dh;
        T_* y = dst + r * ld + h * Dh;
        for (int64_t i = 0; i < half; ++i) {
          const T_ lo = x[i], hi = x[i + half];
          if constexpr (kMode == Rotation::forward) {
            y[i] = lo * c[i] - hi * s[i];
            y[i + half] = hi * c[i] + lo * s[i];
          } else {
            const T_ first = lo * c[i] + hi * s[i];
            const T_ second = hi * c[i] - lo * s[i];
            if constexpr (kMode == Rotation::transpose_add) {
              y[i] += first;
              y[i + half] += second;
            } else {
              y[i] = first;
              y[i + half] = second;
            }
          }
        }
        if constexpr (kMode == Rotation::forward)
          for (int64_t i = rotary_dim; i < Dh; ++i) y[i] = x[i];
        if constexpr (kMode == Rotation::transpose_add)
          for (int64_t i = rotary_dim; i < Dh; ++i) y[i] += x[i];
      }
    }
  });
}

// rotary_dim as given (-1: all of Dh), checked.
int64_t checked_rotary_dim(const char* op, int64_t rotary_dim, int64_t Dh, double base, const Shape& shape) {
  const int64_t rd = rotary_dim == -1 ? Dh : rotary_dim;
  MAD_CHECK(rd > 0 && rd % 2 == 0 && rd <= Dh,
            "{}: rotary_dim must be even, positive and <= Dh = {} (or -1 for all of Dh), got {} for x {}", op, Dh,
            rotary_dim, shape.str());
  MAD_CHECK(base > 0 && std::isfinite(base), "{}: base must be positive and finite, got {}", op, base);
  return rd;
}

}  // namespace

Var rotary(Var x, double base, int64_t rotary_dim) {
  Tape& tape = detail::tape_of(x, "rotary");
  const Shape& s = x.shape();
  MAD_CHECK(s.rank() == 4, "rotary: needs x [B, T, H, Dh], got {}; reshape a [B, T, H*Dh] projection to "
            "[B, T, H, Dh]", s.str());
  const int64_t Dh = s[3];
  const int64_t rd = checked_rotary_dim("rotary", rotary_dim, Dh, base, s);
  Tensor out = tape.alloc(s, x.dtype());
  Tensor cos_t = tape.alloc(Shape{s[1], rd / 2}, x.dtype());
  Tensor sin_t = tape.alloc(Shape{s[1], rd / 2}, x.dtype());
  dispatch_float(x.dtype(), "rotary", [&]<typename T_>() {
    rotary_tables<T_>(s[1], rd, base, cos_t.data<T_>(), sin_t.data<T_>());
    rotary_apply<T_, Rotation::forward>(x.value().template data<T_>(), out.data<T_>(), cos_t.data<T_>(),
                                        sin_t.data<T_>(), s[0] * s[1], s[1], s[2], Dh, rd, s[2] * Dh);
  });
  OpAttrs attrs;
  attrs.i[0] = rd;
  return tape.record(OpId::rotary, {x}, out, attrs, cos_t, sin_t);
}

// The rotation is linear in x, so its backward is the transposed rotation (the angle negated) of dy.
void backward_rotary(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  const Shape& s = gx.shape();
  dispatch_float(gx.dtype(), "rotary", [&]<typename T_>() {
    rotary_apply<T_, Rotation::transpose_add>(tape.grad(n.output).template data<T_>(), gx.data<T_>(),
                                              n.saved[0].data<T_>(), n.saved[1].data<T_>(), s[0] * s[1], s[1], s[2],
                                              s[3], n.attrs.i[0], s[2] * s[3]);
  });
}

// ---- rotary_qk: qkv [B, T, 3*H*Dh] (q | k | v) -> same, q and k rotated as by rotary, v unchanged ------
Var rotary_qk(Var qkv, int64_t heads, double base, int64_t rotary_dim) {
  Tape& tape = detail::tape_of(qkv, "rotary_qk");
  const Shape& s = qkv.shape();
  check_packed_projection("rotary_qk", s, heads);
  const int64_t B = s[0], T = s[1], D = s[2] / 3, Dh = D / heads;
  const int64_t rd = checked_rotary_dim("rotary_qk", rotary_dim, Dh, base, s);
  // Each element is written after it is read, by the same thread: the projection's memory can take the
  // result when nothing else reads it (the caller's promise) and its op's backward does not either.
  const bool in_place = tape.can_overwrite(qkv);
  Tensor out = in_place ? qkv.value() : tape.alloc(s, qkv.dtype());
  Tensor cos_t = tape.alloc(Shape{T, rd / 2}, qkv.dtype());
  Tensor sin_t = tape.alloc(Shape{T, rd / 2}, qkv.dtype());
  dispatch_float(qkv.dtype(), "rotary_qk", [&]<typename T_>() {
    const T_* x = qkv.value().template data<T_>();
    T_* y = out.data<T_>();
    rotary_tables<T_>(T, rd, base, cos_t.data<T_>(), sin_t.data<T_>());
    // q and k are 2H consecutive heads of each row.
    rotary_apply<T_, Rotation::forward>(x, y, cos_t.data<T_>(), sin_t.data<T_>(), B * T, T, 2 * heads, Dh, rd, 3 * D);
    if (!in_place)
      parallel_for(B * T, std::max<int64_t>(1, detail::kParallelGrain / D), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::copy_n(x + r * 3 * D + 2 * D, D, y + r * 3 * D + 2 * D);
      });
  });
  OpAttrs attrs;
  attrs.i[0] = rd;
  attrs.i[1] = heads;
  return tape.record(OpId::rotary_qk, {qkv}, out, attrs, cos_t, sin_t);
}

// The transposed rotation of the q and k parts of dy, in dy's own buffer (nothing reads it after this
// rule), which then becomes qkv's gradient: no new buffer, no zero-fill, and v's part is already in place.
void backward_rotary_qk(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& g = tape.grad(n.output);
  const Shape& s = g.shape();
  const int64_t heads = n.attrs.i[1], D = s[2] / 3;
  dispatch_float(g.dtype(), "rotary_qk", [&]<typename T_>() {
    T_* dy = g.data<T_>();
    rotary_apply<T_, Rotation::transpose_in_place>(dy, dy, n.saved[0].data<T_>(), n.saved[1].data<T_>(), s[0] * s[1],
                                                   s[1], 2 * heads, D / heads, n.attrs.i[0], 3 * D);
  });
  tape.add_grad(ix, g, /*may_adopt=*/true);
}

}  // namespace mad
