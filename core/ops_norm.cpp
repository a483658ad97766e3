// RMSNorm and LayerNorm over groups of the last axis (groups = 1: the usual norms; groups = heads: the
// per-head norm). Statistics are saved per (row, group); x-hat is recomputed in backward.
//   rms:    r = (mean(x^2) + eps)^-1/2,             xhat = x r
//   layer:  r = (mean((x-mu)^2) + eps)^-1/2,        xhat = (x - mu) r     (biased variance)
//   y = weight * xhat (+ bias)
// Backward with g = weight * dy:  rms dx = r (g - xhat mean(g xhat)),
//                                 layer dx = r (g - mean(g) - xhat mean(g xhat)),
//   dweight = sum over rows of dy xhat, dbias = sum over rows of dy.
#include <algorithm>
#include <cmath>

#include "core/ops_common.h"

namespace mad {
namespace {

struct NormDims {
  int64_t rows, groups, width;  // x viewed as [rows, groups, width]
};

NormDims norm_dims(const Tensor& x, int64_t groups, const char* op) {
  MAD_CHECK(x.rank() >= 1, "{}: needs at least one dimension", op);
  const int64_t D = x.dim(-1);
  MAD_CHECK(groups >= 1 && D % groups == 0 && D > 0,
            "{}: last dimension {} of shape {} does not split into {} equal groups", op, D, x.shape().str(), groups);
  return {x.numel() / D, groups, D / groups};
}

template <bool kCenter>
Var norm(OpId op, Var x, Var weight, Var bias, double eps, int64_t groups) {
  const char* name = op_name(op);
  Tape& tape = detail::tape_of(x, name);
  const NormDims d = norm_dims(x.value(), groups, name);
  const int64_t D = d.groups * d.width;
  for (Var p : {weight, bias}) {
    if (!p.defined()) continue;
    detail::check_same_dtype(x, p, name);
    MAD_CHECK(p.shape() == Shape{D}, "{}: weight and bias must have shape [{}] for input {}, got {}", name, D,
              x.shape().str(), p.shape().str());
  }
  MAD_CHECK(eps > 0, "{}: eps must be positive, got {}", name, eps);
  Tensor out = tape.alloc(x.shape(), x.dtype());
  Tensor rstd = tape.alloc(Shape{d.rows * d.groups}, x.dtype());
  Tensor mu = kCenter ? tape.alloc(Shape{d.rows * d.groups}, x.dtype()) : Tensor();
  dispatch_float(x.dtype(), name, [&]<typename T>() {
    const T* px = x.value().template data<T>();
    const T* pw = weight.defined() ? weight.value().template data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.value().template data<T>() : nullptr;
    T* py = out.data<T>();
    T* pr = rstd.data<T>();
    T* pm = kCenter ? mu.data<T>() : nullptr;
    parallel_for(d.rows * d.groups, 64, [&](int64_t s0, int64_t s1) {
      for (int64_t s = s0; s < s1; ++s) {
        const T* xs = px + s * d.width;
        T* ys = py + s * d.width;
        const int64_t c0 = (s % d.groups) * d.width;  // channel offset of this group
        T m = 0;
        if constexpr (kCenter) {
          for (int64_t j = 0; j < d.width; ++j) m += xs[j];
          m /= static_cast<T>(d.width);
          pm[s] = m;
        }
        T ss = 0;
        for (int64_t j = 0; j < d.width; ++j) ss += (xs[j] - m) * (xs[j] - m);
        const T r = T(1) / std::sqrt(ss / static_cast<T>(d.width) + static_cast<T>(eps));
        pr[s] = r;
        for (int64_t j = 0; j < d.width; ++j) {
          T v = (xs[j] - m) * r;
          if (pw) v *= pw[c0 + j];
          if (pb) v += pb[c0 + j];
          ys[j] = v;
        }
      }
    });
  });
  OpAttrs attrs;
  attrs.i[0] = groups;
  return tape.record(op, {x, weight, bias}, out, attrs, rstd, mu);
}

template <bool kCenter>
void norm_backward(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0), iw = tape.input(n, 1), ib = tape.input(n, 2);
  const Tensor& x = tape.value(ix);
  const NormDims d = norm_dims(x, n.attrs.i[0], op_name(n.op));
  const Tensor& gy = tape.grad(n.output);
  dispatch_float(x.dtype(), op_name(n.op), [&]<typename T>() {
    const T *px = x.data<T>(), *pgy = gy.data<T>(), *pr = n.saved[0].data<T>();
    const T* pm = kCenter ? n.saved[1].data<T>() : nullptr;
    const T* pw = iw >= 0 ? tape.value(iw).template data<T>() : nullptr;
    auto xhat = [&](int64_t s, int64_t j) {
      return (px[s * d.width + j] - (kCenter ? pm[s] : T(0))) * pr[s];
    };
    if (tape.needs_grad(ix)) {
      T* pgx = tape.grad_acc(ix).template data<T>();
      parallel_for(d.rows * d.groups, 64, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) {
          const int64_t c0 = (s % d.groups) * d.width;
          const T* gys = pgy + s * d.width;
          T mean_g = 0, mean_gx = 0;
          for (int64_t j = 0; j < d.width; ++j) {
            const T g = pw ? pw[c0 + j] * gys[j] : gys[j];
            mean_g += g;
            mean_gx += g * xhat(s, j);
          }
          mean_g /= static_cast<T>(d.width);
          mean_gx /= static_cast<T>(d.width);
          for (int64_t j = 0; j < d.width; ++j) {
            const T g = pw ? pw[c0 + j] * gys[j] : gys[j];
            pgx[s * d.width + j] += pr[s] * (g - (kCenter ? mean_g : T(0)) - xhat(s, j) * mean_gx);
          }
        }
      });
    }
    // Parameter gradients sum over rows. Threads split the channels; each sums its channels over every
    // row in row order, so the result is the same on any number of threads.
    const int64_t D = d.groups * d.width;
    const int64_t min_channels = std::max<int64_t>(8, detail::kParallelGrain / std::max<int64_t>(1, d.rows));
    if (iw >= 0 && tape.needs_grad(iw)) {
      T* pgw = tape.grad_acc(iw).template data<T>();
      parallel_for(D, min_channels, [&](int64_t c0, int64_t c1) {
        for (int64_t row = 0; row < d.rows; ++row) {
          // The groups overlapping channels [c0, c1) of this row.
          for (int64_t g = c0 / d.width; g * d.width < c1; ++g) {
            const int64_t s = row * d.groups + g;
            const T m = kCenter ? pm[s] : T(0), r = pr[s];
            const T* xs = px + row * D;
            const T* gys = pgy + row * D;
            for (int64_t c = std::max(c0, g * d.width); c < std::min(c1, (g + 1) * d.width); ++c)
              pgw[c] += gys[c] * ((xs[c] - m) * r);
          }
        }
      });
    }
    if (ib >= 0 && tape.needs_grad(ib)) {
      T* pgb = tape.grad_acc(ib).template data<T>();
      parallel_for(D, min_channels, [&](int64_t c0, int64_t c1) {
        for (int64_t row = 0; row < d.rows; ++row)
          for (int64_t c = c0; c < c1; ++c) pgb[c] += pgy[row * D + c];
      });
    }
  });
}

}  // namespace

Var rms_norm(Var x, Var weight, double eps, int64_t groups) {
  return norm<false>(OpId::rms_norm, x, weight, Var(), eps, groups);
}
Var layer_norm(Var x, Var weight, Var bias, double eps, int64_t groups) {
  return norm<true>(OpId::layer_norm, x, weight, bias, eps, groups);
}
void backward_rms_norm(Tape& t, const Node& n) { norm_backward<false>(t, n); }
void backward_layer_norm(Tape& t, const Node& n) { norm_backward<true>(t, n); }

}  // namespace mad
