// The LTC cell of Neural Circuit Policies (shared/docs/layers.md D.3) for one sequence: N neurons driven by
// S sensory inputs, advanced one token at a time by the fused semi-implicit ODE solver.
//
// Per token t (input I_t [S]) the sensory synapse activations are computed once,
//   a^s_kj = sw_kj σ(ssigma_kj (I_tk - smu_kj)),
// then U sub-steps of size δ = dt / U, each implicit in the linear terms and explicit in the synapses:
//   a_ij   = w_ij σ(sigma_ij (v_i - mu_ij))                       (source i -> target j, from the current v)
//   num_j  = (cm_j/δ) v_j + gleak_j vleak_j + Σ_i a_ij erev_ij + Σ_k a^s_kj serev_kj
//   den_j  = (cm_j/δ)     + gleak_j         + Σ_i a_ij          + Σ_k a^s_kj
//   v_j   <- num_j / (den_j + eps)
// and the token's output is v after the last sub-step. The caller applies the positivity of w, sw, cm and
// gleak (softplus) and the wiring masks (w and sw are zero where there is no synapse) before the kernel.
//
// Backward: BPTT through the sub-steps, exact. With g_j = dv'_j / (den_j + eps), the sub-step's gradients
// are dnum_j = g_j and dden_j = -g_j v'_j; a synapse gets da_ij = g_j (erev_ij - v'_j) and passes
// da_ij w_ij s (1 - s) sigma_ij to v_i (s its sigmoid); the sensory synapses, constant over the sub-steps,
// collect Σ_u of their terms once per token.
//
// Layouts (row-major): input [len, S]; gleak, vleak, cm [N]; w, sigma, mu, erev [N, N] (row = source);
// sw, ssigma, smu, serev [S, N]; states [len * U + 1, N]: row 0 is the initial state (set by the caller),
// row t*U + u + 1 the state after sub-step u of token t; out [len, N] the state after each token.
// Backward ADDS (+=) into every gradient; it assumes no gradient flows into the initial state.
// Single-threaded, no allocation; scratch as *_scratch_size says.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

struct LtcDims {
  int64_t len;      // tokens
  int64_t sensory;  // S
  int64_t units;    // N
  int64_t unfolds;  // U, solver sub-steps per token
};

// Pointers to the eleven parameter tensors (or to their gradients), in the order of the op's inputs.
template <typename T>
struct LtcParams {
  T *gleak, *vleak, *cm, *w, *sigma, *mu, *erev, *sw, *ssigma, *smu, *serev;
};

// Elements of the eleven tensors together: 3N + 4N^2 + 4SN (a gradient slot for one batch element).
int64_t ltc_param_count(const LtcDims& d);
// LtcParams pointing into one contiguous block of ltc_param_count elements, in the order above.
template <typename T>
LtcParams<T> ltc_params_in(const LtcDims& d, T* block);

std::size_t ltc_scratch_size(const LtcDims& d);  // forward and backward

template <typename T>
void ltc_forward(const LtcDims& d, const LtcParams<const T>& p, double dt, double eps, const T* input, T* states,
                 T* out, std::type_identity_t<T>* scratch);
template <typename T>
void ltc_backward(const LtcDims& d, const LtcParams<const T>& p, double dt, double eps, const T* input,
                  const T* states, const T* dout, T* dinput, const LtcParams<T>& grad, std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
