// Single-threaded matrix product on strided row-major operands: float32 through our SGEMM for the active
// instruction set (kernels/sgemm.h), in bf16 when the compute mode says so (kernels/precision.h); float64
// (gradient checks) through Eigen's GEMM.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N]
// op(A) = A (stored M x K, row stride lda) or A^T (A stored K x M); likewise for B. Row strides let callers
// pass row or column blocks of larger matrices (core/ops_linalg.cpp splits work across threads that
// way). C must not alias A or B. Eigen keeps its packing buffers on the stack (EIGEN_STACK_ALLOCATION_LIMIT
// is raised in CMakeLists.txt) and sgemm allocates its buffers once per thread, so a call after a thread's
// first performs no heap allocation.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/check.h"
#include "kernels/precision.h"
#include "kernels/sgemm.h"

namespace mad::kernels {

// Eigen's product (float64, and float32 tests that compare with it).
template <typename T>
void gemm_eigen(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
                bool trans_b, T* C, int64_t ldc, bool accumulate) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  using MutMap = Eigen::Map<Mat, 0, Eigen::OuterStride<>>;
  MutMap c(C, M, N, Eigen::OuterStride<>(ldc));
  if (K == 0) {
    if (!accumulate) c.setZero();
    return;
  }
  const ConstMap a(A, trans_a ? K : M, trans_a ? M : K, Eigen::OuterStride<>(lda));
  const ConstMap b(B, trans_b ? N : K, trans_b ? K : N, Eigen::OuterStride<>(ldb));
  if (!accumulate) c.setZero();
  if (!trans_a && !trans_b) c.noalias() += a * b;
  if (!trans_a && trans_b) c.noalias() += a * b.transpose();
  if (trans_a && !trans_b) c.noalias() += a.transpose() * b;
  if (trans_a && trans_b) c.noalias() += a.transpose() * b.transpose();
}

// With `bias` (N values; accumulate false only) every row of C is bias + op(A) op(B) (kernels/sgemm.h).
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
          bool trans_b, T* C, int64_t ldc, bool accumulate, const T* bias = nullptr) {
  if constexpr (std::is_same_v<T, float>) {
    if (matmul_precision() == Precision::bf16)
      sgemm_bf16(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
    else
      sgemm(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
  } else {
    MAD_KERNEL_CHECK(bias == nullptr || !accumulate, "gemm: a bias is added to a product that overwrites C only");
    if (bias != nullptr)
      for (int64_t i = 0; i < M; ++i) std::copy_n(bias, N, C + i * ldc);
    gemm_eigen(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate || bias != nullptr);
  }
}

}  // namespace mad::kernels
