// Fused attention for narrow heads (Dh = 4, 8 or 16: the MAD models' 16 heads of 8), float32, one
// instruction set's copy (included by kernels/isa/attention.cpp only). Same mathematics, masks and bf16
// rounding points as kernels/attention_impl.h; a different layout.
//
// Why a second kernel: with Dh = 8 the tiled algorithm's products have K = 8 (scores) or N = 8 (P V, dq,
// dk, dv), far too thin for SGEMM, and its softmax walks rows of 64 keys with scalar bookkeeping per row;
// it ran at about 15 GFLOP/s (docs/performance.md, "Attention at Dh = 8"). Here one vector holds W lanes
// of the same quantity for W different queries (forward) or W different keys (backward), W being the
// set's vector width in floats, so every step is a full-width vector operation:
//   forward, W queries per block, keys one at a time:
//     s = scale * sum_e Qt[e] * k_j[e]           (Qt[e]: lane t holds q_{i0+t}[e]; k_j[e] broadcast)
//     online softmax across keys, lane-wise;  acc[e] += p * v_j[e]
//   backward, key tiles of 64 in blocks of W keys, queries one at a time:
//     p = exp(scale * sum_e Kt[e] q_i[e] - lse_i),  dp = sum_e Vt[e] dout_i[e],  ds = scale p (dp - D_i)
//     dVt[e] += p dout_i[e],  dKt[e] += ds q_i[e]   (lane-wise)
//   and dq_i += sum_j ds_ij k_j, the one sum across lanes, as one product of a query chunk's stored ds
//   rows with the tile's keys (this set's SGEMM).
// Each sum runs in a fixed order, so results are deterministic; they differ from the tiled kernel's in
// the last bits (tests/kernels/test_isa.cpp checks both against float64).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/attention.h"
#include "kernels/attention_impl.h"
#include "kernels/bf16.h"
#include "kernels/isa/isa_namespace.h"
#include "kernels/vecmath.h"

namespace mad::kernels {
inline namespace MAD_ISA_NS {
namespace attention_narrow {

#if defined(__AVX512F__)
constexpr int W = 16;
#elif defined(__AVX2__)
constexpr int W = 8;
#else
constexpr int W = 4;
#endif
// GCC/Clang vector extensions of the set's native width: each operation is one instruction.
typedef float Vec __attribute__((vector_size(W * 4)));
typedef int32_t IVec __attribute__((vector_size(W * 4)));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }
inline Vec splat(float x) { return Vec{} + x; }
inline IVec lane_index() {
  IVec v;
  for (int t = 0; t < W; ++t) v[t] = t;
  return v;
}
inline Vec vmax(const Vec& a, const Vec& b) { return a > b ? a : b; }

// exp_f32 (kernels/vecmath.h) lane by lane.
inline Vec exp_lanes(Vec x) { return exp_f32_lanes(x); }

inline Vec round_lanes(Vec x) {
  for (int t = 0; t < W; ++t) x[t] = round_to_bf16(x[t]);
  return x;
}

using attention_impl::Bk;
using attention_impl::Bq;
using attention_impl::Operands;
using attention_impl::Visibility;
using attention_impl::max_of;
using attention_impl::min_of;

// Lanes t < r of Vt[e] = x[(row0 + t) * ld + e], the others 0: W rows of x turned into Dh lane vectors.
template <int kDh>
inline void transpose_in(const float* x, int64_t ld, int64_t row0, int64_t r, Vec (&xt)[kDh]) {
  for (int e = 0; e < kDh; ++e) xt[e] = Vec{};
  for (int64_t t = 0; t < r; ++t)
    for (int e = 0; e < kDh; ++e) xt[e][t] = x[(row0 + t) * ld + e];
}

// Keys visible to lane t (query i0 + t) in `vis`, as a mask for key j.
inline IVec visible_to_queries(const Visibility& vis, const IVec& query, int64_t j) {
  if (!vis.causal) return IVec{} - 1;
  const int32_t jj = static_cast<int32_t>(j);
  IVec seen = query >= jj;  // j <= i
  if (vis.window >= 0) seen &= (query - static_cast<int32_t>(vis.window)) <= jj;  // j >= i - window
  return seen;
}

// Keys (one per lane) visible to query i in `vis`, as a mask.
inline IVec keys_seen_by(const Visibility& vis, const IVec& key, int64_t i) {
  if (!vis.causal) return IVec{} - 1;
  const int32_t ii = static_cast<int32_t>(i);
  IVec seen = key <= ii;
  if (vis.window >= 0) seen &= key >= ii - static_cast<int32_t>(vis.window);
  return seen;
}

template <int kDh>
void forward(const AttentionDims& d, float scale, const Operands<float>& in, bool round_tiles, float* out, float* lse,
             float* scratch) {
  const int64_t L = d.L, ld = in.ld, ld_out = d.ld_out;
  const Visibility vis{L, d.causal, d.window};
  const float inf = std::numeric_limits<float>::infinity();
  float* S = scratch;  // [Bk][W] scaled scores of one key tile, keys-major
  for (int64_t i0 = 0; i0 < L; i0 += W) {
    const int64_t r = min_of(W, L - i0);
    Vec qt[kDh];
    transpose_in<kDh>(in.q, ld, i0, r, qt);
    const IVec query = lane_index() + static_cast<int32_t>(i0);
    Vec m = splat(-inf), l = Vec{}, acc[kDh] = {};
    // Keys some lane sees; masks are needed only where some lane does not see them.
    const int64_t j_begin = vis.first(i0), j_end = vis.end(i0 + r - 1);
    const int64_t unmasked_begin = vis.first(i0 + r - 1), unmasked_end = vis.end(i0);
    for (int64_t j0 = j_begin; j0 < j_end; j0 += Bk) {
      const int64_t c = min_of(Bk, j_end - j0);
      Vec tile_max = splat(-inf);
      for (int64_t b = 0; b < c; ++b) {
        const float* kj = in.k + (j0 + b) * ld;
        // Two partial sums: one chain of Dh dependent FMAs would expose their latency.
        Vec s0 = qt[0] * kj[0], s1 = qt[1] * kj[1];
        for (int e = 2; e < kDh; e += 2) s0 += qt[e] * kj[e], s1 += qt[e + 1] * kj[e + 1];
        Vec s = (s0 + s1) * scale;
        const int64_t j = j0 + b;
        if (j < unmasked_begin || j >= unmasked_end) s = visible_to_queries(vis, query, j) ? s : splat(-inf);
        tile_max = vmax(tile_max, s);
        store(S + b * W, s);
      }
      const Vec m_new = vmax(m, tile_max);
      // A lane that has seen no key yet keeps m = -inf; shifting by 0 there keeps exp(-inf - 0) = 0.
      const Vec shift = m_new == -inf ? Vec{} : m_new;
      const Vec alpha = exp_lanes(m - shift);
      l *= alpha;
      for (int e = 0; e < kDh; ++e) acc[e] *= alpha;
      m = m_new;
      for (int64_t b = 0; b < c; ++b) {
        Vec p = exp_lanes(load(S + b * W) - shift);
        l += p;
        if (round_tiles) p = round_lanes(p);
        const float* vj = in.v + (j0 + b) * ld;
        for (int e = 0; e < kDh; ++e) acc[e] += p * vj[e];
      }
    }
    for (int64_t t = 0; t < r; ++t) {
      const float inv = 1.0f / l[t];
      float* o = out + (i0 + t) * ld_out;
      for (int e = 0; e < kDh; ++e) o[e] = acc[e][t] * inv;
      lse[i0 + t] = m[t] + std::log(l[t]);
    }
  }
}

template <int kDh, class Products>
void backward(const AttentionDims& d, float scale, const Operands<float>& in, bool round_tiles, const float* out,
              const float* lse, const float* dout, float* dq, float* dk, float* dv, float* scratch) {
  if (dq == nullptr && dk == nullptr && dv == nullptr) return;
  const int64_t L = d.L, ld = d.ld, ldi = in.ld, ld_out = d.ld_out, ldd = in.ld_dout;
  const Visibility vis{L, d.causal, d.window};
  static_assert(Bq * W + Bq * Bk + 4 * Bk * kDh <= 3 * Bq * Bk, "attention_impl::backward_tile_scratch is too small");
  float* D = scratch;                               // [L] dout_i . out_i
  float* P = D + attention_impl::aligned_count(L);  // [Bq][W] probabilities of a query chunk against a block
  float* DS = P + Bq * W;                           // [Bq][Bk] its ds against the whole key tile, for dq
  float* KT = DS + Bq * Bk;                         // [Bk / W][kDh][W] the tile's keys, transposed per block
  float* VT = KT + Bk * kDh;                        // [Bk / W][kDh][W] values
  float* dKT = VT + Bk * kDh;                       // [Bk / W][kDh][W] dk of the tile's keys, lane-wise
  float* dVT = dKT + Bk * kDh;                      // [Bk / W][kDh][W] dv
  attention_impl::row_dots(L, int64_t{kDh}, dout, out, ld_out, D);
  auto block_of = [&](float* base, int64_t b, Vec (&x)[kDh]) {
    for (int e = 0; e < kDh; ++e) x[e] = load(base + (b * kDh + e) * W);
  };
  auto put_block = [&](float* base, int64_t b, const Vec (&x)[kDh]) {
    for (int e = 0; e < kDh; ++e) store(base + (b * kDh + e) * W, x[e]);
  };
  // Key tiles of Bk keys: a query chunk's rows of q and dout are read once per tile and its dq updated
  // by one product over the tile, not once per block of W keys.
  for (int64_t J0 = 0; J0 < L; J0 += Bk) {
    const int64_t tile = min_of(Bk, L - J0), blocks = (tile + W - 1) / W;
    for (int64_t b = 0; b < blocks; ++b) {
      Vec x[kDh];
      const int64_t j0 = J0 + b * W, c = min_of(W, L - j0);
      transpose_in<kDh>(in.k, ldi, j0, c, x);
      put_block(KT, b, x);
      transpose_in<kDh>(in.v, ldi, j0, c, x);
      put_block(VT, b, x);
      for (int e = 0; e < kDh; ++e) x[e] = Vec{};
      put_block(dKT, b, x);
      put_block(dVT, b, x);
    }
    // Queries that see some key of the tile.
    const int64_t tile_i_begin = d.causal ? J0 : 0;
    const int64_t tile_i_end = d.causal && d.window >= 0 ? min_of(L, J0 + tile + d.window) : L;
    for (int64_t ib = tile_i_begin; ib < tile_i_end; ib += Bq) {
      const int64_t n = min_of(Bq, tile_i_end - ib);
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t j0 = J0 + b * W, c = min_of(W, L - j0);
        // The chunk's queries that see some key of the block ([lo, hi)); the others' ds rows are 0.
        const int64_t lo = max_of(ib, d.causal ? j0 : 0);
        const int64_t hi = max_of(lo, min_of(ib + n, d.causal && d.window >= 0 ? j0 + c + d.window : L));
        for (int64_t i = ib; i < ib + n; ++i)
          if (i < lo || i >= hi) store(DS + (i - ib) * Bk + b * W, Vec{});
        if (hi == lo) continue;
        Vec kt[kDh], vt[kDh], dkt[kDh], dvt[kDh];
        block_of(KT, b, kt);
        block_of(VT, b, vt);
        block_of(dKT, b, dkt);
        block_of(dVT, b, dvt);
        const IVec key = lane_index() + static_cast<int32_t>(j0);
        const IVec real_key = lane_index() < static_cast<int32_t>(c);
        // Queries that see every key of the block need no mask.
        const int64_t unmasked_begin = d.causal ? j0 + c - 1 : 0;
        const int64_t unmasked_end = d.causal && d.window >= 0 ? j0 + d.window + 1 : L;
        // Two passes over the queries: the first has no loop-carried sums, so the exponentials of
        // successive queries overlap; the second's 2 Dh accumulators stay in registers.
        for (int64_t i = lo; i < hi; ++i) {
          const float* qi = in.q + i * ldi;
          const float* oi = in.dout + i * ldd;
          Vec s0 = kt[0] * qi[0], s1 = kt[1] * qi[1], g0 = vt[0] * oi[0], g1 = vt[1] * oi[1];
          for (int e = 2; e < kDh; e += 2) {
            s0 += kt[e] * qi[e], s1 += kt[e + 1] * qi[e + 1];
            g0 += vt[e] * oi[e], g1 += vt[e + 1] * oi[e + 1];
          }
          Vec p = exp_lanes((s0 + s1) * scale - lse[i]);
          if (i < unmasked_begin || i >= unmasked_end || c < W) {
            p = (real_key & keys_seen_by(vis, key, i)) ? p : Vec{};
          }
          Vec ds = scale * p * ((g0 + g1) - D[i]);
          // dS from the probabilities as computed; the products see them rounded (attention_impl.h).
          if (round_tiles) p = round_lanes(p), ds = round_lanes(ds);
          store(P + (i - ib) * W, p);
          store(DS + (i - ib) * Bk + b * W, ds);
        }
        for (int64_t i = lo; i < hi; ++i) {
          const float* qi = in.q + i * ldi;
          const float* oi = in.dout + i * ldd;
          const Vec p = load(P + (i - ib) * W), ds = load(DS + (i - ib) * Bk + b * W);
          for (int e = 0; e < kDh; ++e) dvt[e] += p * oi[e], dkt[e] += ds * qi[e];
        }
        put_block(dKT, b, dkt);
        put_block(dVT, b, dvt);
      }
      if (dq != nullptr) Products::gemm(n, kDh, tile, DS, Bk, false, in.k + J0 * ldi, ldi, false, dq + ib * ld, ld, true);
    }
    for (int64_t b = 0; b < blocks; ++b) {
      Vec dkt[kDh], dvt[kDh];
      block_of(dKT, b, dkt);
      block_of(dVT, b, dvt);
      const int64_t j0 = J0 + b * W, c = min_of(W, L - j0);
      for (int64_t t = 0; t < c; ++t)
        for (int e = 0; e < kDh; ++e) {
          if (dk != nullptr) dk[(j0 + t) * ld + e] += dkt[e][t];
          if (dv != nullptr) dv[(j0 + t) * ld + e] += dvt[e][t];
        }
    }
  }
}

}  // namespace attention_narrow
}  // namespace MAD_ISA_NS
}  // namespace mad::kernels
