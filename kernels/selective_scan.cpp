// Selective scan (kernels/selective_scan.h). The state of a channel block is kept as [N, width] so that
// the innermost loops run over contiguous channels of x, dt and y and vectorise.
#include "kernels/selective_scan.h"

#include <algorithm>

#include "kernels/vecmath.h"

namespace mad::kernels {

std::size_t selective_scan_forward_scratch_size(const SelectiveScanDims& d, int64_t width) {
  return static_cast<std::size_t>(2 * width * d.state);
}

std::size_t selective_scan_backward_scratch_size(const SelectiveScanDims& d, int64_t width) {
  return static_cast<std::size_t>((d.len + 4) * width * d.state + 2 * width);
}

namespace {

// A's rows [c0, c0 + W) transposed to [N, W].
template <typename T>
void transpose_A(const SelectiveScanDims& d, int64_t c0, int64_t W, const T* A, T* At) {
  for (int64_t w = 0; w < W; ++w)
    for (int64_t n = 0; n < d.state; ++n) At[n * W + w] = A[(c0 + w) * d.state + n];
}

// One step of the recurrence on the block: h (= h_{t-1} [N, W]) becomes h_t; with y, adds C_t h_t to y_t.
template <typename T>
void step(const SelectiveScanDims& d, int64_t W, const T* At, const T* xt, const T* dtt, const T* Bt, const T* Ct,
          const T* h_prev, T* h, T* yt) {
  for (int64_t n = 0; n < d.state; ++n) {
    const T bn = Bt[n], cn = Ct[n];
    const T* an = At + n * W;
    const T* hp = h_prev + n * W;
    T* hn = h + n * W;
    for (int64_t w = 0; w < W; ++w) hn[w] = vexp<T>(dtt[w] * an[w]) * hp[w] + dtt[w] * bn * xt[w];
    if (yt != nullptr)
      for (int64_t w = 0; w < W; ++w) yt[w] += cn * hn[w];
  }
}

// The reverse step at time t for one state index n over the block's W channels. Every pointer is a distinct
// row (restrict: without it the compiler must assume the gradient rows may alias the inputs and does not
// vectorise the loop).
template <typename T>
void reverse_row(int64_t W, T bn, T cn, const T* __restrict an, const T* __restrict hn, const T* __restrict hp,
                 const T* __restrict xt, const T* __restrict dtt, const T* __restrict dyt, T* __restrict gn,
                 T* __restrict dan, T* __restrict dxt, T* __restrict ddtt, T* __restrict dc_terms,
                 T* __restrict db_terms) {
  for (int64_t w = 0; w < W; ++w) {
    const T G = gn[w] + cn * dyt[w];  // dL/dh_t
    const T a = vexp<T>(dtt[w] * an[w]);
    const T da = G * hp[w];  // dL/da_t
    dc_terms[w] = dyt[w] * hn[w];
    db_terms[w] = G * dtt[w] * xt[w];
    ddtt[w] += da * a * an[w] + G * bn * xt[w];
    dan[w] += da * a * dtt[w];
    dxt[w] += G * dtt[w] * bn;
    gn[w] = G * a;
  }
}

}  // namespace

template <typename T>
void selective_scan_forward(const SelectiveScanDims& d, int64_t c0, int64_t c1, const T* x, const T* dt, const T* A,
                            const T* B, const T* C, T* y, std::type_identity_t<T>* scratch) {
  const int64_t W = c1 - c0, N = d.state, Ch = d.channels;
  T* At = scratch;     // [N, W]
  T* h = At + N * W;   // [N, W]
  transpose_A(d, c0, W, A, At);
  std::fill(h, h + N * W, T(0));
  for (int64_t t = 0; t < d.len; ++t) {
    T* yt = y + t * Ch + c0;
    std::fill(yt, yt + W, T(0));
    step(d, W, At, x + t * Ch + c0, dt + t * Ch + c0, B + t * N, C + t * N, h, h, yt);
  }
}

template <typename T>
void selective_scan_backward(const SelectiveScanDims& d, int64_t c0, int64_t c1, const T* x, const T* dt, const T* A,
                             const T* B, const T* C, const T* dy, T* dx, T* ddt, T* dA, T* dB, T* dC,
                             std::type_identity_t<T>* scratch) {
  const int64_t W = c1 - c0, N = d.state, Ch = d.channels, S = N * W;
  T* At = scratch;             // [N, W]
  T* dAt = At + S;             // [N, W], dA of the block, transposed
  T* g = dAt + S;              // [N, W], a_{t+1} G_{t+1} carried back
  T* H = g + S;                // [len + 1, N, W]: row 0 = h_{-1} = 0, row t + 1 = h_t
  T* dc_terms = H + (d.len + 1) * S;  // [W], the terms of dC_t[n] and dB_t[n], summed after the loop over w
  T* db_terms = dc_terms + W;         // (a running sum inside it would stop the loop from vectorising)
  transpose_A(d, c0, W, A, At);
  std::fill(dAt, dAt + 2 * S, T(0));
  std::fill(H, H + S, T(0));
  for (int64_t t = 0; t < d.len; ++t)
    step<T>(d, W, At, x + t * Ch + c0, dt + t * Ch + c0, B + t * N, C + t * N, H + t * S, H + (t + 1) * S, nullptr);

  for (int64_t t = d.len - 1; t >= 0; --t) {
    const T* xt = x + t * Ch + c0;
    const T* dtt = dt + t * Ch + c0;
    const T* dyt = dy + t * Ch + c0;
    T* dxt = dx + t * Ch + c0;
    T* ddtt = ddt + t * Ch + c0;
    for (int64_t n = 0; n < N; ++n) {
      const T bn = B[t * N + n], cn = C[t * N + n];
      const T* an = At + n * W;
      const T* hn = H + (t + 1) * S + n * W;
      const T* hp = H + t * S + n * W;
      T* gn = g + n * W;
      T* dan = dAt + n * W;
      reverse_row<T>(W, bn, cn, an, hn, hp, xt, dtt, dyt, gn, dan, dxt, ddtt, dc_terms, db_terms);
      T sum_dc = 0, sum_db = 0;
      for (int64_t w = 0; w < W; ++w) {
        sum_dc += dc_terms[w];
        sum_db += db_terms[w];
      }
      dC[t * N + n] += sum_dc;
      dB[t * N + n] += sum_db;
    }
  }
  for (int64_t w = 0; w < W; ++w)
    for (int64_t n = 0; n < N; ++n) dA[(c0 + w) * N + n] += dAt[n * W + w];
}

#define MAD_INSTANTIATE(T)                                                                                          \
  template void selective_scan_forward<T>(const SelectiveScanDims&, int64_t, int64_t, const T*, const T*, const T*, \
                                          const T*, const T*, T*, T*);                                              \
  template void selective_scan_backward<T>(const SelectiveScanDims&, int64_t, int64_t, const T*, const T*,          \
                                           const T*, const T*, const T*, const T*, T*, T*, T*, T*, T*, T*);
MAD_INSTANTIATE(float)
MAD_INSTANTIATE(double)
#undef MAD_INSTANTIATE

}  // namespace mad::kernels
