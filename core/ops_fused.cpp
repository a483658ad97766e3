// Fused elementwise ops: one pass over memory where the composite of primitive ops makes several.
//
// swiglu_gate(a, b) = silu(a) * b, the gate of the SwiGLU layer (models/layers/mlp.cpp). The composite
// silu(a) * b writes silu(a) and the product, then in backward reads them back through two ops (the mul
// backward at full shape, the silu backward); this op reads a and b once forward and once backward:
//   y = a s(a) b,  s = sigmoid
//   da += g b (s + a s (1 - s)),  db += g a s
// Results equal the composite's up to rounding (tests/gradcheck/test_fused.cpp checks both and the
// float64 gradient).
#include "core/ops_common.h"
#include "kernels/isa/kernel_table.h"
#include "kernels/vecmath.h"

namespace mad {

Var swiglu_gate(Var a, Var b) {
  Tape& tape = detail::tape_of(a, "swiglu_gate");
  detail::tape_of(b, "swiglu_gate");
  detail::check_same_dtype(a, b, "swiglu_gate");
  MAD_CHECK(a.shape() == b.shape(), "swiglu_gate: a and b must have the same shape, got {} and {}", a.shape().str(),
            b.shape().str());
  Tensor out = tape.alloc(a.shape(), a.dtype());
  dispatch_float(a.dtype(), "swiglu_gate", [&]<typename T>() {
    const T* pa = a.value().template data<T>();
    const T* pb = b.value().template data<T>();
    T* py = out.data<T>();
    parallel_for(out.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
      if constexpr (std::is_same_v<T, float>)
        kernels::active_kernels().swiglu_forward(pa + i0, pb + i0, py + i0, i1 - i0);
      else
        for (int64_t i = i0; i < i1; ++i) py[i] = pa[i] * kernels::vsigmoid(pa[i]) * pb[i];
    });
  });
  return tape.record(OpId::swiglu_gate, {a, b}, out);
}

namespace {

// float64's loops (float32 runs the same loops compiled per instruction set, kernels/isa/elementwise.cpp):
// one branch-free loop per gradient over elements [i0, i1), on restrict pointers, so that both vectorise.
// d(silu(a) b)/da for one element.
template <typename T>
inline T gate_da(T g, T a, T b) {
  const T s = kernels::vsigmoid(a);
  return g * b * (s * (T(1) + a * (T(1) - s)));
}

template <typename T>
void gate_grad_a(const T* __restrict a, const T* __restrict b, const T* __restrict g, T* __restrict ga, int64_t i0,
                 int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) ga[i] += gate_da(g[i], a[i], b[i]);
}

// The same, written over g: for the gradient of a that takes over the result's gradient buffer.
template <typename T>
void gate_grad_a_over_g(const T* __restrict a, const T* __restrict b, T* __restrict g, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) g[i] = gate_da(g[i], a[i], b[i]);
}

template <typename T>
void gate_grad_b(const T* __restrict a, const T* __restrict g, T* __restrict gb, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) gb[i] += g[i] * (a[i] * kernels::vsigmoid(a[i]));
}

}  // namespace

// db first, as it reads g; then da, which goes straight into g's buffer when nothing has flowed into a
// yet (the buffer then becomes a's gradient: no new [.., inner] tensor in the step's peak).
void backward_swiglu_gate(Tape& tape, const Node& n) {
  const int32_t ia = tape.input(n, 0), ib = tape.input(n, 1);
  const Tensor& a = tape.value(ia);
  const Tensor& b = tape.value(ib);
  const Tensor& g = tape.grad(n.output);
  dispatch_float(g.dtype(), "swiglu_gate", [&]<typename T>() {
    const T *pa = a.data<T>(), *pb = b.data<T>();
    T* pg = g.data<T>();
    if (tape.needs_grad(ib)) {
      T* gb = tape.grad_acc(ib).template data<T>();
      parallel_for(g.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
        if constexpr (std::is_same_v<T, float>)
          kernels::active_kernels().swiglu_grad_b(pa + i0, pg + i0, gb + i0, i1 - i0);
        else
          gate_grad_b<T>(pa, pg, gb, i0, i1);
      });
    }
    if (!tape.needs_grad(ia)) return;
    if (tape.grad(ia).defined()) {
      T* ga = tape.grad(ia).template data<T>();
      parallel_for(g.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
        if constexpr (std::is_same_v<T, float>)
          kernels::active_kernels().swiglu_grad_a(pa + i0, pb + i0, pg + i0, ga + i0, i1 - i0);
        else
          gate_grad_a<T>(pa, pb, pg, ga, i0, i1);
      });
    } else {
      parallel_for(g.numel(), detail::kParallelGrain, [&](int64_t i0, int64_t i1) {
        if constexpr (std::is_same_v<T, float>)
          kernels::active_kernels().swiglu_grad_a_over_g(pa + i0, pb + i0, pg + i0, i1 - i0);
        else
          gate_grad_a_over_g<T>(pa, pb, pg, i0, i1);
      });
      tape.add_grad(ia, g, /*may_adopt=*/true);
    }
  });
}

}  // namespace mad
