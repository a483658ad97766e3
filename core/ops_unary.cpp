// Elementwise unary ops: each applies one function of kernels/unary_math.h forward and its derivative
// backward, split across threads.
#include "core/ops_common.h"
#include "kernels/isa/kernel_table.h"
#include "kernels/unary_math.h"

namespace mad {
namespace {

// The functions and their derivatives live in kernels/unary_math.h: float32 runs the active instruction
// set's compiled copy (kernels/isa/elementwise.cpp), float64 the templates directly.
template <kernels::UnaryFn F, typename Op>
Var unary(OpId op, Var x, double param = 0) {
  Tape& tape = detail::tape_of(x, op_name(op));
  Tensor out = tape.alloc(x.shape(), x.dtype());
  dispatch_float(x.dtype(), op_name(op), [&]<typename T>() {
    const T* px = x.value().template data<T>();
    T* py = out.data<T>();
    parallel_for(out.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      if constexpr (std::is_same_v<T, float>)
        kernels::active_kernels().unary_forward[static_cast<int>(F)](px + i0, py + i0, i1 - i0, param);
      else
        kernels::unary::forward<Op>(px + i0, py + i0, i1 - i0, param);
    });
  });
  OpAttrs attrs;
  attrs.f[0] = param;
  return tape.record(op, {x}, out, attrs);
}

template <kernels::UnaryFn F, typename Op>
void unary_backward(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& x = tape.value(ix);
  const Tensor& y = tape.value(n.output);
  const Tensor& g = tape.grad(n.output);
  const Tensor& gx = tape.grad_acc(ix);
  dispatch_float(g.dtype(), op_name(n.op), [&]<typename T>() {
    const T *px = x.data<T>(), *py = y.data<T>(), *pg = g.data<T>();
    T* pgx = gx.data<T>();
    const double param = n.attrs.f[0];
    parallel_for(g.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      if constexpr (std::is_same_v<T, float>)
        kernels::active_kernels().unary_backward[static_cast<int>(F)](px + i0, py + i0, pg + i0, pgx + i0, i1 - i0,
                                                                       param);
      else
        kernels::unary::backward<Op>(px + i0, py + i0, pg + i0, pgx + i0, i1 - i0, param);
    });
  });
}

}  // namespace

#define MAD_UNARY(name, Op)                                                                              \
  Var name(Var x) { return unary<kernels::UnaryFn::name, kernels::unary::Op>(OpId::name, x); }             \
  void backward_##name(Tape& t, const Node& n) { unary_backward<kernels::UnaryFn::name, kernels::unary::Op>(t, n); }

MAD_UNARY(neg, NegOp)
MAD_UNARY(exp, ExpOp)
MAD_UNARY(log, LogOp)
MAD_UNARY(sqrt, SqrtOp)
MAD_UNARY(rsqrt, RsqrtOp)
MAD_UNARY(abs, AbsOp)
MAD_UNARY(square, SquareOp)
MAD_UNARY(tanh, TanhOp)
MAD_UNARY(sigmoid, SigmoidOp)
MAD_UNARY(log_sigmoid, LogSigmoidOp)
MAD_UNARY(softplus, SoftplusOp)
MAD_UNARY(relu, ReluOp)
MAD_UNARY(silu, SiluOp)
MAD_UNARY(gelu_tanh, GeluTanhOp)
MAD_UNARY(gelu_erf, GeluErfOp)
MAD_UNARY(sin, SinOp)
MAD_UNARY(cos, CosOp)
#undef MAD_UNARY

Var pow(Var x, double p) { return unary<kernels::UnaryFn::pow, kernels::unary::PowOp>(OpId::pow, x, p); }
void backward_pow(Tape& t, const Node& n) { unary_backward<kernels::UnaryFn::pow, kernels::unary::PowOp>(t, n); }

}  // namespace mad
