// Elementwise unary ops. Each op is one struct with its forward f(x) and its derivative df(x, y), where
// y = f(x), side by side; a generic forward/backward pair applies them.
#include <cmath>

#include "core/ops_common.h"
#include "kernels/vecmath.h"

namespace mad {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

// Branch-free, vectorisable float versions (kernels/vecmath.h); exact library functions for double.
using kernels::vexp;
using kernels::vtanh;
template <typename T> T sigmoid_of(T x) { return kernels::vsigmoid(x); }

struct NegOp { template <typename T> static T f(T x, double) { return -x; } template <typename T> static T df(T, T, double) { return T(-1); } };
struct ExpOp { template <typename T> static T f(T x, double) { return vexp(x); } template <typename T> static T df(T, T y, double) { return y; } };
struct LogOp { template <typename T> static T f(T x, double) { return std::log(x); } template <typename T> static T df(T x, T, double) { return T(1) / x; } };
struct SqrtOp { template <typename T> static T f(T x, double) { return std::sqrt(x); } template <typename T> static T df(T, T y, double) { return T(0.5) / y; } };
struct RsqrtOp { template <typename T> static T f(T x, double) { return T(1) / std::sqrt(x); } template <typename T> static T df(T x, T y, double) { return T(-0.5) * y / x; } };
struct AbsOp { template <typename T> static T f(T x, double) { return std::abs(x); } template <typename T> static T df(T x, T, double) { return x > 0 ? T(1) : (x < 0 ? T(-1) : T(0)); } };
struct SquareOp { template <typename T> static T f(T x, double) { return x * x; } template <typename T> static T df(T x, T, double) { return T(2) * x; } };
struct PowOp {
  template <typename T> static T f(T x, double p) { return std::pow(x, static_cast<T>(p)); }
  template <typename T> static T df(T x, T, double p) { return static_cast<T>(p) * std::pow(x, static_cast<T>(p - 1)); }
};
struct TanhOp { template <typename T> static T f(T x, double) { return vtanh(x); } template <typename T> static T df(T, T y, double) { return T(1) - y * y; } };
struct SigmoidOp { template <typename T> static T f(T x, double) { return sigmoid_of(x); } template <typename T> static T df(T, T y, double) { return y * (T(1) - y); } };
// log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), stable for large |x|.
struct LogSigmoidOp {
  template <typename T> static T f(T x, double) { return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x))); }
  template <typename T> static T df(T x, T, double) { return sigmoid_of(-x); }
};
// PyTorch's softplus (beta 1, threshold 20): linear above the threshold.
struct SoftplusOp {
  template <typename T> static T f(T x, double) { return x > T(20) ? x : std::log1p(std::exp(x)); }
  template <typename T> static T df(T x, T, double) { return x > T(20) ? T(1) : sigmoid_of(x); }
};
struct ReluOp { template <typename T> static T f(T x, double) { return x > 0 ? x : T(0); } template <typename T> static T df(T x, T, double) { return x > 0 ? T(1) : T(0); } };
struct SiluOp {
  template <typename T> static T f(T x, double) { return x * sigmoid_of(x); }
  template <typename T> static T df(T x, T, double) { const T s = sigmoid_of(x); return s * (T(1) + x * (T(1) - s)); }
};
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
struct GeluTanhOp {
  template <typename T> static T f(T x, double) {
    return T(0.5) * x * (T(1) + vtanh(T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x)));
  }
  template <typename T> static T df(T x, T, double) {
    const T u = T(kSqrt2OverPi) * (x + T(0.044715) * x * x * x);
    const T t = vtanh(u);
    const T du = T(kSqrt2OverPi) * (T(1) + T(3 * 0.044715) * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
  }
};
// 0.5 x (1 + erf(x / sqrt 2)); derivative Phi(x) + x phi(x).
struct GeluErfOp {
  template <typename T> static T f(T x, double) { return T(0.5) * x * (T(1) + std::erf(x * T(kInvSqrt2))); }
  template <typename T> static T df(T x, T, double) {
    return T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2))) + x * T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  }
};
struct SinOp { template <typename T> static T f(T x, double) { return std::sin(x); } template <typename T> static T df(T x, T, double) { return std::cos(x); } };
struct CosOp { template <typename T> static T f(T x, double) { return std::cos(x); } template <typename T> static T df(T x, T, double) { return -std::sin(x); } };

template <typename Op>
Var unary(OpId op, Var x, double param = 0) {
  Tape& tape = detail::tape_of(x, op_name(op));
  Tensor out = tape.alloc(x.shape(), x.dtype());
  dispatch_float(x.dtype(), op_name(op), [&]<typename T>() {
    const T* px = x.value().template data<T>();
    T* py = out.data<T>();
    parallel_for(out.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) py[i] = Op::f(px[i], param);
    });
  });
  OpAttrs attrs;
  attrs.f[0] = param;
  return tape.record(op, {x}, out, attrs);
}

template <typename Op>
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
      for (int64_t i = i0; i < i1; ++i) pgx[i] += pg[i] * Op::df(px[i], py[i], param);
    });
  });
}

}  // namespace

#define MAD_UNARY(name, Op)                                         \
  Var name(Var x) { return unary<Op>(OpId::name, x); }              \
  void backward_##name(Tape& t, const Node& n) { unary_backward<Op>(t, n); }

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

Var pow(Var x, double p) { return unary<PowOp>(OpId::pow, x, p); }
void backward_pow(Tape& t, const Node& n) { unary_backward<PowOp>(t, n); }

}  // namespace mad
