// Gradient checking in float64 against central finite differences.
//
// For a function f of several tensors, the check draws a random cotangent c of f's output shape and
// compares, for every element of every input,
//   analytic:  the gradient backward() adds into a gradient buffer pre-filled with a constant
//              (minus that constant: this proves backward adds instead of overwriting), and
//   numeric:   (<c, f(x + eps e)> - <c, f(x - eps e)>) / (2 eps).
// Inputs should be sampled away from kinks (relu at 0, abs at 0, top-k ties) by the caller.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/params.h"

namespace mad::testing {

using GradFn = std::function<Var(Tape&, std::span<const Var>)>;

struct GradCheckOptions {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  double prefill = 0.37;
  uint64_t seed = 2024;
};

struct GradCheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // the first mismatches, one per line
};

GradCheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, const GradCheckOptions& options = {});

// Gradient check of a function of one input x and every parameter of a (float64, finalized) store, e.g. a
// layer: the parameters are perturbed in place for the finite differences and their analytic gradients
// are read from the store's gradient section (pre-filled, like the inputs').
using ModuleFn = std::function<Var(Tape&, Var x)>;
GradCheckResult gradcheck_module(const ModuleFn& f, const Tensor& x, ParamStore& params,
                                 const GradCheckOptions& options = {});

// The ops f records when run on `inputs` (used by the op-table coverage test).
std::set<OpId> recorded_ops(const GradFn& f, const std::vector<Tensor>& inputs);

// Random float64 tensors for test inputs.
Tensor randn(const Shape& shape, uint64_t seed, double scale = 1.0);
Tensor uniform(const Shape& shape, uint64_t seed, double lo, double hi);
// Uniform magnitudes in [lo, hi] with random signs: values at least lo away from 0.
Tensor away_from_zero(const Shape& shape, uint64_t seed, double lo, double hi);

}  // namespace mad::testing
