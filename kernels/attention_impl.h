// The fused attention algorithm of kernels/attention.h, written once for any element type and any source
// of tile products. kernels/attention.cpp instantiates it for float64 (Eigen's products, the gradient
// checks) and kernels/isa/attention.cpp for float32 once per instruction set (that set's SGEMM).
//
// Products must provide
//   static void gemm(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate)
// with the conventions of kernels/gemm.h. The public functions (kernels/attention.cpp) check the
// dimensions first: the checks build strings, and std::string code compiled here with a wider instruction
// set could be linked in for every caller (tests/kernels/isa_symbols_test.sh).
//
// The bf16 compute mode (kernels/isa/attention.cpp) passes q, k, v and dout already rounded to bf16 as the
// product operands (Operands, copies in the scratch) and sets round_tiles: the probability and dS tiles
// are rounded where they enter a product. Every product then sees exactly the inputs a product rounding
// its own operands would, but each value of q, k, v, dout is rounded once rather than once per tile.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/isa/isa_namespace.h"
#include "kernels/vecmath.h"

namespace mad::kernels {
inline namespace MAD_ISA_NS {
namespace attention_impl {

// Scratch sub-buffers start on 64-byte boundaries (16 floats) so tile rows stay aligned.
constexpr int64_t aligned_count(int64_t n) { return (n + 15) / 16 * 16; }
constexpr int64_t Bq = kAttentionQueryTile, Bk = kAttentionKeyTile;
inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max_of(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t clamp_to(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

// The keys visible to query i are [first(i), end(i)).
struct Visibility {
  int64_t L;
  bool causal;
  int64_t window;
  int64_t first(int64_t i) const { return causal && window >= 0 ? max_of(0, i - window) : 0; }
  int64_t end(int64_t i) const { return causal ? i + 1 : L; }
};

// Row `row` of a score tile for query i over keys [j0, j0 + c): zeroes the masked entries (so the tile
// products that follow ignore them) and returns the visible part [lo, hi).
template <typename T>
inline void visible_part(T* row, const Visibility& vis, int64_t i, int64_t j0, int64_t c, int64_t& lo, int64_t& hi) {
  lo = clamp_to(vis.first(i) - j0, 0, c);
  hi = clamp_to(vis.end(i) - j0, lo, c);
  for (int64_t j = 0; j < lo; ++j) row[j] = T(0);
  for (int64_t j = hi; j < c; ++j) row[j] = T(0);
}

// max over s[lo, hi) and the sum of a row, in 8 interleaved partial results: without -ffast-math the
// compiler may not reorder a single running sum or maximum, and these loops would stay scalar.
template <typename T>
inline T row_max(const T* s, int64_t lo, int64_t hi) {
  constexpr int64_t W = 8;
  T part[W];
  for (int64_t t = 0; t < W; ++t) part[t] = s[lo];
  int64_t j = lo;
  for (; j + W <= hi; j += W)
    for (int64_t t = 0; t < W; ++t) part[t] = s[j + t] > part[t] ? s[j + t] : part[t];
  for (; j < hi; ++j) part[0] = s[j] > part[0] ? s[j] : part[0];
  T best = part[0];
  for (int64_t t = 1; t < W; ++t) best = part[t] > best ? part[t] : best;
  return best;
}

template <typename T>
inline T row_sum(const T* s, int64_t lo, int64_t hi) {
  constexpr int64_t W = 8;
  T part[W] = {};
  int64_t j = lo;
  for (; j + W <= hi; j += W)
    for (int64_t t = 0; t < W; ++t) part[t] += s[j + t];
  for (; j < hi; ++j) part[0] += s[j];
  T sum = 0;
  for (int64_t t = 0; t < W; ++t) sum += part[t];
  return sum;
}

// D[i] = dout_i . out_i for i < L (rows ld_out apart), the row term of dS in backward.
template <typename T>
inline void row_dots(int64_t L, int64_t Dh, const T* dout, const T* out, int64_t ld_out, T* D) {
  for (int64_t i = 0; i < L; ++i) {
    T s = 0;
    for (int64_t e = 0; e < Dh; ++e) s += dout[i * ld_out + e] * out[i * ld_out + e];
    D[i] = s;
  }
}

// The operands of the tile products: the caller's q, k, v, dout, or copies of them rounded to bf16.
template <typename T>
struct Operands {
  const T *q, *k, *v, *dout;
  int64_t ld;       // row stride of q, k, v
  int64_t ld_dout;  // row stride of dout
};

// Elements of the scratch the algorithm itself uses (kernels/attention.h adds the bf16 copies).
constexpr int64_t forward_tile_scratch(int64_t Dh) { return aligned_count(Bq * Bk) + aligned_count(Bq * Dh) + 2 * aligned_count(Bq); }
// Backward: D [L] and two tiles; the narrow-head kernel (kernels/attention_narrow_heads.h) uses a third.
constexpr int64_t backward_tile_scratch(int64_t L) { return aligned_count(L) + 3 * aligned_count(Bq * Bk); }

// Rows [0, r) and columns [0, c) of a tile with row stride Bk, rounded to bf16 in place.
template <typename T>
inline void round_tile(T* tile, int64_t r, int64_t c) {
  if constexpr (std::is_same_v<T, float>)
    for (int64_t a = 0; a < r; ++a) round_array_to_bf16(tile + a * Bk, tile + a * Bk, c);
}

template <typename T, class Products>
void forward(const AttentionDims& d, T scale, const Operands<T>& in, bool round_tiles, T* out, T* lse, T* scratch) {
  const int64_t L = d.L, Dh = d.Dh, ld = in.ld, ld_out = d.ld_out;
  const T *q = in.q, *k = in.k, *v = in.v;
  const Visibility vis{L, d.causal, d.window};
  T* p = scratch;                       // [Bq, Bk] scores, then probabilities
  T* acc = p + aligned_count(Bq * Bk);  // [Bq, Dh] unnormalised output of the query tile
  T* m = acc + aligned_count(Bq * Dh);  // [Bq] running maximum of the scaled scores
  T* l = m + aligned_count(Bq);         // [Bq] running sum of exp(score - m)
  for (int64_t i0 = 0; i0 < L; i0 += Bq) {
    const int64_t i1 = min_of(i0 + Bq, L), r = i1 - i0;
    for (int64_t a = 0; a < r; ++a) m[a] = -std::numeric_limits<T>::infinity(), l[a] = T(0);
    for (int64_t e = 0; e < r * Dh; ++e) acc[e] = T(0);
    // Keys no query of the tile sees are never touched.
    const int64_t j_end = vis.end(i1 - 1);
    for (int64_t j0 = vis.first(i0); j0 < j_end; j0 += Bk) {
      const int64_t j1 = min_of(j0 + Bk, j_end), c = j1 - j0;
      Products::gemm(r, c, Dh, q + i0 * ld, ld, false, k + j0 * ld, ld, true, p, Bk, false);
      for (int64_t a = 0; a < r; ++a) {
        int64_t lo, hi;
        T* s = p + a * Bk;
        visible_part(s, vis, i0 + a, j0, c, lo, hi);
        if (hi == lo) continue;
        // The largest scaled score: scale * max, or scale * min for a negative scale.
        T best;
        if (scale > 0) {
          best = scale * row_max(s, lo, hi);
        } else {
          for (int64_t j = lo; j < hi; ++j) s[j] = -s[j];
          best = -scale * row_max(s, lo, hi);
          for (int64_t j = lo; j < hi; ++j) s[j] = -s[j];
        }
        const T m_new = m[a] > best ? m[a] : best;
        if (m_new > m[a]) {
          // Rescales what the row accumulated under the previous maximum (nothing on its first visible
          // tile). Once the maximum settles, later tiles skip this.
          const T alpha = std::exp(m[a] - m_new);
          l[a] *= alpha;
          for (int64_t e = 0; e < Dh; ++e) acc[a * Dh + e] *= alpha;
          m[a] = m_new;
        }
        for (int64_t j = lo; j < hi; ++j) s[j] = vexp<T>(s[j] * scale - m_new);
        l[a] += row_sum(s, lo, hi);
      }
      if (round_tiles) round_tile(p, r, c);
      Products::gemm(r, Dh, c, p, Bk, false, v + j0 * ld, ld, false, acc, Dh, true);
    }
    for (int64_t a = 0; a < r; ++a) {
      const T inv = T(1) / l[a];
      T* o = out + (i0 + a) * ld_out;
      for (int64_t e = 0; e < Dh; ++e) o[e] = acc[a * Dh + e] * inv;
      lse[i0 + a] = m[a] + std::log(l[a]);
    }
  }
}

template <typename T, class Products>
void backward(const AttentionDims& d, T scale, const Operands<T>& in, bool round_tiles, const T* out, const T* lse,
              const T* dout, T* dq, T* dk, T* dv, T* scratch) {
  if (dq == nullptr && dk == nullptr && dv == nullptr) return;
  const int64_t L = d.L, Dh = d.Dh, ld = d.ld, ldi = in.ld, ld_out = d.ld_out, ldd = in.ld_dout;
  const T *q = in.q, *k = in.k, *v = in.v, *dout_p = in.dout;
  const Visibility vis{L, d.causal, d.window};
  T* D = scratch;                      // [L] dout_i . out_i
  T* p = D + aligned_count(L);         // [Bq, Bk] probabilities
  T* ds = p + aligned_count(Bq * Bk);  // [Bq, Bk] dP, then scale * dS
  row_dots(L, Dh, dout, out, ld_out, D);
  for (int64_t j0 = 0; j0 < L; j0 += Bk) {
    const int64_t j1 = min_of(j0 + Bk, L), c = j1 - j0;
    // Queries that see some key of the tile: i >= j0 when causal, and i <= j1 - 1 + window.
    const int64_t i_begin = d.causal ? j0 : 0;
    const int64_t i_end = d.causal && d.window >= 0 ? min_of(L, j1 + d.window) : L;
    for (int64_t i0 = i_begin; i0 < i_end; i0 += Bq) {
      const int64_t i1 = min_of(i0 + Bq, i_end), r = i1 - i0;
      Products::gemm(r, c, Dh, q + i0 * ldi, ldi, false, k + j0 * ldi, ldi, true, p, Bk, false);
      for (int64_t a = 0; a < r; ++a) {
        int64_t lo, hi;
        T* s = p + a * Bk;
        visible_part(s, vis, i0 + a, j0, c, lo, hi);
        const T shift = lse[i0 + a];
        for (int64_t j = lo; j < hi; ++j) s[j] = vexp<T>(s[j] * scale - shift);
      }
      // dS from the probabilities as computed; only the products below see them rounded.
      const bool need_ds = dq != nullptr || dk != nullptr;
      if (need_ds) {
        Products::gemm(r, c, Dh, dout_p + i0 * ldd, ldd, false, v + j0 * ldi, ldi, true, ds, Bk, false);
        for (int64_t a = 0; a < r; ++a) {
          const T Da = D[i0 + a];
          for (int64_t b = 0; b < c; ++b) ds[a * Bk + b] = scale * p[a * Bk + b] * (ds[a * Bk + b] - Da);
        }
      }
      if (dv != nullptr) {
        if (round_tiles) round_tile(p, r, c);
        Products::gemm(c, Dh, r, p, Bk, true, dout_p + i0 * ldd, ldd, false, dv + j0 * ld, ld, true);
      }
      if (!need_ds) continue;
      if (round_tiles) round_tile(ds, r, c);
      if (dq != nullptr) Products::gemm(r, Dh, c, ds, Bk, false, k + j0 * ldi, ldi, false, dq + i0 * ld, ld, true);
      if (dk != nullptr) Products::gemm(c, Dh, r, ds, Bk, true, q + i0 * ldi, ldi, false, dk + j0 * ld, ld, true);
    }
  }
}

}  // namespace attention_impl
}  // namespace MAD_ISA_NS
}  // namespace mad::kernels
