// The mLSTM cell of xLSTM (shared/docs/layers.md A.1-A.4) for one (batch, head) slice, in its three forms:
// recurrent (one step at a time), parallel (quadratic, row by row) and chunkwise (chunks of `chunk` steps,
// a recurrence over chunk-boundary states plus a quadratic part inside each chunk).
//
// Per step t, with scalar gate pre-activations i_t (input) and f_t (forget), q_t, k_t [dk], v_t [dv]:
//   lambda_t = log sigmoid(f_t),   m_t = max(lambda_t + m_{t-1}, i_t)                  (stabiliser)
//   C_t = exp(lambda_t + m_{t-1} - m_t) C_{t-1} + exp(i_t - m_t) k_t v_t^T             [dk, dv]
//   n_t = exp(lambda_t + m_{t-1} - m_t) n_{t-1} + exp(i_t - m_t) k_t                   [dk]
//   h_t = C_t^T q^_t / (max(|n_t . q^_t|, exp(-m_t)) + eps),   q^_t = q_t / sqrt(dk)   [dv]
// The 1/sqrt(dk) sits on the query (the mlstm_kernels convention, layers.md A-F1), so states are those of
// the xLSTM-7B kernels. The stored C, n are the unstabilised ones times exp(-m); m cancels everywhere but in
// eps, so the three forms agree to rounding for moderate gates; the parallel form takes m over the causal
// row only (no initial-state term, A-F7), which changes the output by eps * e^m-sized terms only.
//
// Backward is the exact gradient with the stabiliser m held constant (A.4.1 and the exact variant of A.4.2,
// including the path through the normaliser that the official kernels drop): exact when eps = 0, and off by
// eps * e^m-relative terms otherwise. Every backward starts from a zero initial state and no gradient of the
// final state; gradients ACCUMULATE (+=) into dq, dk, dv, di, df (none may be null).
//
// Layouts: q, k, dq, dk are [len, dk] with rows ld_qk apart; v, h, dh, dv are [len, dv] with rows ld_v apart;
// gates i, f, di, df are [len] with stride ld_g. So a head of the [B, T, H, D] layout is read in place.
// A state is one buffer [C (dk x dv, row-major) | n (dk) | m (1)] of mlstm_state_size floats.
// Single-threaded, no allocation: the caller passes scratch of the size the *_scratch_size functions give.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

struct MlstmDims {
  int64_t len;    // sequence length
  int64_t dk;     // query/key head width
  int64_t dv;     // value head width
  int64_t ld_qk;  // row stride of q, k, dq, dk
  int64_t ld_v;   // row stride of v, h, dh, dv
  int64_t ld_g;   // stride of the gates i, f, di, df
};

inline int64_t mlstm_state_size(int64_t dk, int64_t dv) { return dk * dv + dk + 1; }

std::size_t mlstm_recurrent_backward_scratch_size(const MlstmDims& d);
std::size_t mlstm_parallel_scratch_size(const MlstmDims& d);  // forward and backward
std::size_t mlstm_chunkwise_forward_scratch_size(const MlstmDims& d, int64_t chunk);
std::size_t mlstm_chunkwise_backward_scratch_size(const MlstmDims& d, int64_t chunk);

// Recurrent form. `state` holds the initial state on entry (zeros for a fresh sequence) and the final state
// on return.
template <typename T>
void mlstm_recurrent_forward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                             const T* i, const T* f, T* h, T* state);
template <typename T>
void mlstm_recurrent_backward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                              const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv, T* di, T* df,
                              std::type_identity_t<T>* scratch);

// Parallel (quadratic) form from a zero state; O(len^2 (dk + dv)), never stores the [len, len] matrix.
template <typename T>
void mlstm_parallel_forward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                            const T* i, const T* f, T* h, std::type_identity_t<T>* scratch);
template <typename T>
void mlstm_parallel_backward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                             const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv, T* di, T* df,
                             std::type_identity_t<T>* scratch);

// Chunkwise form with chunks of `chunk` steps (the last one may be shorter). `state` as in the recurrent
// form; the final state equals the recurrent one (same m convention).
template <typename T>
void mlstm_chunkwise_forward(const MlstmDims& d, int64_t chunk, std::type_identity_t<T> eps, const T* q,
                             const T* k, const T* v, const T* i, const T* f, T* h, T* state,
                             std::type_identity_t<T>* scratch);
template <typename T>
void mlstm_chunkwise_backward(const MlstmDims& d, int64_t chunk, std::type_identity_t<T> eps, const T* q,
                              const T* k, const T* v, const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv,
                              T* di, T* df, std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
