// The selective scan of Mamba (S6): a diagonal linear recurrence whose step size dt and input/output
// projections B, C depend on the token.
//
// For one sequence, channels c of a block [c0, c1) and state index n < N:
//   h_t[c, n] = exp(dt_t[c] A[c, n]) h_{t-1}[c, n] + dt_t[c] B_t[n] x_t[c],      h_{-1} = 0
//   y_t[c]    = sum_n C_t[n] h_t[c, n]
// Layouts (row-major, one sequence): x, dt, y, dy, dx, ddt [len, channels]; B, C, dB, dC [len, N];
// A, dA [channels, N]. The caller offsets the pointers to its sequence; the kernel touches only channels
// [c0, c1) of x, dt, y, dx, ddt and rows [c0, c1) of A, dA.
//
// Backward is exact. With G_t = dL/dh_t (G_t = C_t dy_t + a_{t+1} G_{t+1}, a_t = exp(dt_t A)):
//   dx_t[c]  += sum_n G_t dt_t B_t[n]            dB_t[n] += sum_c G_t dt_t x_t
//   ddt_t[c] += sum_n G_t (a_t A h_{t-1} + B_t[n] x_t)
//   dA[c, n] += sum_t G_t a_t dt_t h_{t-1}        dC_t[n] += sum_c dy_t h_t
// Every gradient ACCUMULATES (+=). dB, dC and dA sum over channels (or sequences), so concurrent calls on
// one sequence must each get their own dB, dC (and concurrent sequences their own dA); the caller adds
// them up in a fixed order (core/ops_selective_scan.cpp), which keeps results independent of threads.
// Nothing is saved by the forward: backward recomputes the states of its block into scratch.
//
// Single-threaded, no allocation: scratch as the *_scratch_size functions say for a block of `width`
// channels. T is float or double (float uses the vectorisable exp of kernels/vecmath.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mad::kernels {

struct SelectiveScanDims {
  int64_t len;       // T, time steps
  int64_t channels;  // C, row stride of x, dt, y
  int64_t state;     // N, state size per channel (row stride of B, C, A)
};

std::size_t selective_scan_forward_scratch_size(const SelectiveScanDims& d, int64_t width);   // 2 * width * N
std::size_t selective_scan_backward_scratch_size(const SelectiveScanDims& d, int64_t width);  // (len + 4) * width * N + 2 * width

// y [len, channels] (channels [c0, c1) overwritten).
template <typename T>
void selective_scan_forward(const SelectiveScanDims& d, int64_t c0, int64_t c1, const T* x, const T* dt, const T* A,
                            const T* B, const T* C, T* y, std::type_identity_t<T>* scratch);

// dx, ddt [len, channels], dA [channels, N], dB, dC [len, N]: all +=.
template <typename T>
void selective_scan_backward(const SelectiveScanDims& d, int64_t c0, int64_t c1, const T* x, const T* dt, const T* A,
                             const T* B, const T* C, const T* dy, T* dx, T* ddt, T* dA, T* dB, T* dC,
                             std::type_identity_t<T>* scratch);

}  // namespace mad::kernels
