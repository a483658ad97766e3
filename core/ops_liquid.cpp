// Liquid-network ops: the fused LTC cell (kernels/ltc.h).
#include "core/ops_liquid.h"

#include <algorithm>
#include <cmath>

#include "core/ops_common.h"
#include "kernels/ltc.h"

namespace mad {
namespace {

constexpr int kLtcParams = 11;
// The parameter gradients are accumulated per group of batch elements, then summed in group order: a split
// that does not depend on the thread count keeps the result bit-identical for any number of threads.
constexpr int64_t kLtcGradGroups = 8;

kernels::LtcDims ltc_dims(const Shape& input, int64_t units, int64_t unfolds) {
  return {input[1], input[2], units, unfolds};
}

}  // namespace

Var ltc(Var input, const LtcParamVars& p, int64_t unfolds, double dt, double eps) {
  Tape& tape = detail::tape_of(input, "ltc");
  const Var params[kLtcParams] = {p.gleak, p.vleak, p.cm, p.w, p.sigma, p.mu, p.erev,
                                  p.sensory_w, p.sensory_sigma, p.sensory_mu, p.sensory_erev};
  for (const Var& v : params) {
    detail::tape_of(v, "ltc");
    detail::check_same_dtype(input, v, "ltc");
  }
  const Shape& is = input.shape();
  MAD_CHECK(is.rank() == 3, "ltc: input must be [B, T, S], got {}", is.str());
  MAD_CHECK(p.gleak.shape().rank() == 1 && p.gleak.dim(0) >= 1, "ltc: gleak must be [N], got {}", p.gleak.shape().str());
  const int64_t N = p.gleak.dim(0), S = is[2];
  for (int k = 1; k < kLtcParams; ++k) {
    const Shape want = k < 3 ? Shape{N} : k < 7 ? Shape{N, N} : Shape{S, N};
    MAD_CHECK(params[k].shape() == want,
              "ltc: parameter {} must be {} (N = {} neurons from gleak, S = {} inputs from the input), got {}", k,
              want.str(), N, S, params[k].shape().str());
  }
  MAD_CHECK(unfolds >= 1, "ltc: unfolds must be >= 1, got {}", unfolds);
  MAD_CHECK(dt > 0 && std::isfinite(dt) && eps >= 0, "ltc: needs dt > 0 and eps >= 0, got dt {}, eps {}", dt, eps);
  const kernels::LtcDims d = ltc_dims(is, N, unfolds);
  const int64_t B = is[0], T = d.len, rows = T * unfolds + 1;
  Tensor out = tape.alloc(Shape{B, T, N}, input.dtype());
  Tensor states = tape.zeros(Shape{B, rows, N}, input.dtype());  // row 0 of each sequence: the zero state
  const int64_t chunks = std::min<int64_t>(num_threads(), std::max<int64_t>(B, 1));
  const auto per = static_cast<int64_t>(kernels::ltc_scratch_size(d));
  Tensor scratch = tape.alloc(Shape{chunks * per}, input.dtype());
  dispatch_float(input.dtype(), "ltc", [&]<typename T_>() {
    const kernels::LtcParams<const T_> pp{
        params[0].value().template data<T_>(), params[1].value().template data<T_>(),
        params[2].value().template data<T_>(), params[3].value().template data<T_>(),
        params[4].value().template data<T_>(), params[5].value().template data<T_>(),
        params[6].value().template data<T_>(), params[7].value().template data<T_>(),
        params[8].value().template data<T_>(), params[9].value().template data<T_>(),
        params[10].value().template data<T_>()};
    parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t b = B * c / chunks; b < B * (c + 1) / chunks; ++b)
          kernels::ltc_forward<T_>(d, pp, dt, eps, input.value().template data<T_>() + b * T * S,
                                   states.data<T_>() + b * rows * N, out.data<T_>() + b * T * N,
                                   scratch.data<T_>() + c * per);
    });
  });
  OpAttrs attrs;
  attrs.i[0] = unfolds;
  attrs.f[0] = dt;
  attrs.f[1] = eps;
  Var inputs[1 + kLtcParams] = {input};
  std::copy(params, params + kLtcParams, inputs + 1);
  return tape.record(OpId::ltc, std::span<const Var>(inputs), out, attrs, states);
}

void backward_ltc(Tape& tape, const Node& n) {
  const int32_t input_id = tape.input(n, 0);
  const Tensor& input = tape.value(input_id);
  const int64_t N = tape.value(tape.input(n, 1)).shape()[0];
  const kernels::LtcDims d = ltc_dims(input.shape(), N, n.attrs.i[0]);
  const double dt = n.attrs.f[0], eps = n.attrs.f[1];
  const int64_t B = input.shape()[0], T = d.len, S = d.sensory, rows = T * d.unfolds + 1;
  const int64_t P = kernels::ltc_param_count(d);
  const int64_t groups = std::min<int64_t>(kLtcGradGroups, std::max<int64_t>(B, 1));
  Tensor partial = tape.zeros(Shape{groups, P}, input.dtype());  // parameter gradients per batch group
  const Tensor dinput = tape.needs_grad(input_id) ? tape.grad_acc(input_id) : tape.zeros(input.shape(), input.dtype());
  const auto per = static_cast<int64_t>(kernels::ltc_scratch_size(d));
  Tensor scratch = tape.alloc(Shape{groups * per}, input.dtype());
  const Tensor& dout = tape.grad(n.output);
  dispatch_float(input.dtype(), "ltc", [&]<typename T_>() {
    const kernels::LtcParams<const T_> pp{
        tape.value(tape.input(n, 1)).template data<T_>(),  tape.value(tape.input(n, 2)).template data<T_>(),
        tape.value(tape.input(n, 3)).template data<T_>(),  tape.value(tape.input(n, 4)).template data<T_>(),
        tape.value(tape.input(n, 5)).template data<T_>(),  tape.value(tape.input(n, 6)).template data<T_>(),
        tape.value(tape.input(n, 7)).template data<T_>(),  tape.value(tape.input(n, 8)).template data<T_>(),
        tape.value(tape.input(n, 9)).template data<T_>(),  tape.value(tape.input(n, 10)).template data<T_>(),
        tape.value(tape.input(n, 11)).template data<T_>()};
    parallel_for(groups, 1, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const kernels::LtcParams<T_> grad = kernels::ltc_params_in<T_>(d, partial.data<T_>() + g * P);
        for (int64_t b = B * g / groups; b < B * (g + 1) / groups; ++b)
          kernels::ltc_backward<T_>(d, pp, dt, eps, input.template data<T_>() + b * T * S,
                                    n.saved[0].template data<T_>() + b * rows * N, dout.template data<T_>() + b * T * N,
                                    dinput.template data<T_>() + b * T * S, grad, scratch.data<T_>() + g * per);
      }
    });
    // Sum the groups in order into each parameter that needs a gradient.
    int64_t offset = 0;
    for (int k = 1; k <= kLtcParams; ++k) {
      const int32_t id = tape.input(n, k);
      const int64_t count = tape.value(id).numel();
      if (tape.needs_grad(id)) {
        T_* dst = tape.grad_acc(id).template data<T_>();
        for (int64_t g = 0; g < groups; ++g) {
          const T_* src = partial.data<T_>() + g * P + offset;
          for (int64_t j = 0; j < count; ++j) dst[j] += src[j];
        }
      }
      offset += count;
    }
  });
}

}  // namespace mad
