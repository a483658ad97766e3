// Single-precision matrix product: a packed, cache-blocked SGEMM (the BLIS algorithm) with one
// micro-kernel per instruction set, chosen at run time (kernels/isa.h; the kernels are in
// kernels/isa/sgemm.cpp).
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N]
// with the operand conventions of kernels::gemm (kernels/gemm.h): op(A) = A (stored M x K, row stride
// lda) or A^T (A stored K x M); likewise for B; C row stride ldc; C must not alias A or B.
//
// Each element of C sums its K products in an order that depends only on K and the instruction set, not
// on M, N or the caller's split of C into blocks, so splitting C across threads gives bit-identical
// results for a fixed thread count (docs/architecture.md, determinism).
//
// Memory: the packing buffers are allocated once per thread, at its first call, and reused; later calls
// perform no heap allocation (the no-allocation training step relies on it).
#pragma once

#include <cstdint>

namespace mad::kernels {

// The cache blocks of the largest kernel (tests use them to cross every block edge): at most 144 rows
// (MC), 512 depth (KC) and 1024 columns (NC) per block.
inline constexpr int64_t kSgemmMc = 144;
inline constexpr int64_t kSgemmKc = 512;
inline constexpr int64_t kSgemmNc = 1024;

// float32 products on the active instruction set. With `bias` (N values, accumulate false only) each row
// of C is bias + op(A) op(B), added as the product is stored: the same bits as filling C with the bias
// and accumulating into it, without the extra pass over C.
void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B, int64_t ldb,
           bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias = nullptr);

// The same with both operands rounded to bf16 (round to nearest even) and float32 accumulation
// (kernels/precision.h): VDPBF16PS on avx512bf16, the float32 kernel on rounded operands elsewhere.
void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias = nullptr);

}  // namespace mad::kernels
