// Parameter initialisers, all drawn from the seeded mad::Rng (same seed, same values, on every machine).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace mad {

struct Init {
  enum class Kind {
    zeros,           // 0
    ones,            // 1
    constant,        // a
    uniform,         // U(a, b)
    uniform_fan_in,  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear weights and biases
    normal,          // N(a, b^2)
    xavier_uniform,  // U(-g sqrt(6/(fan_in+fan_out)), +...) with gain g = a
    linspace,        // a .. b evenly over all elements (inclusive)
    values,          // the given table, in element order (a layer's computed start, e.g. Hyena's positions)
    of_index,        // of_index(i) for element i: a computed start that costs no memory before finalize()
  };
  Kind kind = Kind::zeros;
  double a = 0, b = 0;
  // For fan-in based inits of tensors whose fan_in is not the PyTorch default (numel / shape[0]),
  // e.g. a Linear bias; 0 means "derive from the shape".
  int64_t fan_in = 0;
  // For Kind::values: exactly one value per element (shared, so copying an Init stays cheap).
  std::shared_ptr<const std::vector<double>> table = nullptr;
  // When set, applied to every value after it is drawn (e.g. Mamba's dt bias: inv_softplus(exp(u)) of a
  // uniform u); the drawn values and so the generator's sequence are unchanged.
  std::function<double(double)> transform = nullptr;
  // For Kind::of_index. Layers prefer it to `values` for tables as large as the parameter: declaring a
  // model (mad describe, the memory budget check) then allocates nothing of that size.
  std::function<double(int64_t)> index_function = nullptr;
  // When set (one entry per element), elements whose entry is 0 are set to 0 after drawing: the fixed
  // zeros of a wiring-masked weight (models/projection_mask.h). The draws themselves are unchanged.
  std::shared_ptr<const std::vector<double>> zero_mask = nullptr;
  // Elements fixed at zero by zero_mask (a model's effective parameter count leaves them out).
  int64_t masked_count() const {
    int64_t n = 0;
    if (zero_mask)
      for (double m : *zero_mask) n += m == 0;
    return n;
  }

  static Init zeros() { return {Kind::zeros}; }
  static Init ones() { return {Kind::ones}; }
  static Init constant(double v) { return {Kind::constant, v}; }
  static Init uniform(double lo, double hi) { return {Kind::uniform, lo, hi}; }
  static Init uniform_fan_in(int64_t fan_in = 0) { return {Kind::uniform_fan_in, 0, 0, fan_in}; }
  static Init normal(double mean, double stddev) { return {Kind::normal, mean, stddev}; }
  static Init xavier_uniform(double gain = 1.0) { return {Kind::xavier_uniform, gain}; }
  static Init linspace(double start, double end) { return {Kind::linspace, start, end}; }
  static Init values(std::vector<double> v) {
    Init init{Kind::values};
    init.table = std::make_shared<const std::vector<double>>(std::move(v));
    return init;
  }
  static Init of_index(std::function<double(int64_t)> f) {
    Init init{Kind::of_index};
    init.index_function = std::move(f);
    return init;
  }
  Init then(std::function<double(double)> f) const {
    Init init = *this;
    init.transform = std::move(f);
    return init;
  }
};

// Fills `t` (float32 or float64) according to `init`, drawing from `rng` in element order.
// PyTorch conventions: fan_in = numel / shape[0] (a [out, in] Linear weight has fan_in = in),
// fan_out = numel / shape[1] for rank >= 2.
void initialize(const Tensor& t, const Init& init, Rng& rng);

}  // namespace mad
