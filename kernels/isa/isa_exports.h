// What the files of kernels/isa/ export in each instruction set's namespace (table.cpp collects them).
#pragma once

#include <cstdint>

#include "kernels/isa/kernel_table.h"

namespace mad::kernels::MAD_ISA_NS {

const KernelTable& isa_kernel_table();

// kernels/isa/sgemm.cpp
void sgemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
               int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias);
void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias);

// kernels/isa/elementwise.cpp

void fill_unary_tables(UnaryForwardFn* forward, UnaryBackwardFn* backward);
void swiglu_forward(const float* a, const float* b, float* y, int64_t n);
void swiglu_grad_b(const float* a, const float* g, float* gb, int64_t n);
void swiglu_grad_a(const float* a, const float* b, const float* g, float* ga, int64_t n);
void swiglu_grad_a_over_g(const float* a, const float* b, float* g, int64_t n);

// kernels/isa/attention.cpp
void attention_forward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                           float* out, float* lse, float* scratch);
void attention_backward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                            const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                            float* scratch);

// kernels/isa/peak.cpp
double fma_peak_gflops(int64_t iterations);
double bf16_dot_peak_gflops(int64_t iterations);

}  // namespace mad::kernels::MAD_ISA_NS
