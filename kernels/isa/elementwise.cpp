// Float32 elementwise kernels (kernels/unary_math.h and the SwiGLU gate), compiled once per instruction
// set so that the compiler vectorises them for its vector width (kernels/isa/isa_namespace.h).
#include <cstdint>

#include "kernels/isa/isa_exports.h"
#include "kernels/unary_math.h"
#include "kernels/vecmath.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

// d(silu(a) b)/da for one element.
inline float gate_da(float g, float a, float b) {
  const float s = vsigmoid(a);
  return g * b * (s * (1.0f + a * (1.0f - s)));
}

}  // namespace

#define MAD_UNARY_ENTRY(name, Op)                                                                         \
  void unary_forward_##name(const float* x, float* y, int64_t n, double p) { unary::forward<unary::Op>(x, y, n, p); } \
  void unary_backward_##name(const float* x, const float* y, const float* g, float* gx, int64_t n, double p) { \
    unary::backward<unary::Op>(x, y, g, gx, n, p);                                                        \
  }
MAD_UNARY_FNS(MAD_UNARY_ENTRY)
#undef MAD_UNARY_ENTRY

void fill_unary_tables(UnaryForwardFn* forward, UnaryBackwardFn* backward) {
#define MAD_UNARY_FILL(name, Op)                                  \
  forward[static_cast<int>(UnaryFn::name)] = unary_forward_##name; \
  backward[static_cast<int>(UnaryFn::name)] = unary_backward_##name;
  MAD_UNARY_FNS(MAD_UNARY_FILL)
#undef MAD_UNARY_FILL
}

// Branch-free loops on restrict pointers, so that they vectorise; a, b, g are never written here.
void swiglu_forward(const float* __restrict a, const float* __restrict b, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * vsigmoid(a[i]) * b[i];
}

void swiglu_grad_b(const float* __restrict a, const float* __restrict g, float* __restrict gb, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gb[i] += g[i] * (a[i] * vsigmoid(a[i]));
}

void swiglu_grad_a(const float* __restrict a, const float* __restrict b, const float* __restrict g,
                   float* __restrict ga, int64_t n) {
  for (int64_t i = 0; i < n; ++i) ga[i] += gate_da(g[i], a[i], b[i]);
}

// The same, written over g: for the gradient of a that takes over the result's gradient buffer.
void swiglu_grad_a_over_g(const float* __restrict a, const float* __restrict b, float* __restrict g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = gate_da(g[i], a[i], b[i]);
}

}  // namespace mad::kernels::MAD_ISA_NS
