// Differentiable ops on tape values. Each records one node of the op table (core/op_list.h); forward and
// backward of each op are written side by side in core/ops_*.cpp.
//
// Shape letters: B batch, T sequence length, D width, H heads, V vocabulary, K kernel size, "..." any
// leading dimensions. Unless stated otherwise ops keep the input's dtype (float32 or float64), results
// live in the tape's arena, and shape or argument errors name the op, the shapes and the likely cause.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>

#include "core/tape.h"

namespace mad {

// ---- linear algebra (ops_linalg.cpp) ----------------------------------------------------------------
// a [..., M, K] (or [..., K, M] with trans_a), b [K, N] (or [N, K] with trans_b) shared by every leading
// index, or b [..., K, N] with the same leading dimensions as a (batched). Result [..., M, N].
Var matmul(Var a, Var b, bool trans_a = false, bool trans_b = false);
// x [..., in], weight [out, in], bias [out] or undefined -> x weight^T + bias [..., out]: matmul(x, weight,
// false, true) + bias in one op (the product adds into rows that start as the bias).
Var linear(Var x, Var weight, Var bias = Var());

// ---- elementwise binary with numpy broadcasting (ops_binary.cpp) -------------------------------------
Var add(Var a, Var b);
Var sub(Var a, Var b);
Var mul(Var a, Var b);
Var div(Var a, Var b);
Var add_scalar(Var a, double s);
// a + b, written into b's memory when a and b have the same shape and the tape allows it
// (Tape::can_overwrite: b's producer never reads its result): for a caller that is b's only consumer,
// like the residual x + layer(x), it saves a tensor per layer. Otherwise exactly add(a, b).
Var add_into(Var a, Var b);
Var mul_scalar(Var a, double s);

inline Var operator+(Var a, Var b) { return add(a, b); }
inline Var operator-(Var a, Var b) { return sub(a, b); }
inline Var operator*(Var a, Var b) { return mul(a, b); }
inline Var operator/(Var a, Var b) { return div(a, b); }
inline Var operator+(Var a, double s) { return add_scalar(a, s); }
inline Var operator-(Var a, double s) { return add_scalar(a, -s); }
inline Var operator*(Var a, double s) { return mul_scalar(a, s); }
inline Var operator*(double s, Var a) { return mul_scalar(a, s); }

// ---- elementwise unary (ops_unary.cpp) --------------------------------------------------------------
Var neg(Var x);
Var exp(Var x);
Var log(Var x);
Var sqrt(Var x);
Var rsqrt(Var x);
Var abs(Var x);
Var square(Var x);
Var pow(Var x, double p);  // x^p; for non-integer p, x must be positive
Var tanh(Var x);
Var sigmoid(Var x);
Var log_sigmoid(Var x);
Var softplus(Var x);
Var relu(Var x);
Var silu(Var x);
Var gelu_tanh(Var x);  // PyTorch GELU(approximate="tanh")
Var gelu_erf(Var x);   // PyTorch GELU() (exact)
Var sin(Var x);
Var cos(Var x);
inline Var operator-(Var x) { return neg(x); }

// ---- fused elementwise (ops_fused.cpp) ---------------------------------------------------------------
// silu(a) * b in one pass forward and backward (the SwiGLU gate); a and b of the same shape.
Var swiglu_gate(Var a, Var b);

// ---- reductions over one axis (ops_reduce.cpp) -------------------------------------------------------
Var sum(Var x, int axis, bool keepdim = false);
Var mean(Var x, int axis, bool keepdim = false);
Var max(Var x, int axis, bool keepdim = false);  // gradient flows to the first maximum
Var sum_all(Var x);                              // [] -> shape [1]
Var mean_all(Var x);

// ---- softmax family (ops_softmax.cpp) --------------------------------------------------------------
Var softmax(Var x);      // over the last axis
Var log_softmax(Var x);  // over the last axis
// logits [..., V], targets int32 [...] (same leading shape). Mean over positions whose target is not
// ignore_index; shape [1]. Targets outside [0, V) (other than ignore_index) are an error.
Var cross_entropy(Var logits, const Tensor& targets, int32_t ignore_index = -100);

// ---- normalisation over the last axis, per group (ops_norm.cpp) ---------------------------------------
// x [..., G*Dg], weight [G*Dg] or undefined (no scale), bias [G*Dg] or undefined. The statistics are
// computed separately over each of `groups` contiguous slices of the last axis (groups = heads gives the
// per-head norm of xLSTM and gated linear attention).
Var rms_norm(Var x, Var weight, double eps, int64_t groups = 1);
Var layer_norm(Var x, Var weight, Var bias, double eps, int64_t groups = 1);

// ---- shape (ops_shape.cpp) ---------------------------------------------------------------------------
// A view: no copy. One dimension may be -1 (inferred).
Var reshape(Var x, std::span<const int64_t> dims);
inline Var reshape(Var x, std::initializer_list<int64_t> dims) { return reshape(x, std::span<const int64_t>(dims.begin(), dims.size())); }
inline Var reshape(Var x, const Shape& shape) { return reshape(x, shape.dims()); }
Var permute(Var x, std::span<const int> dims);
inline Var permute(Var x, std::initializer_list<int> dims) { return permute(x, std::span<const int>(dims.begin(), dims.size())); }
Var transpose(Var x, int axis0, int axis1);
Var slice(Var x, int axis, int64_t begin, int64_t end);  // [begin, end) along axis
Var concat(std::span<const Var> xs, int axis);
inline Var concat(std::initializer_list<Var> xs, int axis) { return concat(std::span<const Var>(xs.begin(), xs.size()), axis); }
// Splits along `axis` into pieces of the given sizes (a composite of slices); writes out[i].
void split(Var x, int axis, std::span<const int64_t> sizes, std::span<Var> out);

// ---- selection (ops_select.cpp) -----------------------------------------------------------------------
// weight [V, D], ids int32 [...] -> [..., D]. Ids outside [0, V) are an error.
Var embedding(Var weight, const Tensor& ids);
// cond int32 (nonzero = take a), a and b broadcast to cond's shape.
Var where(const Tensor& cond, Var a, Var b);
// Keeps the k largest entries of each row of the last axis (ties: the lower index wins) and sets the
// others to `fill` (0 for MAD's MoE router, -inf for masking).
Var topk_mask(Var x, int64_t k, double fill);
// Inverted dropout: zeroes each entry with probability p and scales the rest by 1/(1-p). The mask comes
// from a generator seeded with `seed`, so a run is reproducible.
Var dropout(Var x, double p, uint64_t seed);

// ---- sequence ops (ops_sequence.cpp) -----------------------------------------------------------------
// scores [..., Tq, Tk]: entry (i, j) is kept when j <= i + (Tk - Tq) and, with window >= 0, when
// j >= i + (Tk - Tq) - window; others are set to fill.
Var causal_mask(Var scores, double fill = -std::numeric_limits<double>::infinity(), int64_t window = -1);
Var cumsum(Var x, int axis, bool reverse = false);
// x [B, T, C], weight [C, K], bias [C] or undefined: y[b,t,c] = bias[c] + sum_j w[c,j] x[b,t-K+1+j,c].
Var depthwise_conv1d(Var x, Var weight, Var bias);
// x [B, T, C], filter h [T, C]: y[b,t,c] = sum_{s<=t} h[t-s,c] x[b,s,c]. `automatic` picks the direct
// kernel for short T and the FFT kernel (zero-padded to >= 2T) for long T; both give the same result.
enum class ConvKernel { automatic, direct, fft };
Var long_conv(Var x, Var h, ConvKernel kernel = ConvKernel::automatic);

// ---- attention (ops_attention.cpp) -------------------------------------------------------------------
// q, k, v [B, T, H, Dh] (the layout a [B, T, H*Dh] projection reshapes to, no permute needed) -> out [B, T, H, Dh].
// out = softmax(scale * q k^T + mask) v per (batch, head); causal: key j visible to query i iff j <= i; with
// window >= 0 also j >= i - window (sliding attention: `window` previous tokens plus self). Non-causal
// attention sees every key and takes no window.
// Never materialises the [B, H, T, T] score tensor: tiled with an online softmax; saves only the per-row
// log-sum-exp [B, H, T] for backward, which recomputes the probabilities tile by tile (kernels/attention.h).
// Slices (batch, head) are spread over threads; each is computed by one thread, so results are deterministic.
Var attention(Var q, Var k, Var v, double scale, bool causal = true, int64_t window = -1);

// x [B, T, H, Dh] -> rotary position embedding on the first `rotary_dim` channels of each head (even, <= Dh;
// default all), rotate-half (GPT-NeoX) convention, as in the MAD reference: with half = rotary_dim/2,
// inv_freq_i = 1 / base^(2i / rotary_dim), angle(t, i) = t * inv_freq_i, cos/sin tables of width rotary_dim
// built as cat(angles, angles);  y = x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[half:], x[:half]).
// Channels past rotary_dim pass through unchanged. Position t starts at 0. In float32 the angles are
// computed in float32 as PyTorch does (inv_freq then torch.outer), so a PyTorch model matches to float32
// rounding; in float64 in double. Saves the cos and sin tables [T, rotary_dim/2].
Var rotary(Var x, double base = 10000.0, int64_t rotary_dim = -1);

// The packed forms of rotary and attention, for a fused projection qkv [B, T, 3*D] laid out (q | k | v),
// `heads` heads of Dh = D/heads channels contiguous within each third; they spare the three slices of qkv,
// the two rotated copies and the slice gradients (the attention layer's activations).
// rotary_qk: qkv -> [B, T, 3*D], the q and k thirds rotated exactly as rotary rotates [B, T, H, Dh] (bit for
// bit), v unchanged. When Tape::can_overwrite(qkv) it rotates in place and returns a value sharing qkv's
// memory: the caller must then be qkv's only consumer. Backward rotates the output gradient back in its
// own buffer and hands it to qkv.
Var rotary_qk(Var qkv, int64_t heads, double base = 10000.0, int64_t rotary_dim = -1);
// attention_packed: qkv -> out [B, T, heads, Dh], equal bit for bit (value and gradient) to attention(q, k,
// v, ...) on the thirds reshaped to [B, T, heads, Dh]; the gradients of q, k, v go straight into qkv's.
Var attention_packed(Var qkv, int64_t heads, double scale, bool causal = true, int64_t window = -1);

// ---- linear attention (ops_linear_attention.cpp) ------------------------------------------------------
// q, k [B, T, H, Dk], v [B, T, H, Dv], log_decay [B, T, H, Dk] (entries <= 0, e.g. a log-sigmoid) or
// undefined (no decay) -> out [B, T, H, Dv]. With G_t = sum_{s<=t} log_decay_s (0 when undefined):
//   out_t = sum_{j<=t} ( sum_d q_t[d] k_j[d] exp(G_t[d] - G_j[d]) ) v_j
// i.e. the recurrence S_t = diag(exp(log_decay_t)) S_{t-1} + k_t v_t^T, out_t = S_t^T q_t per (batch, head):
// unnormalised causal linear attention, and gated linear attention with a per-key-channel decay. Computed
// chunkwise (chunks of `chunk` steps, kernels/linear_attention.h): O(T*chunk*Dk + T*Dk*Dv) per slice, no
// [T, T] or per-step state tensor. Saves nothing; backward recomputes the chunk-boundary states.
// Slices (batch, head) are spread over threads; each is computed by one thread (deterministic).
Var causal_linear_attention(Var q, Var k, Var v, Var log_decay = Var(), int64_t chunk = 16);

// ---- selective scan (ops_selective_scan.cpp) ---------------------------------------------------------
// Mamba's S6 recurrence. x, dt [B, T, C] (dt > 0, e.g. a softplus), A [C, N] (negative for decay),
// Bm, Cm [B, T, N] (shared by all channels) -> y [B, T, C]: per (batch, channel), from h_{-1} = 0,
//   h_t[n] = exp(dt_t A[n]) h_{t-1}[n] + dt_t Bm_t[n] x_t,   y_t = sum_n Cm_t[n] h_t[n]
// (kernels/selective_scan.h). Saves nothing; backward recomputes the states. (Sequence, block of 64
// channels) tasks are spread over threads; results do not depend on the thread count.
Var selective_scan(Var x, Var dt, Var A, Var Bm, Var Cm);

}  // namespace mad
