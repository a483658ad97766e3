// sLSTM cell kernels (see slstm.h for the mathematics and layouts).
#include "kernels/slstm.h"

#include <algorithm>
#include <cmath>

namespace mad::kernels {
namespace {

template <typename T>
T log_sigmoid(T x) {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}
template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// Gate pre-activations of head hd at step t into g [4, DH]: pre + bias + R_hd h_{t-1, hd}.
template <typename T>
void gates(const SlstmDims& d, int64_t hd, const T* pre_t, const T* R, const T* bias, const T* h_prev, T* g) {
  const int64_t Hd = d.width(), DH = d.dh;
  const T* Rh = R + hd * DH * 4 * DH;  // [DH, 4*DH]
  for (int64_t gate = 0; gate < 4; ++gate)
    for (int64_t u = 0; u < DH; ++u) g[gate * DH + u] = pre_t[gate * Hd + hd * DH + u] + bias[gate * Hd + hd * DH + u];
  for (int64_t j = 0; j < DH; ++j) {
    const T hj = h_prev[hd * DH + j];
    if (hj == T(0)) continue;
    for (int64_t x = 0; x < 4 * DH; ++x) g[x] += hj * Rh[j * 4 * DH + x];
  }
}

// The pointwise part of one step for unit u of the head: (i', f', z, o) from the gates and the old m, n.
template <typename T>
struct Pointwise {
  T ip, fp, z, o, m;
};

template <typename T>
Pointwise<T> pointwise(T ig, T fg, T zg, T og, T m_prev, T n_prev) {
  Pointwise<T> p;
  const T lam = m_prev + log_sigmoid(fg);
  p.m = n_prev == T(0) ? ig : std::max(ig, lam);
  p.ip = std::min(T(1), std::exp(ig - p.m));
  p.fp = std::min(T(1), std::exp(lam - p.m));
  p.z = std::tanh(zg);
  p.o = sigmoid(og);
  return p;
}

}  // namespace

std::size_t slstm_scratch_size(const SlstmDims& d) { return static_cast<std::size_t>(7 * d.dh); }

template <typename T>
void slstm_forward(const SlstmDims& d, int64_t hd, const T* pre, const T* R, const T* bias, T* h, T* states,
                   std::type_identity_t<T>* scratch) {
  const int64_t Hd = d.width(), DH = d.dh;
  T* g = scratch;
  for (int64_t t = 0; t < d.len; ++t) {
    const T* sp = states + t * 4 * Hd;  // (h, c, n, m) before step t
    T* sn = states + (t + 1) * 4 * Hd;
    gates(d, hd, pre + t * 4 * Hd, R, bias, sp, g);
    for (int64_t u = 0; u < DH; ++u) {
      const int64_t x = hd * DH + u;
      const Pointwise<T> p = pointwise(g[u], g[DH + u], g[2 * DH + u], g[3 * DH + u], sp[3 * Hd + x], sp[2 * Hd + x]);
      const T c = p.fp * sp[Hd + x] + p.ip * p.z;
      const T n = p.fp * sp[2 * Hd + x] + p.ip;
      sn[x] = p.o * c / n;
      sn[Hd + x] = c;
      sn[2 * Hd + x] = n;
      sn[3 * Hd + x] = p.m;
      h[t * Hd + x] = sn[x];
    }
  }
}

template <typename T>
void slstm_backward(const SlstmDims& d, int64_t hd, const T* pre, const T* R, const T* bias, const T* states,
                    const T* dh, T* dpre, T* dR, T* db, std::type_identity_t<T>* scratch) {
  const int64_t Hd = d.width(), DH = d.dh;
  T* g = scratch;            // [4*DH]: gates, then their gradients
  T* dh_rec = g + 4 * DH;    // [DH]: gradient of h_t arriving from step t+1 through R
  T* dc_run = dh_rec + DH;   // [DH]: adjoint of c_t
  T* dn_run = dc_run + DH;   // [DH]: adjoint of n_t
  std::fill(dh_rec, dh_rec + 3 * DH, T(0));
  const T* Rh = R + hd * DH * 4 * DH;
  T* dRh = dR + hd * DH * 4 * DH;
  for (int64_t t = d.len - 1; t >= 0; --t) {
    const T* sp = states + t * 4 * Hd;
    const T* sn = states + (t + 1) * 4 * Hd;
    gates(d, hd, pre + t * 4 * Hd, R, bias, sp, g);
    for (int64_t u = 0; u < DH; ++u) {
      const int64_t x = hd * DH + u;
      const Pointwise<T> p = pointwise(g[u], g[DH + u], g[2 * DH + u], g[3 * DH + u], sp[3 * Hd + x], sp[2 * Hd + x]);
      const T h_t = sn[x], n_t = sn[2 * Hd + x];
      const T dht = dh[t * Hd + x] + dh_rec[u];
      const T dhbar = dht / n_t;
      T dc = dc_run[u] + dhbar * p.o;
      T dn = dn_run[u] - dhbar * h_t;
      const T fg = g[DH + u];
      g[u] = p.ip * (p.z * dc + dn);                                                      // d i~
      g[DH + u] = p.fp * (dc * sp[Hd + x] + dn * sp[2 * Hd + x]) * (T(1) - sigmoid(fg));  // d f~
      g[2 * DH + u] = dc * p.ip * (T(1) - p.z * p.z);                                     // d z~
      g[3 * DH + u] = (T(1) - p.o) * h_t * dht;                                           // d o~
      dc_run[u] = p.fp * dc;
      dn_run[u] = p.fp * dn;
    }
    for (int64_t gate = 0; gate < 4; ++gate)
      for (int64_t u = 0; u < DH; ++u) {
        dpre[t * 4 * Hd + gate * Hd + hd * DH + u] += g[gate * DH + u];
        db[gate * Hd + hd * DH + u] += g[gate * DH + u];
      }
    // Through the recurrence: dR_hd += h_{t-1} dg^T, dh_{t-1} = R_hd dg.
    for (int64_t j = 0; j < DH; ++j) {
      const T hj = sp[hd * DH + j];
      T acc = 0;
      for (int64_t y = 0; y < 4 * DH; ++y) {
        dRh[j * 4 * DH + y] += hj * g[y];
        acc += Rh[j * 4 * DH + y] * g[y];
      }
      dh_rec[j] = acc;
    }
  }
}

#define MAD_SLSTM_INSTANTIATE(T)                                                                                   \
  template void slstm_forward<T>(const SlstmDims&, int64_t, const T*, const T*, const T*, T*, T*, T*);           \
  template void slstm_backward<T>(const SlstmDims&, int64_t, const T*, const T*, const T*, const T*, const T*, T*, \
                                  T*, T*, T*);
MAD_SLSTM_INSTANTIATE(float)
MAD_SLSTM_INSTANTIATE(double)
#undef MAD_SLSTM_INSTANTIATE

}  // namespace mad::kernels
