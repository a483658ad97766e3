#include "tests/support/gradcheck.h"

#include <cmath>

#include "core/rng.h"

namespace mad::testing {
namespace {

// <c, f(inputs)> with gradients off.
double evaluate(const GradFn& f, const std::vector<Tensor>& inputs, const Tensor& cotangent) {
  Tape tape;
  NoGradGuard no_grad(tape);
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.push_back(tape.leaf(t, false));
  const Tensor& y = f(tape, vars).value();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += y.item(i) * cotangent.item(i);
  return s;
}

}  // namespace

GradCheckResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs_in, const GradCheckOptions& o) {
  std::vector<Tensor> inputs;
  for (const Tensor& t : inputs_in) {
    MAD_CHECK(t.dtype() == DType::F64, "gradcheck: inputs must be float64, got {}", dtype_name(t.dtype()));
    inputs.push_back(t.clone());
  }
  // Analytic gradients, accumulated on top of a constant.
  std::vector<Tensor> grads;
  Tensor cotangent;
  {
    Tape tape;
    std::vector<Var> vars;
    for (const Tensor& t : inputs) {
      grads.push_back(Tensor::zeros(t.shape(), DType::F64));
      grads.back().fill<double>(o.prefill);
      vars.push_back(tape.leaf(t, true, grads.back()));
    }
    Var y = f(tape, vars);
    MAD_CHECK(y.dtype() == DType::F64, "gradcheck: the function must return float64");
    cotangent = randn(y.shape(), o.seed);
    tape.backward(y, cotangent);
  }
  GradCheckResult result;
  int reported = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    double* x = inputs[k].data<double>();
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      const double saved = x[i];
      x[i] = saved + o.eps;
      const double plus = evaluate(f, inputs, cotangent);
      x[i] = saved - o.eps;
      const double minus = evaluate(f, inputs, cotangent);
      x[i] = saved;
      const double numeric = (plus - minus) / (2 * o.eps);
      const double analytic = grads[k].data<double>()[i] - o.prefill;
      const double err = std::abs(analytic - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (!(err <= o.atol + o.rtol * std::abs(numeric))) {
        result.ok = false;
        if (reported++ < 8)
          result.report += fmt::format("input {} element {}: analytic {:.10g}, numeric {:.10g}, error {:.3g}\n", k, i,
                                       analytic, numeric, err);
      }
    }
  }
  return result;
}

GradCheckResult gradcheck_module(const ModuleFn& f, const Tensor& x_in, ParamStore& params, const GradCheckOptions& o) {
  MAD_CHECK(params.dtype() == DType::F64 && x_in.dtype() == DType::F64, "gradcheck_module: needs float64");
  Tensor x = x_in.clone();
  Tensor gx = Tensor::zeros(x.shape(), DType::F64);
  gx.fill<double>(o.prefill);
  params.grads().fill<double>(o.prefill);
  Tensor cotangent;
  {
    Tape tape;
    Var y = f(tape, tape.leaf(x, true, gx));
    cotangent = randn(y.shape(), o.seed);
    tape.backward(y, cotangent);
  }
  auto evaluate_now = [&] {
    Tape tape;
    NoGradGuard no_grad(tape);
    const Tensor& y = f(tape, tape.leaf(x, false)).value();
    double s = 0;
    for (int64_t i = 0; i < y.numel(); ++i) s += y.item(i) * cotangent.item(i);
    return s;
  };
  GradCheckResult result;
  int reported = 0;
  auto check = [&](const std::string& what, double* value, double analytic) {
    const double saved = *value;
    *value = saved + o.eps;
    const double plus = evaluate_now();
    *value = saved - o.eps;
    const double minus = evaluate_now();
    *value = saved;
    const double numeric = (plus - minus) / (2 * o.eps);
    const double err = std::abs(analytic - numeric);
    result.max_abs_error = std::max(result.max_abs_error, err);
    if (!(err <= o.atol + o.rtol * std::abs(numeric))) {
      result.ok = false;
      if (reported++ < 8)
        result.report += fmt::format("{}: analytic {:.10g}, numeric {:.10g}, error {:.3g}\n", what, analytic, numeric, err);
    }
  };
  for (int64_t i = 0; i < x.numel(); ++i)
    check(fmt::format("input element {}", i), x.data<double>() + i, gx.data<double>()[i] - o.prefill);
  for (const auto& e : params.entries())
    for (int64_t i = 0; i < e.value.numel(); ++i)
      check(fmt::format("{}[{}]", e.name, i), e.value.data<double>() + i, e.grad.data<double>()[i] - o.prefill);
  return result;
}

std::set<OpId> recorded_ops(const GradFn& f, const std::vector<Tensor>& inputs) {
  Tape tape;
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.push_back(tape.leaf(t, true));
  f(tape, vars);
  std::set<OpId> ops;
  for (const Node& n : tape.nodes()) ops.insert(n.op);
  return ops;
}

Tensor randn(const Shape& shape, uint64_t seed, double scale) {
  Tensor t = Tensor::zeros(shape, DType::F64);
  Rng rng(seed);
  for (double& v : t.span<double>()) v = scale * rng.normal();
  return t;
}

Tensor uniform(const Shape& shape, uint64_t seed, double lo, double hi) {
  Tensor t = Tensor::zeros(shape, DType::F64);
  Rng rng(seed);
  for (double& v : t.span<double>()) v = rng.uniform(lo, hi);
  return t;
}

Tensor away_from_zero(const Shape& shape, uint64_t seed, double lo, double hi) {
  Tensor t = uniform(shape, seed, lo, hi);
  Rng rng(seed + 1);
  for (double& v : t.span<double>()) v = rng.uniform() < 0.5 ? -v : v;
  return t;
}

}  // namespace mad::testing
