// LTC cell kernels (see ltc.h for the mathematics and layouts).
#include "kernels/ltc.h"

#include <algorithm>

#include "kernels/vecmath.h"

namespace mad::kernels {
namespace {

// Sensory sums of token t: num_s[j] = Σ_k a^s_kj serev_kj, den_s[j] = Σ_k a^s_kj (num_s may be null).
template <typename T>
void sensory_sums(const LtcDims& d, const LtcParams<const T>& p, const T* input_t, T* num_s, T* den_s) {
  const int64_t N = d.units;
  std::fill(den_s, den_s + N, T(0));
  if (num_s) std::fill(num_s, num_s + N, T(0));
  for (int64_t k = 0; k < d.sensory; ++k) {
    const T x = input_t[k];
    const T *sw = p.sw + k * N, *sg = p.ssigma + k * N, *sm = p.smu + k * N, *se = p.serev + k * N;
    for (int64_t j = 0; j < N; ++j) {
      const T a = sw[j] * vsigmoid<T>(sg[j] * (x - sm[j]));
      den_s[j] += a;
      if (num_s) num_s[j] += a * se[j];
    }
  }
}

// Synapse sigmoids s[i, j] = σ(sigma_ij (v_i - mu_ij)) for the state v; adds Σ_i w_ij s_ij (erev_ij) into
// den (num, when given).
template <typename T>
void synapses(const LtcDims& d, const LtcParams<const T>& p, const T* v, T* s, T* num, T* den) {
  const int64_t N = d.units;
  for (int64_t i = 0; i < N; ++i) {
    const T vi = v[i];
    const T *w = p.w + i * N, *sg = p.sigma + i * N, *mu = p.mu + i * N, *e = p.erev + i * N;
    T* si = s + i * N;
    for (int64_t j = 0; j < N; ++j) {
      si[j] = vsigmoid<T>(sg[j] * (vi - mu[j]));
      const T a = w[j] * si[j];
      den[j] += a;
      if (num) num[j] += a * e[j];
    }
  }
}

}  // namespace

int64_t ltc_param_count(const LtcDims& d) {
  return 3 * d.units + 4 * d.units * d.units + 4 * d.sensory * d.units;
}

template <typename T>
LtcParams<T> ltc_params_in(const LtcDims& d, T* block) {
  const int64_t N = d.units, NN = N * N, SN = d.sensory * N;
  LtcParams<T> p;
  T* q = block;
  auto take = [&](int64_t n) {
    T* r = q;
    q += n;
    return r;
  };
  p.gleak = take(N);
  p.vleak = take(N);
  p.cm = take(N);
  p.w = take(NN);
  p.sigma = take(NN);
  p.mu = take(NN);
  p.erev = take(NN);
  p.sw = take(SN);
  p.ssigma = take(SN);
  p.smu = take(SN);
  p.serev = take(SN);
  return p;
}

// Forward: num_s, den_s, num, den [N] and the synapse sigmoids [N, N]. Backward: den_s, den, g, G, H,
// dv_prev [N] and the sigmoids [N, N].
std::size_t ltc_scratch_size(const LtcDims& d) { return static_cast<std::size_t>(6 * d.units + d.units * d.units); }

template <typename T>
void ltc_forward(const LtcDims& d, const LtcParams<const T>& p, double dt, double eps, const T* input, T* states,
                 T* out, std::type_identity_t<T>* scratch) {
  const int64_t N = d.units, U = d.unfolds;
  const T delta = static_cast<T>(dt / static_cast<double>(U)), e = static_cast<T>(eps);
  T *num_s = scratch, *den_s = num_s + N, *num = den_s + N, *den = num + N, *s = den + N;
  for (int64_t t = 0; t < d.len; ++t) {
    sensory_sums(d, p, input + t * d.sensory, num_s, den_s);
    for (int64_t u = 0; u < U; ++u) {
      const T* v = states + (t * U + u) * N;
      T* vn = states + (t * U + u + 1) * N;
      for (int64_t j = 0; j < N; ++j) {
        const T c = p.cm[j] / delta;
        num[j] = c * v[j] + p.gleak[j] * p.vleak[j] + num_s[j];
        den[j] = c + p.gleak[j] + den_s[j];
      }
      synapses(d, p, v, s, num, den);
      for (int64_t j = 0; j < N; ++j) vn[j] = num[j] / (den[j] + e);
    }
    std::copy(states + (t + 1) * U * N, states + (t + 1) * U * N + N, out + t * N);
  }
}

template <typename T>
void ltc_backward(const LtcDims& d, const LtcParams<const T>& p, double dt, double eps, const T* input,
                  const T* states, const T* dout, T* dinput, const LtcParams<T>& grad, std::type_identity_t<T>* scratch) {
  const int64_t N = d.units, U = d.unfolds, S = d.sensory;
  const T delta = static_cast<T>(dt / static_cast<double>(U)), e = static_cast<T>(eps);
  T *den_s = scratch, *den = den_s + N, *dv = den + N, *G = dv + N, *H = G + N, *dv_prev = H + N, *s = dv_prev + N;
  std::fill(dv, dv + N, T(0));
  for (int64_t t = d.len - 1; t >= 0; --t) {
    for (int64_t j = 0; j < N; ++j) dv[j] += dout[t * N + j];
    const T* input_t = input + t * S;
    sensory_sums<T>(d, p, input_t, nullptr, den_s);
    std::fill(G, G + N, T(0));
    std::fill(H, H + N, T(0));
    for (int64_t u = U - 1; u >= 0; --u) {
      const T* v = states + (t * U + u) * N;
      const T* vn = states + (t * U + u + 1) * N;
      for (int64_t j = 0; j < N; ++j) den[j] = p.cm[j] / delta + p.gleak[j] + den_s[j];
      synapses<T>(d, p, v, s, nullptr, den);
      // den now holds den_j; reuse it for g_j = dv'_j / (den_j + eps).
      T* g = den;
      for (int64_t j = 0; j < N; ++j) {
        g[j] = dv[j] / (den[j] + e);
        grad.cm[j] += g[j] * (v[j] - vn[j]) / delta;
        grad.gleak[j] += g[j] * (p.vleak[j] - vn[j]);
        grad.vleak[j] += g[j] * p.gleak[j];
        G[j] += g[j];
        H[j] += g[j] * vn[j];
        dv_prev[j] = g[j] * p.cm[j] / delta;
      }
      for (int64_t i = 0; i < N; ++i) {
        const T vi = v[i];
        const T *w = p.w + i * N, *sg = p.sigma + i * N, *mu = p.mu + i * N, *er = p.erev + i * N, *si = s + i * N;
        T *dw = grad.w + i * N, *dsg = grad.sigma + i * N, *dmu = grad.mu + i * N, *der = grad.erev + i * N;
        T acc = 0;
        for (int64_t j = 0; j < N; ++j) {
          const T a = w[j] * si[j];
          const T da = g[j] * (er[j] - vn[j]);
          der[j] += a * g[j];
          dw[j] += da * si[j];
          const T dz = da * w[j] * si[j] * (T(1) - si[j]);
          dsg[j] += dz * (vi - mu[j]);
          dmu[j] -= dz * sg[j];
          acc += dz * sg[j];
        }
        dv_prev[i] += acc;
      }
      std::copy(dv_prev, dv_prev + N, dv);
    }
    // The token's sensory synapses: da^s_kj = serev_kj G_j - H_j over all its sub-steps.
    for (int64_t k = 0; k < S; ++k) {
      const T x = input_t[k];
      const T *sw = p.sw + k * N, *sg = p.ssigma + k * N, *sm = p.smu + k * N, *se = p.serev + k * N;
      T *dsw = grad.sw + k * N, *dsg = grad.ssigma + k * N, *dsm = grad.smu + k * N, *dse = grad.serev + k * N;
      T acc = 0;
      for (int64_t j = 0; j < N; ++j) {
        const T sk = vsigmoid<T>(sg[j] * (x - sm[j]));
        const T a = sw[j] * sk;
        const T da = se[j] * G[j] - H[j];
        dse[j] += a * G[j];
        dsw[j] += da * sk;
        const T dz = da * sw[j] * sk * (T(1) - sk);
        dsg[j] += dz * (x - sm[j]);
        dsm[j] -= dz * sg[j];
        acc += dz * sg[j];
      }
      dinput[t * S + k] += acc;
    }
  }
}

#define MAD_LTC_INSTANTIATE(T)                                                                                      \
  template LtcParams<T> ltc_params_in<T>(const LtcDims&, T*);                                                     \
  template LtcParams<const T> ltc_params_in<const T>(const LtcDims&, const T*);                                   \
  template void ltc_forward<T>(const LtcDims&, const LtcParams<const T>&, double, double, const T*, T*, T*, T*);   \
  template void ltc_backward<T>(const LtcDims&, const LtcParams<const T>&, double, double, const T*, const T*,     \
                                const T*, T*, const LtcParams<T>&, T*);
MAD_LTC_INSTANTIATE(float)
MAD_LTC_INSTANTIATE(double)
#undef MAD_LTC_INSTANTIATE

}  // namespace mad::kernels
