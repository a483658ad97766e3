// Causal (gated) linear attention, chunkwise: the kernel behind linear attention and gated linear
// attention (GLA), one (batch, head) slice at a time.
//
// Shapes of one slice (row-major, rows strided so a [B, T, H, D] tensor is read in place):
//   q, k  [L, Dk]  row stride ldk        g (log decay, <= 0, nullable)  [L, Dk]  row stride ldk
//   v, o  [L, Dv]  row stride ldv
// With G_t = sum_{s<=t} g_s (G = 0 when g is null, plain linear attention):
//   o_t = sum_{j<=t} ( sum_d q_t[d] k_j[d] exp(G_t[d] - G_j[d]) ) v_j
// which is the recurrence S_t = diag(exp(g_t)) S_{t-1} + k_t v_t^T, o_t = S_t^T q_t (S [Dk, Dv], S_0 = 0).
//
// Chunkwise form (chunk length C): inside a chunk starting at s0, Gam_i = G_{s0+i} - G_{s0-1} (a sum of at
// most C log decays, so every exponent below is <= 0 and nothing overflows, whatever the gates), and with
// S the state before the chunk:
//   o_i  = (q_i * exp(Gam_i))^T S  +  sum_{j<=i} A_ij v_j,   A_ij = sum_d q_i[d] k_j[d] exp(Gam_i[d] - Gam_j[d])
//   S   <- diag(exp(Gam_last)) S  +  sum_j (k_j * exp(Gam_last - Gam_j)) v_j^T
// Cost O(L*C*Dk + L*Dk*Dv) per slice; the state products go through gemm.
//
// Backward (exact): states at chunk starts are recomputed, then one reverse pass over chunks carries
// dS = dLoss/dS (the state after the chunk):
//   dv_j = sum_{i>=j} A_ij do_i + (k_j * exp(Gam_last - Gam_j))^T dS
//   dq_i = exp(Gam_i) * (S do_i) + sum_{j<=i} (do_i . v_j) k_j * exp(Gam_i - Gam_j)
//   dk_j = sum_{i>=j} (do_i . v_j) q_i * exp(Gam_i - Gam_j) + exp(Gam_last - Gam_j) * (dS v_j)
//   dS  <- diag(exp(Gam_last)) dS + sum_i (q_i * exp(Gam_i)) do_i^T
// and the decay gradient from the identity (q_t[d] only appears as q_t[d] e^{G_t[d]}, k_j[d] only as
// k_j[d] e^{-G_j[d]}):  dG_t = q_t * dq_t - k_t * dk_t,  dg_s = sum_{t>=s} dG_t.
// Gradients ACCUMULATE (+=) into dq, dk, dv, dg; each may be null to skip it.
//
// No function here allocates or spawns threads; scratch is caller-provided. T is float or double.
// A naive per-step recurrence (linear_attention_recurrent_forward) is kept as the reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

struct LinearAttentionDims {
  int64_t L;      // sequence length
  int64_t Dk;     // key (and query, decay) width of a head
  int64_t Dv;     // value width of a head
  int64_t ldk;    // row stride of q, k, g, dq, dk, dg (>= Dk)
  int64_t ldv;    // row stride of v, o, do, dv (>= Dv)
  int64_t chunk;  // chunk length C >= 1
};

// Scratch in elements of T.
std::size_t linear_attention_forward_scratch_size(const LinearAttentionDims& d);
std::size_t linear_attention_backward_scratch_size(const LinearAttentionDims& d);

// o [L, Dv] (stride ldv) is overwritten.
template <typename T>
void linear_attention_forward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                              const std::type_identity_t<T>* g, T* o, T* scratch);

// dq, dk, dg [L, Dk] +=, dv [L, Dv] += (each nullable; g null means no decay and dg is ignored).
template <typename T>
void linear_attention_backward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                               const std::type_identity_t<T>* g, const T* dout, std::type_identity_t<T>* dq,
                               std::type_identity_t<T>* dk, std::type_identity_t<T>* dv,
                               std::type_identity_t<T>* dg, T* scratch);

// Reference: the step-by-step recurrence, O(L*Dk*Dv), scratch Dk*Dv. Overwrites o.
template <typename T>
void linear_attention_recurrent_forward(const LinearAttentionDims& d, const T* q, const T* k, const T* v,
                                        const std::type_identity_t<T>* g, T* o, T* scratch);

}  // namespace mad::kernels
