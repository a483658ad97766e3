// The sLSTM cell of xLSTM (shared/docs/layers.md B.1-B.2) for one sequence: scalar memories with an
// exponential input gate, a stabiliser, and a recurrence that is block-diagonal over heads.
//
// Width Hd = NH * DH. Per step t, the gate pre-activations (gate order i, f, z, o; layout gate-major, then
// head, then unit, so [4, Hd]) are
//   g_t = pre_t + b + R h_{t-1},   (R h)[g, hd, u] = sum_j h[hd, j] R[hd, j, g * DH + u]   (R [NH, DH, 4*DH])
// and per unit, from the state (h, c, n, m) before the step:
//   lambda = m_{t-1} + log sigmoid(f~),   m_t = i~ if n_{t-1} == 0 else max(i~, lambda)
//   i' = min(1, exp(i~ - m_t)),  f' = min(1, exp(lambda - m_t)),  z = tanh(z~),  o = sigmoid(o~)
//   c_t = f' c_{t-1} + i' z,   n_t = f' n_{t-1} + i',   h_t = o c_t / n_t
// The first-step rule is decided per unit (the CUDA kernel's semantics, B-F2).
//
// Backward (B.2) is exact: h depends on c and n only through c / n, so the stabiliser m, which scales both,
// carries no gradient. Gradients ACCUMULATE (+=) into dpre, dR, db.
// Heads are independent recurrences, so each call computes one head `hd` of one sequence (and touches only
// that head's slices of h, states, dpre, dR, db): a caller can spread heads over threads deterministically.
// Layouts: pre, dpre [len, 4*Hd] contiguous; h, dh [len, Hd]; states [len + 1, 4, Hd] holds (h, c, n, m)
// before step 0 (the initial state, set by the caller: zeros for a fresh sequence) and after every step;
// backward assumes no gradient flows into the initial state. Single-threaded, no allocation; scratch as *_scratch_size says.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

struct SlstmDims {
  int64_t len;    // sequence length
  int64_t heads;  // NH
  int64_t dh;     // DH, units per head
  int64_t width() const { return heads * dh; }
};

std::size_t slstm_scratch_size(const SlstmDims& d);  // forward and backward

template <typename T>
void slstm_forward(const SlstmDims& d, int64_t hd, const T* pre, const T* R, const T* bias, T* h, T* states,
                   std::type_identity_t<T>* scratch);
template <typename T>
void slstm_backward(const SlstmDims& d, int64_t hd, const T* pre, const T* R, const T* bias, const T* states,
                    const T* dh, T* dpre, T* dR, T* db, std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
