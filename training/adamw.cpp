#include "training/adamw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace mad {

std::string_view weight_decay_groups_name(WeightDecayGroups groups) {
  return groups == WeightDecayGroups::all ? "all" : "no_norm_bias";
}

WeightDecayGroups weight_decay_groups_from_name(std::string_view name) {
  if (name == "all") return WeightDecayGroups::all;
  if (name == "no_norm_bias") return WeightDecayGroups::no_norm_bias;
  fail(fmt::format("unknown weight decay groups '{}'; valid values are all and no_norm_bias", name));
}

bool exempt_from_weight_decay(const ParamStore::Entry& entry) {
  const std::string_view name = entry.name;
  const std::string_view last = name.substr(name.rfind('.') == std::string_view::npos ? 0 : name.rfind('.') + 1);
  return entry.shape.rank() <= 1 || last == "bias" || last == "A_log" || last == "D";
}

void AdamW::step(double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t_));
  if (config_.weight_decay_groups == WeightDecayGroups::no_norm_bias && exempt_.empty()) {
    exempt_.assign(static_cast<size_t>(params_.padded_size()), 0);
    for (const ParamStore::Entry& e : params_.entries()) {
      if (!exempt_from_weight_decay(e)) continue;
      std::fill_n(exempt_.begin() + e.offset, e.shape.numel(), static_cast<unsigned char>(1));
    }
  }
  const unsigned char* exempt = exempt_.empty() ? nullptr : exempt_.data();
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
        p[i] *= exempt != nullptr && exempt[i] != 0 ? T(1) : decay;
        m[i] = b1 * m[i] + (T(1) - b1) * g[i];
        v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
        // Same operation order as PyTorch: denom = sqrt(v) / sqrt(bc2) + eps.
        p[i] -= step * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
      }
    });
  });
}

}  // namespace mad
