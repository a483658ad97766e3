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
  kernels::AttentionDims dims;  // one (batch, head) slice, read in place with row stride H*Dh
  int64_t slices() const { return B * H; }
  // Offset of slice s = b*H + h in a [B, T, H, Dh] tensor.
  int64_t offset(int64_t s) const { return (s / H) * T * H * Dh + (s % H) * Dh; }
};

AttentionGeometry attention_geometry(const Shape& s, bool causal, int64_t window) {
  AttentionGeometry g{s[0], s[1], s[2], s[3], {}};
  g.dims = {g.T, g.Dh, g.H * g.Dh, causal, window};
  return g;
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
  MAD_CHECK(window >= -1, "attention: window must be -1 (none) or >= 0 previous tokens, got {}", window);
  MAD_CHECK(causal || window == -1,
            "attention: a sliding window ({}) needs causal = true; pass window = -1 for non-causal attention",
            window);
  MAD_CHECK(std::isfinite(scale), "attention: scale must be finite, got {} (usually 1/sqrt(Dh))", scale);
  const AttentionGeometry g = attention_geometry(s, causal, window);
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
  const AttentionGeometry g = attention_geometry(out.shape(), n.attrs.i[0] != 0, n.attrs.i[1]);
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

// For each head row of x [B*T*H rows, Dh] at position t, with c = cos, s = sin of the pair (i, i+half):
//   forward   y_i = x_i c - x_{i+half} s,    y_{i+half} = x_{i+half} c + x_i s
//   transpose dx_i += dy_i c + dy_{i+half} s,  dx_{i+half} += dy_{i+half} c - dy_i s
// and channels from rotary_dim on are copied (forward) or added (transpose) unchanged.
template <typename T_, bool kTranspose>
void rotary_apply(const T_* src, T_* dst, const T_* cos_t, const T_* sin_t, int64_t B, int64_t T, int64_t H,
                  int64_t Dh, int64_t rotary_dim) {
  const int64_t half = rotary_dim / 2;
  parallel_for(B * T, std::max<int64_t>(1, detail::kParallelGrain / (H * Dh)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T_* c = cos_t + (r % T) * half;
      const T_* s = sin_t + (r % T) * half;
      for (int64_t h = 0; h < H; ++h) {
        const T_* x = src + (r * H + h) * Dh;
        T_* y = dst + (r * H + h) * Dh;
        for (int64_t i = 0; i < half; ++i) {
          const T_ lo = x[i], hi = x[i + half];
          if constexpr (kTranspose) {
            y[i] += lo * c[i] + hi * s[i];
            y[i + half] += hi * c[i] - lo * s[i];
          } else {
            y[i] = lo * c[i] - hi * s[i];
            y[i + half] = hi * c[i] + lo * s[i];
          }
        }
        for (int64_t i = rotary_dim; i < Dh; ++i) y[i] = kTranspose ? y[i] + x[i] : x[i];
      }
    }
  });
}

}  // namespace

Var rotary(Var x, double base, int64_t rotary_dim) {
  Tape& tape = detail::tape_of(x, "rotary");
  const Shape& s = x.shape();
  MAD_CHECK(s.rank() == 4, "rotary: needs x [B, T, H, Dh], got {}; reshape a [B, T, H*Dh] projection to "
            "[B, T, H, Dh]", s.str());
  const int64_t Dh = s[3];
  const int64_t rd = rotary_dim == -1 ? Dh : rotary_dim;
  MAD_CHECK(rd > 0 && rd % 2 == 0 && rd <= Dh,
            "rotary: rotary_dim must be even, positive and <= Dh = {} (or -1 for all of Dh), got {} for x {}", Dh,
            rotary_dim, s.str());
  MAD_CHECK(base > 0 && std::isfinite(base), "rotary: base must be positive and finite, got {}", base);
  Tensor out = tape.alloc(s, x.dtype());
  Tensor cos_t = tape.alloc(Shape{s[1], rd / 2}, x.dtype());
  Tensor sin_t = tape.alloc(Shape{s[1], rd / 2}, x.dtype());
  dispatch_float(x.dtype(), "rotary", [&]<typename T_>() {
    rotary_tables<T_>(s[1], rd, base, cos_t.data<T_>(), sin_t.data<T_>());
    rotary_apply<T_, false>(x.value().template data<T_>(), out.data<T_>(), cos_t.data<T_>(), sin_t.data<T_>(), s[0],
                            s[1], s[2], Dh, rd);
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
    rotary_apply<T_, true>(tape.grad(n.output).template data<T_>(), gx.data<T_>(), n.saved[0].data<T_>(),
                           n.saved[1].data<T_>(), s[0], s[1], s[2], s[3], n.attrs.i[0]);
  });
}

}  // namespace mad
