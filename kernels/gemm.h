// Single-threaded matrix product on strided row-major operands: float32 through our packed AVX2/FMA
// SGEMM (kernels/sgemm.h, about 2x Eigen's speed on the MAD shapes), float64 (gradient checks) through
// Eigen's GEMM.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N]
// op(A) = A (stored M x K, row stride lda) or A^T (A stored K x M); likewise for B. Row strides let callers
// pass row or column blocks of larger matrices (core/ops_linalg.cpp splits work across threads that
// way). C must not alias A or B. Eigen keeps its packing buffers on the stack (EIGEN_STACK_ALLOCATION_LIMIT
// is raised in CMakeLists.txt) and sgemm allocates its buffers once per thread, so a call after a thread's
// first performs no heap allocation.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <type_traits>

#include "kernels/sgemm.h"

namespace mad::kernels {

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, bool trans_a, const T* B, int64_t ldb,
          bool trans_b, T* C, int64_t ldc, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    // Products narrower than sgemm's 16-column register tile (the attention kernel's tiles against a head
    // of Dh = 8 columns) would waste half of every tile; Eigen's narrower kernels do them faster.
    if (N >= kSgemmNr) {
      sgemm(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
      return;
    }
  }
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

}  // namespace mad::kernels
