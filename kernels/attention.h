// Fused (flash-style) scaled dot-product attention for one (batch, head) slice.
//
// Shapes: q, k, v, dq, dk, dv are [L, Dh] matrices whose rows are `ld` elements apart and out, dout [L, Dh]
// matrices whose rows are `ld_out` apart, so the kernels read a head of the [B, L, H, Dh] layout in place
// (ld = ld_out = H*Dh) without a permute, or of a packed [B, L, 3*H*Dh] projection (q | k | v) with
// ld = 3*H*Dh and ld_out = H*Dh (the attention_packed op); lse is [L], contiguous. The strides change no
// arithmetic: results are bit-identical for any ld, ld_out.
//   out_i = sum_j P_ij v_j,   P_ij = exp(scale * q_i.k_j - lse_i) over the keys j visible to query i,
//   lse_i = log sum_j exp(scale * q_i.k_j)   (the row's log-sum-exp, saved for backward),
// where, with `causal`, key j is visible to query i iff j <= i, and with window >= 0 also j >= i - window
// (`window` previous tokens plus self); without `causal` every key is visible (window must be -1).
//
// Forward never forms the [L, L] score matrix: it walks query tiles of kAttentionQueryTile rows and,
// inside each, key tiles of kAttentionKeyTile rows, keeping a running maximum and sum per row (the online
// softmax), and skips key tiles that causality or the window hide entirely. Backward (FlashAttention-2)
// recomputes P tile by tile from lse and, with D_i = dout_i . out_i:
//   dv_j += sum_i P_ij dout_i,   dS_ij = P_ij (dout_i . v_j - D_i),
//   dq_i += scale sum_j dS_ij k_j,   dk_j += scale sum_i dS_ij q_i.
// Gradients ACCUMULATE (+=) into dq, dk, dv, each of which may be null to skip it.
//
// Single-threaded, no heap allocation: the caller passes scratch of the size the *_scratch_size functions
// give. Outputs must not overlap inputs or the scratch; dq, dk, dv may coincide (each is only added to).
// T is float or double, deduced from q; scale, scratch and the nullable gradients are
// std::type_identity_t<T> so that a double scale or a literal nullptr can be passed. Preconditions throw
// std::invalid_argument naming the function.
//
// Float32 heads of Dh = 4, 8 or 16 (the MAD models' 16 heads of 8) take kernels/attention_narrow_heads.h:
// the same mathematics with one query (forward) or key (backward) per vector lane, 1.5-2x faster than the
// tiles at Dh = 8 (docs/performance.md). Other widths and float64 take the tiles below, whose products go
// through the SGEMM of the active instruction set (kernels/isa/attention.cpp; the algorithm is
// kernels/attention_impl.h). Measured (with Eigen's products, AVX2) against hand-written
// loops on one thread
// (float32, causal, B*H slices of [B, T, H, Dh]; ns per visible score entry, forward / backward):
//                                              Dh = 8, T = 1024    Dh = 128, T = 512
//   gemm                                         3.4 / 5.5           12.5 / 29
//   loops, Dh innermost                          6.1 / 15              38 / 101
//   loops vectorised along the key tile          4.3 / 6.1             30 / 69
// so loops win nothing at Dh = 8 and lose 2x or more at Dh = 128 (bench/bench_attention.cpp gives the
// op-level figures). Tiles are 64 x 64: query/key tiles of 32/64, 64/64, 128/64, 64/128, 128/128 and
// 256/128 rows were within noise of each other (+-20% on this shared machine) at T >= 512, while larger
// tiles waste more work on the diagonal at T = 128 (the masked half of a diagonal tile is still
// multiplied: 64/128 and 128/128 took 1.6x-1.9x the backward time of 64/64) and 32-row tiles make more
// calls; 64 x 64 was at or near the best at every shape and keeps a score tile at 16 KiB (float32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

// Rows of q resp. k/v per tile (measured; see the top of this file).
inline constexpr int64_t kAttentionQueryTile = 64;
inline constexpr int64_t kAttentionKeyTile = 64;

// The geometry shared by every operand of one slice.
struct AttentionDims {
  int64_t L;   // sequence length (queries = keys)
  int64_t Dh;  // head width
  int64_t ld;      // row stride, in elements, of q, k, v, dq, dk, dv (>= Dh)
  int64_t ld_out;  // row stride of out and dout (>= Dh)
  bool causal;
  int64_t window;  // -1: no window; >= 0 only with causal
};

// Scratch in elements of T: forward needs the tiles only, backward also D [L].
std::size_t attention_forward_scratch_size(int64_t L, int64_t Dh);
std::size_t attention_backward_scratch_size(int64_t L, int64_t Dh);

// out [L, Dh] (stride ld_out) and lse [L] are overwritten.
template <typename T>
void attention_forward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k,
                       const T* v, T* out, T* lse, std::type_identity_t<T>* scratch);

// dq, dk, dv [L, Dh] (stride ld) += ..., each nullable. out and lse are the forward's results.
template <typename T>
void attention_backward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k,
                        const T* v, const T* out, const T* lse, const T* dout, std::type_identity_t<T>* dq,
                        std::type_identity_t<T>* dk, std::type_identity_t<T>* dv,
                        std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
