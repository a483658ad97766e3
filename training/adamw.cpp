#include "training/adamw.h"

#include <cmath>

#include "core/parallel.h"

namespace mad {

void AdamW::step(double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t_));
  dispatch_float(params_.dtype(), "AdamW", [&]<typename T>() {
    T* p = params_.values().template data<T>();
    const T* g = params_.grads().template data<T>();
    T* m = params_.moment1().template data<T>();
    T* v = params_.moment2().template data<T>();
    const T b1 = static_cast<T>(config_.beta1), b2 = static_cast<T>(config_.beta2);
    const T decay = static_cast<T>(1.0 - lr * config_.weight_decay);
    const T step = static_cast<T>(lr / bc1);
    const T sqrt_bc2 = static_cast<T>(std::sqrt(bc2));
    const T eps = static_cast<T>(config_.eps);
    const int64_t n = params_.padded_size();
    // Elementwise, so splitting across threads changes nothing in the result.
    parallel_for(n, int64_t(1) << 14, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (T(1) - b1) * g[i];
        v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
        // Same operation order as PyTorch: denom = sqrt(v) / sqrt(bc2) + eps.
        p[i] -= step * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
      }
    });
  });
}

}  // namespace mad
