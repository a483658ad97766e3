#include "kernels/attention.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/check.h"
#include "kernels/gemm.h"

namespace mad::kernels {

namespace {

// Scratch sub-buffers start on 64-byte boundaries (16 floats) so tile rows stay aligned.
constexpr int64_t aligned_count(int64_t n) { return (n + 15) / 16 * 16; }

// The keys visible to query i are [first(i), end(i)).
struct Visibility {
  int64_t L;
  bool causal;
  int64_t window;
  int64_t first(int64_t i) const { return causal && window >= 0 ? std::max<int64_t>(0, i - window) : 0; }
  int64_t end(int64_t i) const { return causal ? i + 1 : L; }
};

std::string dims_text(const AttentionDims& d) {
  return "L=" + std::to_string(d.L) + ", Dh=" + std::to_string(d.Dh) + ", ld=" + std::to_string(d.ld) +
         ", ld_out=" + std::to_string(d.ld_out) + ", causal=" + std::to_string(d.causal) +
         ", window=" + std::to_string(d.window);
}

void check_dims(const AttentionDims& d, const void* scratch, const char* fn) {
  MAD_KERNEL_CHECK(d.L >= 0 && d.Dh > 0 && d.ld >= d.Dh && d.ld_out >= d.Dh,
                   std::string(fn) + ": needs L >= 0, Dh > 0 and row strides ld, ld_out >= Dh, got " + dims_text(d));
  MAD_KERNEL_CHECK(
      d.window >= -1 && (d.causal || d.window == -1),
      std::string(fn) + ": window must be -1 or, with causal attention, >= 0, got " + dims_text(d));
  MAD_KERNEL_CHECK(scratch != nullptr || d.L == 0, std::string(fn) + ": scratch is null (" + dims_text(d) +
                                                       "); pass " + fn + "_scratch_size(L, Dh) elements");
}

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

constexpr int64_t Bq = kAttentionQueryTile, Bk = kAttentionKeyTile;

// S[r, c] (row stride Bk) = A B^T for r rows of A and c rows of B (width Dh, stride ld).
template <typename T>
void tile_scores(const T* a, const T* b, int64_t r, int64_t c, int64_t Dh, int64_t ld, T* s) {
  gemm<T>(r, c, Dh, a, ld, false, b, ld, true, s, Bk, false);
}

// Row `row` of a score tile for query i over keys [j0, j0 + c): zeroes the masked entries (so the tile
// products that follow ignore them) and returns the visible part, possibly empty.
template <typename T>
ArrayMap<T> visible_part(T* row, const Visibility& vis, int64_t i, int64_t j0, int64_t c) {
  const int64_t lo = std::clamp(vis.first(i) - j0, int64_t(0), c);
  const int64_t hi = std::clamp(vis.end(i) - j0, lo, c);
  std::fill(row, row + lo, T(0));
  std::fill(row + hi, row + c, T(0));
  return ArrayMap<T>(row + lo, hi - lo);
}

}  // namespace

std::size_t attention_forward_scratch_size(int64_t /*L*/, int64_t Dh) {
  return static_cast<std::size_t>(aligned_count(Bq * Bk) + aligned_count(Bq * Dh) + 2 * aligned_count(Bq));
}

std::size_t attention_backward_scratch_size(int64_t L, int64_t /*Dh*/) {
  return static_cast<std::size_t>(aligned_count(L) + 2 * aligned_count(Bq * Bk));
}

template <typename T>
void attention_forward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k,
                       const T* v, T* out, T* lse, std::type_identity_t<T>* scratch) {
  check_dims(d, scratch, "attention_forward");
  const int64_t L = d.L, Dh = d.Dh, ld = d.ld, ld_out = d.ld_out;
  const Visibility vis{L, d.causal, d.window};
  T* p = scratch;                       // [Bq, Bk] scores, then probabilities
  T* acc = p + aligned_count(Bq * Bk);  // [Bq, Dh] unnormalised output of the query tile
  T* m = acc + aligned_count(Bq * Dh);  // [Bq] running maximum of the scaled scores
  T* l = m + aligned_count(Bq);         // [Bq] running sum of exp(score - m)
  for (int64_t i0 = 0; i0 < L; i0 += Bq) {
    const int64_t i1 = std::min(i0 + Bq, L), r = i1 - i0;
    std::fill(m, m + r, -std::numeric_limits<T>::infinity());
    std::fill(l, l + r, T(0));
    std::fill(acc, acc + r * Dh, T(0));
    // Keys no query of the tile sees are never touched.
    const int64_t j_end = vis.end(i1 - 1);
    for (int64_t j0 = vis.first(i0); j0 < j_end; j0 += Bk) {
      const int64_t j1 = std::min(j0 + Bk, j_end), c = j1 - j0;
      tile_scores(q + i0 * ld, k + j0 * ld, r, c, Dh, ld, p);
      for (int64_t a = 0; a < r; ++a) {
        ArrayMap<T> s = visible_part(p + a * Bk, vis, i0 + a, j0, c);
        if (s.size() == 0) continue;
        const T m_new = std::max(m[a], scale > 0 ? scale * s.maxCoeff() : scale * s.minCoeff());
        if (m_new > m[a]) {
          // Rescales what the row accumulated under the previous maximum (nothing on its first visible
          // tile). Once the maximum settles, later tiles skip this.
          const T alpha = std::exp(m[a] - m_new);
          l[a] *= alpha;
          for (int64_t e = 0; e < Dh; ++e) acc[a * Dh + e] *= alpha;
          m[a] = m_new;
        }
        s = (s * scale - m_new).exp();
        l[a] += s.sum();
      }
      gemm<T>(r, Dh, c, p, Bk, false, v + j0 * ld, ld, false, acc, Dh, true);
    }
    for (int64_t a = 0; a < r; ++a) {
      const T inv = T(1) / l[a];
      T* o = out + (i0 + a) * ld_out;
      for (int64_t e = 0; e < Dh; ++e) o[e] = acc[a * Dh + e] * inv;
      lse[i0 + a] = m[a] + std::log(l[a]);
    }
  }
}

template <typename T>
void attention_backward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k,
                        const T* v, const T* out, const T* lse, const T* dout, std::type_identity_t<T>* dq,
                        std::type_identity_t<T>* dk, std::type_identity_t<T>* dv,
                        std::type_identity_t<T>* scratch) {
  check_dims(d, scratch, "attention_backward");
  if (dq == nullptr && dk == nullptr && dv == nullptr) return;
  const int64_t L = d.L, Dh = d.Dh, ld = d.ld, ld_out = d.ld_out;
  const Visibility vis{L, d.causal, d.window};
  T* D = scratch;                      // [L] dout_i . out_i
  T* p = D + aligned_count(L);         // [Bq, Bk] probabilities
  T* ds = p + aligned_count(Bq * Bk);  // [Bq, Bk] dP, then scale * dS
  for (int64_t i = 0; i < L; ++i) {
    T s = 0;
    for (int64_t e = 0; e < Dh; ++e) s += dout[i * ld_out + e] * out[i * ld_out + e];
    D[i] = s;
  }
  for (int64_t j0 = 0; j0 < L; j0 += Bk) {
    const int64_t j1 = std::min(j0 + Bk, L), c = j1 - j0;
    // Queries that see some key of the tile: i >= j0 when causal, and i <= j1 - 1 + window.
    const int64_t i_begin = d.causal ? j0 : 0;
    const int64_t i_end = d.causal && d.window >= 0 ? std::min(L, j1 + d.window) : L;
    for (int64_t i0 = i_begin; i0 < i_end; i0 += Bq) {
      const int64_t i1 = std::min(i0 + Bq, i_end), r = i1 - i0;
      tile_scores(q + i0 * ld, k + j0 * ld, r, c, Dh, ld, p);
      for (int64_t a = 0; a < r; ++a) {
        ArrayMap<T> s = visible_part(p + a * Bk, vis, i0 + a, j0, c);
        s = (s * scale - lse[i0 + a]).exp();
      }
      if (dv != nullptr) gemm<T>(c, Dh, r, p, Bk, true, dout + i0 * ld_out, ld_out, false, dv + j0 * ld, ld, true);
      if (dq == nullptr && dk == nullptr) continue;
      gemm<T>(r, c, Dh, dout + i0 * ld_out, ld_out, false, v + j0 * ld, ld, true, ds, Bk, false);
      for (int64_t a = 0; a < r; ++a) {
        const T Da = D[i0 + a];
        for (int64_t b = 0; b < c; ++b) ds[a * Bk + b] = scale * p[a * Bk + b] * (ds[a * Bk + b] - Da);
      }
      if (dq != nullptr) gemm<T>(r, Dh, c, ds, Bk, false, k + j0 * ld, ld, false, dq + i0 * ld, ld, true);
      if (dk != nullptr) gemm<T>(c, Dh, r, ds, Bk, true, q + i0 * ld, ld, false, dk + j0 * ld, ld, true);
    }
  }
}

template void attention_forward<float>(const AttentionDims&, float, const float*, const float*, const float*,
                                       float*, float*, float*);
template void attention_forward<double>(const AttentionDims&, double, const double*, const double*,
                                        const double*, double*, double*, double*);
template void attention_backward<float>(const AttentionDims&, float, const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*, float*, float*,
                                        float*);
template void attention_backward<double>(const AttentionDims&, double, const double*, const double*,
                                         const double*, const double*, const double*, const double*, double*,
                                         double*, double*, double*);

}  // namespace mad::kernels
