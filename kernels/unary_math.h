// Elementwise unary functions and their derivatives, shared by the unary ops (core/ops_unary.cpp) and
// compiled once per instruction set for float32 (kernels/isa/elementwise.cpp).
//
// Each function is one struct with its forward f(x) and its derivative df(x, y), where y = f(x), side by
// side; `param` is pow's exponent (ignored by the others). Float versions of exp, tanh and sigmoid are the
// branch-free polynomials of kernels/vecmath.h, which vectorise; double versions are the library's.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/isa/isa_namespace.h"
#include "kernels/vecmath.h"

// X(op name, struct): every unary function, in the order of UnaryFn.
#define MAD_UNARY_FNS(X)                                                                                    \
  X(neg, NegOp) X(exp, ExpOp) X(log, LogOp) X(sqrt, SqrtOp) X(rsqrt, RsqrtOp) X(abs, AbsOp)                \
  X(square, SquareOp) X(tanh, TanhOp) X(sigmoid, SigmoidOp) X(log_sigmoid, LogSigmoidOp)                   \
  X(softplus, SoftplusOp) X(relu, ReluOp) X(silu, SiluOp) X(gelu_tanh, GeluTanhOp) X(gelu_erf, GeluErfOp) \
  X(sin, SinOp) X(cos, CosOp) X(pow, PowOp)

namespace mad::kernels {

enum class UnaryFn : int {
#define MAD_UNARY_ENUM(name, Op) name,
  MAD_UNARY_FNS(MAD_UNARY_ENUM)
#undef MAD_UNARY_ENUM
};
#define MAD_UNARY_COUNT(name, Op) +1
inline constexpr int kUnaryFnCount = 0 MAD_UNARY_FNS(MAD_UNARY_COUNT);
#undef MAD_UNARY_COUNT

inline namespace MAD_ISA_NS {
namespace unary {

inline constexpr double kSqrt2OverPi = 0.7978845608028654;
inline constexpr double kInvSqrt2 = 0.7071067811865476;
inline constexpr double kInvSqrt2Pi = 0.3989422804014327;

template <typename T> inline T sigmoid_of(T x) { return vsigmoid(x); }

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
  template <typename T> static T f(T x, double) { return (x < T(0) ? x : T(0)) - std::log1p(std::exp(-std::abs(x))); }
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

// y[0, n) = f(x[0, n)).
template <class Op, typename T>
void forward(const T* x, T* y, int64_t n, double param) {
  for (int64_t i = 0; i < n; ++i) y[i] = Op::f(x[i], param);
}

// gx[0, n) += g * f'(x, y).
template <class Op, typename T>
void backward(const T* x, const T* y, const T* g, T* gx, int64_t n,
              double param) {
  for (int64_t i = 0; i < n; ++i) gx[i] += g[i] * Op::df(x[i], y[i], param);
}

}  // namespace unary
}  // namespace MAD_ISA_NS
}  // namespace mad::kernels
