#include "core/init.h"

#include <cmath>

namespace mad {

void initialize(const Tensor& t, const Init& init, Rng& rng) {
  const Shape& s = t.shape();
  const int64_t n = t.numel();
  const int64_t fan_in = init.fan_in > 0 ? init.fan_in : (s.rank() >= 1 && s[0] > 0 ? n / s[0] : n);
  const int64_t fan_out = s.rank() >= 2 && s[1] > 0 ? n / s[1] : n;
  dispatch_float(t.dtype(), "initialize", [&]<typename T>() {
    T* p = t.data<T>();
    auto uniform_fill = [&](double bound) {
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.uniform(-bound, bound));
    };
    switch (init.kind) {
      case Init::Kind::zeros: t.fill_zero(); break;
      case Init::Kind::ones: t.fill<T>(T(1)); break;
      case Init::Kind::constant: t.fill<T>(static_cast<T>(init.a)); break;
      case Init::Kind::uniform:
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.uniform(init.a, init.b));
        break;
      case Init::Kind::uniform_fan_in:
        MAD_CHECK(fan_in > 0, "initialize: uniform_fan_in needs a positive fan_in for shape {}", s.str());
        uniform_fill(1.0 / std::sqrt(static_cast<double>(fan_in)));
        break;
      case Init::Kind::normal:
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.normal(init.a, init.b));
        break;
      case Init::Kind::xavier_uniform:
        uniform_fill(init.a * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)));
        break;
      case Init::Kind::linspace:
        for (int64_t i = 0; i < n; ++i)
          p[i] = static_cast<T>(n == 1 ? init.a : init.a + (init.b - init.a) * static_cast<double>(i) / static_cast<double>(n - 1));
        break;
      case Init::Kind::of_index:
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(init.index_function(i));
        break;
      case Init::Kind::values:
        MAD_CHECK(init.table && static_cast<int64_t>(init.table->size()) == n,
                  "initialize: a values init has {} entries for a tensor of {} elements", init.table ? init.table->size() : 0, n);
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>((*init.table)[static_cast<size_t>(i)]);
        break;
    }
    if (init.transform)
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(init.transform(static_cast<double>(p[i])));
    if (init.zero_mask) {
      MAD_CHECK(static_cast<int64_t>(init.zero_mask->size()) == n,
                "initialize: a mask of {} entries for a tensor of {} elements", init.zero_mask->size(), n);
      for (int64_t i = 0; i < n; ++i)
        if ((*init.zero_mask)[static_cast<size_t>(i)] == 0) p[i] = T(0);
    }
  });
}

}  // namespace mad
