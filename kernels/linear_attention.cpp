// Chunkwise causal (gated) linear attention; the math is in linear_attention.h.
#include "kernels/linear_attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/gemm.h"

namespace mad::kernels {
namespace {

void check_dims(const LinearAttentionDims& d, const char* fn) {
  if (d.L < 0 || d.Dk < 1 || d.Dv < 1 || d.ldk < d.Dk || d.ldv < d.Dv || d.chunk < 1)
    throw std::invalid_argument(std::string(fn) + ": needs L >= 0, Dk, Dv >= 1, strides >= widths, chunk >= 1");
}

int64_t num_chunks(const LinearAttentionDims& d) { return (d.L + d.chunk - 1) / d.chunk; }

// The per-chunk quantities shared by forward and backward, for the n rows starting at s0:
//   gam [n, Dk]     Gam_i = sum of the log decays of rows 0..i of the chunk (0 without decay)
//   qd  [n, Dk]     q_i * exp(Gam_i)              (how row i reads the state entering the chunk)
//   kd  [n, Dk]     k_j * exp(Gam_last - Gam_j)   (how row j enters the state leaving the chunk)
//   a   [n, n]      A_ij = sum_d q_i[d] k_j[d] exp(Gam_i[d] - Gam_j[d]) for j <= i, 0 above the diagonal
//                   (skipped when a is null: the state recurrence alone does not need it)
//   e   [n, n, Dk]  exp(Gam_i - Gam_j) for j <= i, kept for the backward when e is not null (gated only)
template <typename T>
void prepare_chunk(const LinearAttentionDims& d, int64_t s0, int64_t n, const T* q, const T* k, const T* g, T* gam,
                   T* qd, T* kd, T* a, T* e = nullptr) {
  const int64_t Dk = d.Dk;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < Dk; ++c)
      gam[i * Dk + c] = g == nullptr ? T(0) : (i > 0 ? gam[(i - 1) * Dk + c] : T(0)) + g[(s0 + i) * d.ldk + c];
  const T* last = gam + (n - 1) * Dk;
  for (int64_t i = 0; i < n; ++i) {
    const T* qi = q + (s0 + i) * d.ldk;
    const T* ki = k + (s0 + i) * d.ldk;
    for (int64_t c = 0; c < Dk; ++c) {
      qd[i * Dk + c] = qi[c] * std::exp(gam[i * Dk + c]);
      kd[i * Dk + c] = ki[c] * std::exp(last[c] - gam[i * Dk + c]);
    }
  }
  if (a == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    const T* qi = q + (s0 + i) * d.ldk;
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      if (j <= i) {
        const T* kj = k + (s0 + j) * d.ldk;
        if (g == nullptr) {
          for (int64_t c = 0; c < Dk; ++c) acc += qi[c] * kj[c];
        } else {
          T* eij = e != nullptr ? e + (i * n + j) * Dk : nullptr;
          for (int64_t c = 0; c < Dk; ++c) {
            const T w = std::exp(gam[i * Dk + c] - gam[j * Dk + c]);
            if (eij != nullptr) eij[c] = w;
            acc += qi[c] * kj[c] * w;
          }
        }
      }
      a[i * n + j] = acc;
    }
  }
}

// S [Dk, Dv] <- diag(exp(Gam_last)) S + kd^T V for the chunk's rows of v.
template <typename T>
void advance_state(const LinearAttentionDims& d, int64_t s0, int64_t n, const T* v, const T* gam, const T* kd, T* S) {
  const T* last = gam + (n - 1) * d.Dk;
  for (int64_t c = 0; c < d.Dk; ++c) {
    const T decay = std::exp(last[c]);
    for (int64_t e = 0; e < d.Dv; ++e) S[c * d.Dv + e] *= decay;
  }
  gemm<T>(d.Dk, d.Dv, n, kd, d.Dk, true, v + s0 * d.ldv, d.ldv, false, S, d.Dv, true);
}

}  // namespace

std::size_t linear_attention_forward_scratch_size(const LinearAttentionDims& d) {
  const int64_t C = d.chunk;
  return static_cast<std::size_t>(d.Dk * d.Dv + 3 * C * d.Dk + C * C);
}

std::size_t linear_attention_backward_scratch_size(const LinearAttentionDims& d) {
  const int64_t C = d.chunk;
  return static_cast<std::size_t>((num_chunks(d) + 1) * d.Dk * d.Dv + 4 * C * d.Dk + 2 * C * C + C * C * d.Dk +
                                  2 * d.L * d.Dk);
}

template <typename T>
void linear_attention_forward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                              const std::type_identity_t<T>* g, T* o, T* scratch) {
  check_dims(d, "linear_attention_forward");
  const int64_t C = d.chunk;
  T* S = scratch;                 // [Dk, Dv] state entering the chunk
  T* gam = S + d.Dk * d.Dv;       // [C, Dk]
  T* qd = gam + C * d.Dk;         // [C, Dk]
  T* kd = qd + C * d.Dk;          // [C, Dk]
  T* a = kd + C * d.Dk;           // [C, C]
  std::fill(S, S + d.Dk * d.Dv, T(0));
  for (int64_t s0 = 0; s0 < d.L; s0 += C) {
    const int64_t n = std::min(C, d.L - s0);
    prepare_chunk(d, s0, n, q, k, g, gam, qd, kd, a);
    T* os = o + s0 * d.ldv;
    gemm<T>(n, d.Dv, d.Dk, qd, d.Dk, false, S, d.Dv, false, os, d.ldv, false);      // inter-chunk
    gemm<T>(n, d.Dv, n, a, n, false, v + s0 * d.ldv, d.ldv, false, os, d.ldv, true);  // intra-chunk
    advance_state(d, s0, n, v, gam, kd, S);
  }
}

template <typename T>
void linear_attention_backward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                               const std::type_identity_t<T>* g, const T* dout, std::type_identity_t<T>* dq,
                               std::type_identity_t<T>* dk, std::type_identity_t<T>* dv,
                               std::type_identity_t<T>* dg, T* scratch) {
  check_dims(d, "linear_attention_backward");
  const int64_t C = d.chunk, Dk = d.Dk, Dv = d.Dv, nc = num_chunks(d);
  T* states = scratch;              // [nc, Dk, Dv] state entering each chunk
  T* dS = states + nc * Dk * Dv;    // [Dk, Dv] gradient of the state leaving the current chunk
  T* gam = dS + Dk * Dv;            // [C, Dk]
  T* qd = gam + C * Dk;             // [C, Dk]
  T* kd = qd + C * Dk;              // [C, Dk]
  T* tmp = kd + C * Dk;             // [C, Dk]
  T* a = tmp + C * Dk;              // [C, C]
  T* p = a + C * C;                 // [C, C]  P_ij = do_i . v_j
  T* e = p + C * C;                 // [C, C, Dk] exp(Gam_i - Gam_j)
  T* dq_own = e + C * C * Dk;       // [L, Dk] this op's dq (needed for dg even when dq is not)
  T* dk_own = dq_own + d.L * Dk;    // [L, Dk]

  // Pass 1: the state entering each chunk.
  std::fill(states, states + Dk * Dv, T(0));
  for (int64_t c = 0; c + 1 < nc; ++c) {
    const int64_t s0 = c * C, n = std::min(C, d.L - s0);
    std::copy(states + c * Dk * Dv, states + (c + 1) * Dk * Dv, states + (c + 1) * Dk * Dv);
    prepare_chunk<T>(d, s0, n, q, k, g, gam, qd, kd, nullptr);
    advance_state(d, s0, n, v, gam, kd, states + (c + 1) * Dk * Dv);
  }

  // Pass 2: chunks in reverse.
  std::fill(dS, dS + Dk * Dv, T(0));
  for (int64_t c = nc - 1; c >= 0; --c) {
    const int64_t s0 = c * C, n = std::min(C, d.L - s0);
    const T* S = states + c * Dk * Dv;
    const T* vs = v + s0 * d.ldv;
    const T* dos = dout + s0 * d.ldv;
    prepare_chunk(d, s0, n, q, k, g, gam, qd, kd, a, e);
    const T* last = gam + (n - 1) * Dk;
    // P = dO V^T, kept on and below the diagonal.
    gemm<T>(n, n, Dv, dos, d.ldv, false, vs, d.ldv, true, p, n, false);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) p[i * n + j] = 0;

    if (dv != nullptr) {
      gemm<T>(n, Dv, n, a, n, true, dos, d.ldv, false, dv + s0 * d.ldv, d.ldv, true);
      gemm<T>(n, Dv, Dk, kd, Dk, false, dS, Dv, false, dv + s0 * d.ldv, d.ldv, true);
    }
    // dq: through the entering state, then inside the chunk.
    T* dqc = dq_own + s0 * Dk;
    gemm<T>(n, Dk, Dv, dos, d.ldv, false, S, Dv, true, dqc, Dk, false);  // (S do_i)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t x = 0; x < Dk; ++x) dqc[i * Dk + x] *= std::exp(gam[i * Dk + x]);
    // dk: through the leaving state, then inside the chunk.
    T* dkc = dk_own + s0 * Dk;
    gemm<T>(n, Dk, Dv, vs, d.ldv, false, dS, Dv, true, dkc, Dk, false);  // (dS v_j)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t x = 0; x < Dk; ++x) dkc[j * Dk + x] *= std::exp(last[x] - gam[j * Dk + x]);
    for (int64_t i = 0; i < n; ++i) {
      const T* qi = q + (s0 + i) * d.ldk;
      for (int64_t j = 0; j <= i; ++j) {
        const T pij = p[i * n + j];
        const T* kj = k + (s0 + j) * d.ldk;
        for (int64_t x = 0; x < Dk; ++x) {
          const T w = g == nullptr ? pij : pij * e[(i * n + j) * Dk + x];
          dqc[i * Dk + x] += w * kj[x];
          dkc[j * Dk + x] += w * qi[x];
        }
      }
    }
    // dS of the state entering this chunk.
    for (int64_t x = 0; x < Dk; ++x) {
      const T decay = std::exp(last[x]);
      for (int64_t e = 0; e < Dv; ++e) dS[x * Dv + e] *= decay;
    }
    gemm<T>(Dk, Dv, n, qd, Dk, true, dos, d.ldv, false, dS, Dv, true);
  }

  for (int64_t t = 0; t < d.L; ++t)
    for (int64_t x = 0; x < Dk; ++x) {
      if (dq != nullptr) dq[t * d.ldk + x] += dq_own[t * Dk + x];
      if (dk != nullptr) dk[t * d.ldk + x] += dk_own[t * Dk + x];
    }
  if (g != nullptr && dg != nullptr) {
    // dg_s = sum_{t>=s} (q_t dq_t - k_t dk_t), a reverse cumulative sum; tmp holds the running sum.
    std::fill(tmp, tmp + Dk, T(0));
    for (int64_t t = d.L - 1; t >= 0; --t)
      for (int64_t x = 0; x < Dk; ++x) {
        tmp[x] += q[t * d.ldk + x] * dq_own[t * Dk + x] - k[t * d.ldk + x] * dk_own[t * Dk + x];
        dg[t * d.ldk + x] += tmp[x];
      }
  }
}

template <typename T>
void linear_attention_recurrent_forward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                                        const std::type_identity_t<T>* g, T* o, T* S) {
  check_dims(d, "linear_attention_recurrent_forward");
  std::fill(S, S + d.Dk * d.Dv, T(0));
  for (int64_t t = 0; t < d.L; ++t) {
    for (int64_t x = 0; x < d.Dk; ++x) {
      const T decay = g == nullptr ? T(1) : std::exp(g[t * d.ldk + x]);
      for (int64_t e = 0; e < d.Dv; ++e)
        S[x * d.Dv + e] = decay * S[x * d.Dv + e] + k[t * d.ldk + x] * v[t * d.ldv + e];
    }
    for (int64_t e = 0; e < d.Dv; ++e) {
      T acc = 0;
      for (int64_t x = 0; x < d.Dk; ++x) acc += q[t * d.ldk + x] * S[x * d.Dv + e];
      o[t * d.ldv + e] = acc;
    }
  }
}

#define MAD_LINEAR_ATTENTION_INSTANTIATE(T)                                                                       \
  template void linear_attention_forward<T>(const LinearAttentionDims&, const T*, const T*, const T*, const T*,   \
                                            T*, T*);                                                              \
  template void linear_attention_backward<T>(const LinearAttentionDims&, const T*, const T*, const T*, const T*,  \
                                             const T*, T*, T*, T*, T*, T*);                                       \
  template void linear_attention_recurrent_forward<T>(const LinearAttentionDims&, const T*, const T*, const T*,   \
                                                      const T*, T*, T*);
MAD_LINEAR_ATTENTION_INSTANTIATE(float)
MAD_LINEAR_ATTENTION_INSTANTIATE(double)
#undef MAD_LINEAR_ATTENTION_INSTANTIATE

}  // namespace mad::kernels
