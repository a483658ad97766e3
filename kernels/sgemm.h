// Packed, cache-blocked single-precision matrix product for AVX2 + FMA (the BLIS algorithm).
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N]
// with the operand conventions of kernels::gemm (kernels/gemm.h): op(A) = A (stored M x K, row stride
// lda) or A^T (A stored K x M); likewise for B; C row stride ldc; C must not alias A or B.
//
// Blocking (BLIS, Van Zee & van de Geijn 2015): for each block of kSgemmNc columns and kSgemmKc depth,
// op(B) is packed into kSgemmNr-wide column panels (contiguous [Kc, Nr] slices); for each block of
// kSgemmMc rows, op(A) is packed into kSgemmMr-tall row panels ([Kc, Mr] slices). A 6 x 16 register
// micro-kernel (12 ymm accumulators, 2 loads of B and 6 broadcasts of A per k) then multiplies a panel of
// A by a panel of B. Packing zero-pads the edge panels, so the micro-kernel always runs the full 6 x 16
// tile; edge tiles are written through a small buffer. Transposes only change how packing reads the
// operands. Sizes: a B micro-panel (Kc x Nr = 16 KiB) stays in L1, the packed A block (Mc x Kc = 144 KiB)
// in L2, the packed B block (Kc x Nc <= 1 MiB) in L3.
//
// Each element of C sums its K products in the same order whatever M, N or the caller's split into blocks
// (Kc blocks in increasing k, FMA within a block), so splitting C across threads gives bit-identical
// results for a fixed thread count (docs/architecture.md, determinism).
//
// Memory: the packing buffers are allocated once per thread, at its first call, and reused; later calls
// perform no heap allocation (the no-allocation training step relies on it).
#pragma once

#include <cstdint>

namespace mad::kernels {

// Register tile and cache blocks (see above; measured on this project's AMD EPYC, bench/bench_gemm.cpp).
inline constexpr int64_t kSgemmMr = 6;
inline constexpr int64_t kSgemmNr = 16;
inline constexpr int64_t kSgemmKc = 256;
inline constexpr int64_t kSgemmMc = 144;  // a multiple of kSgemmMr
inline constexpr int64_t kSgemmNc = 1024;  // a multiple of kSgemmNr

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B, int64_t ldb,
           bool trans_b, float* C, int64_t ldc, bool accumulate);

}  // namespace mad::kernels
