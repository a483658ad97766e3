// mLSTM cell kernels (see mlstm.h for the mathematics and layouts).
#include "kernels/mlstm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace mad::kernels {
namespace {

// log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)), stable for every x.
template <typename T>
T log_sigmoid(T x) {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}
// sigmoid(-x) = d log sigmoid(x) / dx.
template <typename T>
T sigmoid_neg(T x) {
  return T(1) / (T(1) + std::exp(x));
}

template <typename T>
T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// The read-out shared by every form: given num [dv] and b = n . q^, writes h = num / (max(|b|, e^-m) + eps)
// and returns the denominator.
template <typename T>
T read_out(const T* num, T b, T m, T eps, int64_t dv, T* h) {
  const T den = std::max(std::abs(b), std::exp(-m)) + eps;
  for (int64_t j = 0; j < dv; ++j) h[j] = num[j] / den;
  return den;
}

// Gradient of the read-out h = num / den wrt num (returned in g_num [dv]) and wrt b (returned): the
// normaliser path delta of layers.md A.4.2, zero where the lower bound exp(-m) is the active branch.
template <typename T>
T read_out_backward(const T* dh, const T* h, T b, T m, T den, int64_t dv, T* g_num) {
  T gh = 0;
  for (int64_t j = 0; j < dv; ++j) {
    g_num[j] = dh[j] / den;
    gh += dh[j] * h[j];
  }
  if (!(std::abs(b) > std::exp(-m))) return 0;
  return -(gh / den) * (b > 0 ? T(1) : T(-1));
}

// One recurrent step on state = [C | n | m]: advances the state and writes h (num is accumulated in h).
template <typename T>
void step(const MlstmDims& d, T eps, const T* q, const T* k, const T* v, T ig, T fg, T* h, T* state) {
  T* num = h;
  const int64_t dk = d.dk, dv = d.dv;
  T* C = state;
  T* n = state + dk * dv;
  T& m = state[dk * dv + dk];
  const T lam = log_sigmoid(fg);
  const T m_new = std::max(lam + m, ig);
  const T fp = std::exp(lam + m - m_new), ip = std::exp(ig - m_new);
  m = m_new;
  for (int64_t a = 0; a < dk; ++a) {
    for (int64_t j = 0; j < dv; ++j) C[a * dv + j] = fp * C[a * dv + j] + ip * k[a] * v[j];
    n[a] = fp * n[a] + ip * k[a];
  }
  const T scale = T(1) / std::sqrt(static_cast<T>(dk));
  std::fill(num, num + dv, T(0));
  T b = 0;
  for (int64_t a = 0; a < dk; ++a) {
    const T qa = q[a] * scale;
    for (int64_t j = 0; j < dv; ++j) num[j] += qa * C[a * dv + j];
    b += qa * n[a];
  }
  read_out(num, b, m, eps, dv, h);
}

}  // namespace

std::size_t mlstm_recurrent_backward_scratch_size(const MlstmDims& d) {
  const int64_t S = mlstm_state_size(d.dk, d.dv);
  return static_cast<std::size_t>((d.len + 1) * S + S + 3 * d.dv + d.dk);
}

std::size_t mlstm_parallel_scratch_size(const MlstmDims& d) {
  return static_cast<std::size_t>(2 * (d.len + 1) + 2 * d.len + 3 * d.dv + d.dk);
}

std::size_t mlstm_chunkwise_forward_scratch_size(const MlstmDims& d, int64_t chunk) {
  return static_cast<std::size_t>(4 * chunk + d.dv);
}

std::size_t mlstm_chunkwise_backward_scratch_size(const MlstmDims& d, int64_t chunk) {
  const int64_t S = mlstm_state_size(d.dk, d.dv);
  const int64_t chunks = (d.len + chunk - 1) / chunk;
  return static_cast<std::size_t>((chunks + 1) * S + S + 4 * chunk + 3 * d.dv);
}

// ---- recurrent ------------------------------------------------------------------------------------------

template <typename T>
void mlstm_recurrent_forward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                             const T* i, const T* f, T* h, T* state) {
  for (int64_t t = 0; t < d.len; ++t)
    step(d, T(eps), q + t * d.ld_qk, k + t * d.ld_qk, v + t * d.ld_v, i[t * d.ld_g], f[t * d.ld_g], h + t * d.ld_v,
         state);
}

// Back-propagation through time (layers.md A.4.1): the forward is replayed to keep every state C_t, n_t, m_t,
// then a reverse sweep carries the adjoints dC, dn of the state.
template <typename T>
void mlstm_recurrent_backward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                              const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv, T* di, T* df,
                              std::type_identity_t<T>* scratch) {
  const int64_t Dk = d.dk, Dv = d.dv, S = mlstm_state_size(Dk, Dv);
  T* states = scratch;                  // [len + 1, S]: the state before step 0 and after every step
  T* adj = states + (d.len + 1) * S;    // [S]: dC | dn (the m slot is unused: m is held constant)
  T* num = adj + S;                     // [dv]
  T* h = num + Dv;                      // [dv]
  T* g_num = h + Dv;                    // [dv]
  T* tmp = g_num + Dv;                  // [dk]
  std::fill(states, states + S, T(0));
  for (int64_t t = 0; t < d.len; ++t) {
    std::memcpy(states + (t + 1) * S, states + t * S, sizeof(T) * S);
    step(d, T(eps), q + t * d.ld_qk, k + t * d.ld_qk, v + t * d.ld_v, i[t * d.ld_g], f[t * d.ld_g], h,
         states + (t + 1) * S);
  }
  std::fill(adj, adj + S, T(0));
  T* dC = adj;
  T* dn = adj + Dk * Dv;
  const T scale = T(1) / std::sqrt(static_cast<T>(Dk));
  for (int64_t t = d.len - 1; t >= 0; --t) {
    const T* C = states + (t + 1) * S;
    const T* n = C + Dk * Dv;
    const T m = C[Dk * Dv + Dk];
    const T* Cp = states + t * S;
    const T* np = Cp + Dk * Dv;
    const T mp = Cp[Dk * Dv + Dk];
    const T* qt = q + t * d.ld_qk;
    const T* kt = k + t * d.ld_qk;
    const T* vt = v + t * d.ld_v;
    // Read-out: recompute h_t, then the gradients of num and b.
    std::fill(num, num + Dv, T(0));
    T b = 0;
    for (int64_t a = 0; a < Dk; ++a) {
      for (int64_t j = 0; j < Dv; ++j) num[j] += qt[a] * scale * C[a * Dv + j];
      b += qt[a] * scale * n[a];
    }
    const T den = read_out(num, b, m, T(eps), Dv, h);
    const T db = read_out_backward(dh + t * d.ld_v, h, b, m, den, Dv, g_num);
    T* dqt = dq + t * d.ld_qk;
    for (int64_t a = 0; a < Dk; ++a) {
      dqt[a] += (dot(C + a * Dv, g_num, Dv) + db * n[a]) * scale;
      for (int64_t j = 0; j < Dv; ++j) dC[a * Dv + j] += qt[a] * scale * g_num[j];
      dn[a] += db * qt[a] * scale;
    }
    // State update C_t = f' C_{t-1} + i' k v^T (same for n with k).
    const T lam = log_sigmoid(f[t * d.ld_g]);
    const T fp = std::exp(lam + mp - m), ip = std::exp(i[t * d.ld_g] - m);
    T dip = 0, dfp = 0;
    T* dkt = dk + t * d.ld_qk;
    T* dvt = dv + t * d.ld_v;
    for (int64_t a = 0; a < Dk; ++a) {
      const T dCv = dot(dC + a * Dv, vt, Dv);
      tmp[a] = dCv + dn[a];
      dip += kt[a] * tmp[a];
      dfp += dot(dC + a * Dv, Cp + a * Dv, Dv) + dn[a] * np[a];
      for (int64_t j = 0; j < Dv; ++j) dvt[j] += ip * dC[a * Dv + j] * kt[a];
    }
    for (int64_t a = 0; a < Dk; ++a) dkt[a] += ip * tmp[a];
    di[t * d.ld_g] += dip * ip;
    df[t * d.ld_g] += dfp * fp * sigmoid_neg(f[t * d.ld_g]);
    for (int64_t a = 0; a < Dk * Dv + Dk; ++a) adj[a] *= fp;
  }
}

// ---- parallel -------------------------------------------------------------------------------------------

namespace {

// Row t of the parallel form: for keys j <= t, D[j] = exp(Lg_tj - m_t) with Lg_tj = F[t+1] - F[j+1] + i_j,
// and Ct[j] = (q^_t . k_j) D[j]; returns m_t and writes num [dv] and b.
template <typename T>
T parallel_row(const MlstmDims& d, int64_t t, const T* F, const T* q, const T* k, const T* v, const T* i, T* D,
               T* Ct, T* num, T& b) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j <= t; ++j) {
    D[j] = F[t + 1] - F[j + 1] + i[j * d.ld_g];
    m = std::max(m, D[j]);
  }
  const T scale = T(1) / std::sqrt(static_cast<T>(d.dk));
  const T* qt = q + t * d.ld_qk;
  std::fill(num, num + d.dv, T(0));
  b = 0;
  for (int64_t j = 0; j <= t; ++j) {
    D[j] = std::exp(D[j] - m);
    Ct[j] = dot(qt, k + j * d.ld_qk, d.dk) * scale * D[j];
    b += Ct[j];
    const T* vj = v + j * d.ld_v;
    for (int64_t c = 0; c < d.dv; ++c) num[c] += Ct[j] * vj[c];
  }
  return m;
}

template <typename T>
void log_forget_prefix(const MlstmDims& d, const T* f, T* F) {
  F[0] = 0;
  for (int64_t t = 0; t < d.len; ++t) F[t + 1] = F[t] + log_sigmoid(f[t * d.ld_g]);
}

}  // namespace

template <typename T>
void mlstm_parallel_forward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                            const T* i, const T* f, T* h, std::type_identity_t<T>* scratch) {
  T* F = scratch;           // [len + 1] prefix sums of log forget gates
  T* D = F + d.len + 1;     // [len]
  T* Ct = D + d.len;        // [len]
  T* num = Ct + d.len;      // [dv]
  log_forget_prefix(d, f, F);
  for (int64_t t = 0; t < d.len; ++t) {
    T b;
    const T m = parallel_row(d, t, F, q, k, v, i, D, Ct, num, b);
    read_out(num, b, m, T(eps), d.dv, h + t * d.ld_v);
  }
}

// Exact backward of the parallel form (layers.md A.4.2 with the normaliser path delta), row by row; the
// forget-gate gradient goes through dF (the gradient of the prefix sums) and a reverse cumulative sum.
template <typename T>
void mlstm_parallel_backward(const MlstmDims& d, std::type_identity_t<T> eps, const T* q, const T* k, const T* v,
                             const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv, T* di, T* df,
                             std::type_identity_t<T>* scratch) {
  T* F = scratch;           // [len + 1]
  T* dF = F + d.len + 1;    // [len + 1]
  T* D = dF + d.len + 1;    // [len]
  T* Ct = D + d.len;        // [len]
  T* num = Ct + d.len;      // [dv]
  T* h = num + d.dv;        // [dv]
  T* g_num = h + d.dv;      // [dv]
  log_forget_prefix(d, f, F);
  std::fill(dF, dF + d.len + 1, T(0));
  const T scale = T(1) / std::sqrt(static_cast<T>(d.dk));
  for (int64_t t = 0; t < d.len; ++t) {
    T b;
    const T m = parallel_row(d, t, F, q, k, v, i, D, Ct, num, b);
    const T den = read_out(num, b, m, T(eps), d.dv, h);
    const T delta = read_out_backward(dh + t * d.ld_v, h, b, m, den, d.dv, g_num);
    const T* qt = q + t * d.ld_qk;
    T* dqt = dq + t * d.ld_qk;
    for (int64_t j = 0; j <= t; ++j) {
      const T* vj = v + j * d.ld_v;
      const T* kj = k + j * d.ld_qk;
      const T dCt = dot(g_num, vj, d.dv) + delta;  // gradient of Ct[j]
      const T dS = dCt * D[j] * scale;               // of the raw dot product q_t . k_j
      const T dLg = dCt * Ct[j];                     // of the log weight Lg_tj (m constant)
      T* dkj = dk + j * d.ld_qk;
      for (int64_t a = 0; a < d.dk; ++a) {
        dqt[a] += dS * kj[a];
        dkj[a] += dS * qt[a];
      }
      T* dvj = dv + j * d.ld_v;
      for (int64_t c = 0; c < d.dv; ++c) dvj[c] += Ct[j] * g_num[c];
      di[j * d.ld_g] += dLg;
      dF[t + 1] += dLg;
      dF[j + 1] -= dLg;
    }
  }
  // lambda_s enters F[u] for every u > s.
  T acc = 0;
  for (int64_t s = d.len - 1; s >= 0; --s) {
    acc += dF[s + 1];
    df[s * d.ld_g] += acc * sigmoid_neg(f[s * d.ld_g]);
  }
}

// ---- chunkwise ------------------------------------------------------------------------------------------

namespace {

// Local quantities of the chunk starting at t0 with Lc steps: b[tau] = sum_{s <= tau} lambda (local prefix of
// log forget gates), the log weights a[s] = b[Lc-1] - b[s] + i_s of each input at the chunk end, and the new
// stabiliser m_k = max(b[Lc-1] + m_{k-1}, max_s a[s]).
template <typename T>
T chunk_gates(const MlstmDims& d, int64_t t0, int64_t Lc, const T* i, const T* f, T m_prev, T* b, T* a) {
  T acc = 0;
  for (int64_t s = 0; s < Lc; ++s) {
    acc += log_sigmoid(f[(t0 + s) * d.ld_g]);
    b[s] = acc;
  }
  T m_new = b[Lc - 1] + m_prev;
  for (int64_t s = 0; s < Lc; ++s) {
    a[s] = b[Lc - 1] - b[s] + i[(t0 + s) * d.ld_g];
    m_new = std::max(m_new, a[s]);
  }
  return m_new;
}

// Advances state = [C | n | m] over one chunk: C <- gamma C + sum_s alpha_s k_s v_s^T.
template <typename T>
void chunk_state_update(const MlstmDims& d, int64_t t0, int64_t Lc, const T* k, const T* v, const T* b,
                        const T* a, T m_new, T* state) {
  const int64_t Dk = d.dk, Dv = d.dv;
  T* C = state;
  T* n = state + Dk * Dv;
  T& m = state[Dk * Dv + Dk];
  const T gamma = std::exp(b[Lc - 1] + m - m_new);
  for (int64_t x = 0; x < Dk * Dv + Dk; ++x) C[x] *= gamma;
  for (int64_t s = 0; s < Lc; ++s) {
    const T alpha = std::exp(a[s] - m_new);
    const T* ks = k + (t0 + s) * d.ld_qk;
    const T* vs = v + (t0 + s) * d.ld_v;
    for (int64_t r = 0; r < Dk; ++r) {
      const T w = alpha * ks[r];
      for (int64_t c = 0; c < Dv; ++c) C[r * Dv + c] += w * vs[c];
      n[r] += w;
    }
  }
  m = m_new;
}

// Output row tau of a chunk from the state before it (C0, n0, m0): the combined stabiliser
// mc = max(b[tau] + m0, max_s (b[tau] - b[s] + i_s)), beta = exp(b[tau] + m0 - mc), D[s] = exp(Lg - mc),
// Ct[s] = (q^ . k_s) D[s]; num = beta C0^T q^ + sum_s Ct[s] v_s, b_out = beta n0 . q^ + sum_s Ct[s].
template <typename T>
T chunk_row(const MlstmDims& d, int64_t t0, int64_t tau, const T* q, const T* k, const T* v, const T* i,
            const T* b, const T* state0, T* D, T* Ct, T* num, T& b_out, T& beta) {
  const int64_t Dk = d.dk, Dv = d.dv;
  const T* C0 = state0;
  const T* n0 = state0 + Dk * Dv;
  const T m0 = state0[Dk * Dv + Dk];
  T mc = b[tau] + m0;
  for (int64_t s = 0; s <= tau; ++s) {
    D[s] = b[tau] - b[s] + i[(t0 + s) * d.ld_g];
    mc = std::max(mc, D[s]);
  }
  beta = std::exp(b[tau] + m0 - mc);
  const T scale = T(1) / std::sqrt(static_cast<T>(Dk));
  const T* qt = q + (t0 + tau) * d.ld_qk;
  std::fill(num, num + Dv, T(0));
  b_out = 0;
  for (int64_t r = 0; r < Dk; ++r) {
    const T w = beta * qt[r] * scale;
    for (int64_t c = 0; c < Dv; ++c) num[c] += w * C0[r * Dv + c];
    b_out += w * n0[r];
  }
  for (int64_t s = 0; s <= tau; ++s) {
    D[s] = std::exp(D[s] - mc);
    Ct[s] = dot(qt, k + (t0 + s) * d.ld_qk, Dk) * scale * D[s];
    b_out += Ct[s];
    const T* vs = v + (t0 + s) * d.ld_v;
    for (int64_t c = 0; c < Dv; ++c) num[c] += Ct[s] * vs[c];
  }
  return mc;
}

}  // namespace

template <typename T>
void mlstm_chunkwise_forward(const MlstmDims& d, int64_t chunk, std::type_identity_t<T> eps, const T* q,
                             const T* k, const T* v, const T* i, const T* f, T* h, T* state,
                             std::type_identity_t<T>* scratch) {
  T* b = scratch;      // [chunk] local prefix of log forget gates
  T* a = b + chunk;    // [chunk] log weights of the inputs at the chunk end
  T* D = a + chunk;    // [chunk]
  T* Ct = D + chunk;   // [chunk]
  T* num = Ct + chunk; // [dv]
  T& m = state[d.dk * d.dv + d.dk];
  for (int64_t t0 = 0; t0 < d.len; t0 += chunk) {
    const int64_t Lc = std::min(chunk, d.len - t0);
    const T m_new = chunk_gates(d, t0, Lc, i, f, m, b, a);
    // Outputs first (they read the state before the chunk), then the boundary state.
    for (int64_t tau = 0; tau < Lc; ++tau) {
      T bo, beta;
      const T mc = chunk_row(d, t0, tau, q, k, v, i, b, state, D, Ct, num, bo, beta);
      read_out(num, bo, mc, T(eps), d.dv, h + (t0 + tau) * d.ld_v);
    }
    chunk_state_update(d, t0, Lc, k, v, b, a, m_new, state);
  }
}

// Exact chunkwise backward: the truncated one of layers.md A.4.2 plus the normaliser path (delta, the
// n-adjoint dn) and the gate gradients taken directly from the log weights (m held constant).
template <typename T>
void mlstm_chunkwise_backward(const MlstmDims& d, int64_t chunk, std::type_identity_t<T> eps, const T* q,
                              const T* k, const T* v, const T* i, const T* f, const T* dh, T* dq, T* dk, T* dv,
                              T* di, T* df, std::type_identity_t<T>* scratch) {
  const int64_t Dk = d.dk, Dv = d.dv, S = mlstm_state_size(Dk, Dv);
  const int64_t chunks = (d.len + chunk - 1) / chunk;
  T* states = scratch;              // [chunks + 1, S] boundary states
  T* adj = states + (chunks + 1) * S;  // [S]: dC | dn of the state after the current chunk
  T* b = adj + S;                   // [chunk]
  T* a = b + chunk;                 // [chunk]
  T* D = a + chunk;                 // [chunk]
  T* Ct = D + chunk;                // [chunk]
  T* num = Ct + chunk;              // [dv]
  T* h = num + Dv;                  // [dv]
  T* g_num = h + Dv;                // [dv]
  // Replay the state recurrence to get every boundary state.
  std::fill(states, states + S, T(0));
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t t0 = c * chunk, Lc = std::min(chunk, d.len - t0);
    std::memcpy(states + (c + 1) * S, states + c * S, sizeof(T) * S);
    T* st = states + (c + 1) * S;
    const T m_new = chunk_gates(d, t0, Lc, i, f, st[Dk * Dv + Dk], b, a);
    chunk_state_update(d, t0, Lc, k, v, b, a, m_new, st);
  }
  std::fill(adj, adj + S, T(0));
  T* dC = adj;
  T* dn = adj + Dk * Dv;
  const T scale = T(1) / std::sqrt(static_cast<T>(Dk));
  for (int64_t c = chunks - 1; c >= 0; --c) {
    const int64_t t0 = c * chunk, Lc = std::min(chunk, d.len - t0);
    const T* st0 = states + c * S;
    const T* C0 = st0;
    const T* n0 = st0 + Dk * Dv;
    const T m0 = st0[Dk * Dv + Dk];
    const T m_new = chunk_gates(d, t0, Lc, i, f, m0, b, a);
    // `a` becomes the gradient of b (the local log-forget prefix) once the log weights a[s] are used.
    T dg = 0;
    // 1. The boundary update C_k = gamma C_{k-1} + sum_s alpha_s k_s v_s^T, with dC, dn the adjoints of C_k.
    for (int64_t s = 0; s < Lc; ++s) {
      const T alpha = std::exp(a[s] - m_new);
      const T* ks = k + (t0 + s) * d.ld_qk;
      const T* vs = v + (t0 + s) * d.ld_v;
      T* dks = dk + (t0 + s) * d.ld_qk;
      T* dvs = dv + (t0 + s) * d.ld_v;
      T dlog_alpha = 0;
      for (int64_t r = 0; r < Dk; ++r) {
        const T g = dot(dC + r * Dv, vs, Dv) + dn[r];
        dks[r] += alpha * g;
        dlog_alpha += ks[r] * g;
        for (int64_t col = 0; col < Dv; ++col) dvs[col] += alpha * dC[r * Dv + col] * ks[r];
      }
      dlog_alpha *= alpha;
      di[(t0 + s) * d.ld_g] += dlog_alpha;
      dg += dlog_alpha;
      a[s] = -dlog_alpha;  // d a[s] / d b[s] = -1
    }
    const T gamma = std::exp(b[Lc - 1] + m0 - m_new);
    T dlog_gamma = 0;
    for (int64_t x = 0; x < Dk * Dv + Dk; ++x) dlog_gamma += adj[x] * st0[x];
    dg += dlog_gamma * gamma;
    a[Lc - 1] += dg;  // g = b[Lc-1]
    for (int64_t x = 0; x < Dk * Dv + Dk; ++x) adj[x] *= gamma;  // now the adjoint of C_{k-1}, n_{k-1}
    // 2. The outputs of the chunk.
    for (int64_t tau = 0; tau < Lc; ++tau) {
      T bo, beta;
      const T mc = chunk_row(d, t0, tau, q, k, v, i, b, st0, D, Ct, num, bo, beta);
      const T den = read_out(num, bo, mc, T(eps), Dv, h);
      const T delta = read_out_backward(dh + (t0 + tau) * d.ld_v, h, bo, mc, den, Dv, g_num);
      const T* qt = q + (t0 + tau) * d.ld_qk;
      T* dqt = dq + (t0 + tau) * d.ld_qk;
      // Inter-chunk part: beta (C0^T q^, n0 . q^).
      T dlog_beta = 0;
      for (int64_t r = 0; r < Dk; ++r) {
        const T g = dot(C0 + r * Dv, g_num, Dv) + delta * n0[r];
        dqt[r] += beta * g * scale;
        dlog_beta += qt[r] * scale * g;
        const T w = beta * qt[r] * scale;
        for (int64_t col = 0; col < Dv; ++col) dC[r * Dv + col] += w * g_num[col];
        dn[r] += w * delta;
      }
      a[tau] += dlog_beta * beta;
      // Intra-chunk part.
      for (int64_t s = 0; s <= tau; ++s) {
        const T* ks = k + (t0 + s) * d.ld_qk;
        const T* vs = v + (t0 + s) * d.ld_v;
        const T dCt = dot(g_num, vs, Dv) + delta;
        const T dS = dCt * D[s] * scale;
        const T dLg = dCt * Ct[s];
        T* dks = dk + (t0 + s) * d.ld_qk;
        for (int64_t r = 0; r < Dk; ++r) {
          dqt[r] += dS * ks[r];
          dks[r] += dS * qt[r];
        }
        T* dvs = dv + (t0 + s) * d.ld_v;
        for (int64_t col = 0; col < Dv; ++col) dvs[col] += Ct[s] * g_num[col];
        di[(t0 + s) * d.ld_g] += dLg;
        a[tau] += dLg;
        a[s] -= dLg;
      }
    }
    // 3. b[tau] = sum_{s <= tau} lambda_s: reverse cumulative sum inside the chunk.
    T acc = 0;
    for (int64_t s = Lc - 1; s >= 0; --s) {
      acc += a[s];
      df[(t0 + s) * d.ld_g] += acc * sigmoid_neg(f[(t0 + s) * d.ld_g]);
    }
  }
}

#define MAD_MLSTM_INSTANTIATE(T)                                                                                 \
  template void mlstm_recurrent_forward<T>(const MlstmDims&, T, const T*, const T*, const T*, const T*,          \
                                           const T*, T*, T*);                                                    \
  template void mlstm_recurrent_backward<T>(const MlstmDims&, T, const T*, const T*, const T*, const T*,         \
                                            const T*, const T*, T*, T*, T*, T*, T*, T*);                         \
  template void mlstm_parallel_forward<T>(const MlstmDims&, T, const T*, const T*, const T*, const T*, const T*, \
                                          T*, T*);                                                               \
  template void mlstm_parallel_backward<T>(const MlstmDims&, T, const T*, const T*, const T*, const T*,          \
                                           const T*, const T*, T*, T*, T*, T*, T*, T*);                          \
  template void mlstm_chunkwise_forward<T>(const MlstmDims&, int64_t, T, const T*, const T*, const T*, const T*, \
                                           const T*, T*, T*, T*);                                                \
  template void mlstm_chunkwise_backward<T>(const MlstmDims&, int64_t, T, const T*, const T*, const T*,          \
                                            const T*, const T*, const T*, T*, T*, T*, T*, T*, T*);
MAD_MLSTM_INSTANTIATE(float)
MAD_MLSTM_INSTANTIATE(double)
#undef MAD_MLSTM_INSTANTIATE

}  // namespace mad::kernels
