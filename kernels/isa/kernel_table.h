// The kernels of one instruction set, as a table of function pointers.
//
// Each file of kernels/isa/ is compiled once per instruction set into namespace mad::kernels::<set>
// (kernels/isa/isa_namespace.h); table.cpp, compiled the same way, fills that set's KernelTable. The
// public kernel functions (kernels/sgemm.h, kernels/attention.h, kernels/vector_math.h) call through the
// table of the active set (kernels/isa.h), chosen once per process.
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/isa.h"
#include "kernels/unary_math.h"

namespace mad::kernels {

// C[M, N] (+)= op(A) op(B) (+ bias), the operand conventions of kernels/sgemm.h.
using SgemmFn = void (*)(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                         int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias);
using AttentionForwardFn = void (*)(const AttentionDims& d, float scale, const float* q, const float* k,
                                    const float* v, float* out, float* lse, float* scratch);
using AttentionBackwardFn = void (*)(const AttentionDims& d, float scale, const float* q, const float* k,
                                     const float* v, const float* out, const float* lse, const float* dout,
                                     float* dq, float* dk, float* dv, float* scratch);
// y[0, n) = f(x), and gx[0, n) += g * f'(x, y) (kernels/unary_math.h).
using UnaryForwardFn = void (*)(const float* x, float* y, int64_t n, double param);
using UnaryBackwardFn = void (*)(const float* x, const float* y, const float* g, float* gx, int64_t n, double param);

struct KernelTable {
  Isa isa;
  SgemmFn sgemm;       // float32 products
  SgemmFn sgemm_bf16;  // inputs rounded to bf16, float32 accumulation (kernels/precision.h)
  AttentionForwardFn attention_forward;
  AttentionBackwardFn attention_backward;
  UnaryForwardFn unary_forward[kUnaryFnCount];
  UnaryBackwardFn unary_backward[kUnaryFnCount];
  // The SwiGLU gate (core/ops_fused.cpp): y = silu(a) b; gb += g silu(a); ga += (or =) g b silu'(a).
  void (*swiglu_forward)(const float* a, const float* b, float* y, int64_t n);
  void (*swiglu_grad_b)(const float* a, const float* g, float* gb, int64_t n);
  void (*swiglu_grad_a)(const float* a, const float* b, const float* g, float* ga, int64_t n);
  void (*swiglu_grad_a_over_g)(const float* a, const float* b, float* g, int64_t n);
  // GFLOP/s of `iterations` x 12 independent multiply-adds in this set's widest vectors (kernels/isa/peak.cpp),
  // and of VDPBF16PS (0 where the set lacks it); about 10^7 iterations take a few milliseconds.
  double (*fma_peak_gflops)(int64_t iterations);
  double (*bf16_dot_peak_gflops)(int64_t iterations);
};

// The table of `isa`, which this build must have (supported_isas()).
const KernelTable& kernel_table(Isa isa);
// The table of active_isa().
const KernelTable& active_kernels();

}  // namespace mad::kernels
